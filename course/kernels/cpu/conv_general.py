"""Dilated and grouped convolution on the CPU: im2col and col2im with Numba, the products with
BLAS (lecture 3). Same names and signatures as ``course.kernels.reference.conv_general``.

The plan of ``course/kernels/cpu/conv.py``, one group of channels at a time: group ``g``'s
input channels ``g * Cg`` to ``(g + 1) * Cg`` are laid out as columns (im2col reads the tap
(ki, kj) at ``(i * SH - PH + ki * DH, j * SW - PW + kj * DW)``), and its ``Fg`` filters
multiply them. The op sends plain convolutions (dilation 1, one group) to ``conv.py``'s tuned
kernels; these serve the rest, serially, a chunk of samples at a time.

Every index stays in range whatever the shapes: each wrapper allocates the buffers its kernels
write from the shapes of its arguments, checks that the groups fit the channels, and
``_inside_columns`` keeps the columns read inside the input row.
"""

import numpy as np
from numba import njit

from course.kernels.shapes import conv_output_size

CHUNK_BYTES = 16 << 20  # column buffer of one chunk of samples


@njit(inline="always")
def _inside_columns(kj, sw, pw, w, wo):
    """Range [j_lo, j_hi) of output columns j whose input column j*sw - pw + kj is in [0, w)
    (kj: the tap's offset, kj * dw here)."""
    j_lo = min(wo, max(0, (pw - kj + sw - 1) // sw))
    j_hi = max(j_lo, min(wo, (w - 1 + pw - kj) // sw + 1))
    return j_lo, j_hi


@njit(nogil=True, cache=True)
def _im2col(x, c0, cg, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, cols):
    """cols[(c*KH + ki)*KW + kj, (s*Ho + i)*Wo + j] = x_padded[s, c0 + c, i*sh + ki*dh,
    j*sw + kj*dw] for the cg channels from c0.

    x (m, C, H, W) with c0 + cg <= C and cols (cg*KH*KW, m*Ho*Wo), both C-contiguous.
    """
    m, c, h, w = x.shape
    x_flat, cols_flat = x.reshape(-1), cols.reshape(-1)
    for ch in range(cg):
        for ki in range(kh):
            for kj in range(kw):
                row = (ch * kh + ki) * kw + kj
                j_lo, j_hi = _inside_columns(kj * dw, sw, pw, w, wo)
                for s in range(m):
                    for i in range(ho):
                        dst = ((row * m + s) * ho + i) * wo
                        y = i * sh - ph + ki * dh
                        if y < 0 or y >= h:  # the whole output row reads padding
                            for j in range(wo):
                                cols_flat[np.uint64(dst + j)] = 0
                            continue
                        src = ((s * c + c0 + ch) * h + y) * w - pw + kj * dw  # j = 0, maybe < 0
                        for j in range(j_lo):
                            cols_flat[np.uint64(dst + j)] = 0
                        for j in range(j_lo, j_hi):
                            cols_flat[np.uint64(dst + j)] = x_flat[np.uint64(src + j * sw)]
                        for j in range(j_hi, wo):
                            cols_flat[np.uint64(dst + j)] = 0


@njit(nogil=True, cache=True)
def _col2im(dcols, c0, cg, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, dx):
    """dx[s, c0 + c] += the dcols entries that im2col copied from each pixel of that plane.

    dcols (cg*KH*KW, m*Ho*Wo) and dx (m, C, H, W) with c0 + cg <= C, both C-contiguous.
    """
    m, c, h, w = dx.shape
    dcols_flat, dx_flat = dcols.reshape(-1), dx.reshape(-1)
    for ch in range(cg):
        for ki in range(kh):
            for kj in range(kw):
                row = (ch * kh + ki) * kw + kj
                j_lo, j_hi = _inside_columns(kj * dw, sw, pw, w, wo)
                for s in range(m):
                    for i in range(ho):
                        y = i * sh - ph + ki * dh
                        if y < 0 or y >= h:
                            continue
                        src = ((row * m + s) * ho + i) * wo
                        dst = ((s * c + c0 + ch) * h + y) * w - pw + kj * dw
                        for j in range(j_lo, j_hi):
                            dx_flat[np.uint64(dst + j * sw)] += dcols_flat[np.uint64(src + j)]


def _plan(n_channels, w_shape, groups, dilation):
    """(Cg, Fg, KH, KW, span_h, span_w) after checking that the groups fit the channels."""
    f, cg, kh, kw = w_shape
    if groups < 1 or n_channels != groups * cg or f % groups:
        raise ValueError(f"{groups} groups do not fit {n_channels} input channels and "
                         f"weights of shape {tuple(w_shape)}")
    return cg, f // groups, kh, kw, (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1


def _chunks(n, rows, plane, dtype):
    """(first, last + 1) of each chunk of samples whose columns fill about CHUNK_BYTES."""
    size = max(1, CHUNK_BYTES // max(1, rows * plane * np.dtype(dtype).itemsize))
    return [(s, min(n, s + size)) for s in range(0, n, size)]


def _columns(x, c0, cg, kernel_size, stride, padding, dilation, output_size):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = (kernel_size, stride, padding, dilation,
                                                        output_size)
    cols = np.empty((cg * kh * kw, x.shape[0] * ho * wo), dtype=x.dtype)
    _im2col(x, c0, cg, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, cols)
    return cols


def _pixels_last(dout):
    """dout (m, F, Ho, Wo) as (F, m*Ho*Wo), laid out like the columns."""
    m, f, ho, wo = dout.shape
    return np.ascontiguousarray(dout.reshape(m, f, ho * wo).transpose(1, 0, 2)).reshape(f, -1)


def conv2d_general_forward(x, w, b, stride, padding, dilation, groups):
    """out (N, F, Ho, Wo): for each group, W_g @ im2col(x's channels of g), plus b
    (lecture 3)."""
    x, w = np.ascontiguousarray(x), np.ascontiguousarray(w)
    n, c, h, width = x.shape
    cg, fg, kh, kw, span_h, span_w = _plan(c, w.shape, groups, dilation)
    ho = conv_output_size(h, span_h, stride[0], padding[0])
    wo = conv_output_size(width, span_w, stride[1], padding[1])
    out = np.empty((n, groups * fg, ho * wo), dtype=x.dtype)
    for s, e in _chunks(n, cg * kh * kw, ho * wo, x.dtype):
        for g in range(groups):
            cols = _columns(x[s:e], g * cg, cg, (kh, kw), stride, padding, dilation, (ho, wo))
            product = w[g * fg:(g + 1) * fg].reshape(fg, -1) @ cols  # (Fg, m*Ho*Wo)
            out[s:e, g * fg:(g + 1) * fg] = product.reshape(fg, e - s, ho * wo).transpose(1, 0, 2)
    out += np.asarray(b, dtype=x.dtype).reshape(1, -1, 1)
    return out.reshape(n, groups * fg, ho, wo)


def conv2d_general_backward_data(dout, w, input_size, stride, padding, dilation, groups):
    """dx (N, G * Cg, H, W) = col2im(W_g.T @ dout_g), group by group (lecture 3)."""
    dout, w = np.ascontiguousarray(dout), np.ascontiguousarray(w)
    n, f, ho, wo = dout.shape
    cg, fg, kh, kw, _, _ = _plan(groups * w.shape[1], w.shape, groups, dilation)
    if f != w.shape[0]:
        raise ValueError(f"dout has {f} channels but w has {w.shape[0]} filters")
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    dx = np.zeros((n, groups * cg) + tuple(input_size), dtype=dout.dtype)
    for s, e in _chunks(n, cg * kh * kw, ho * wo, dout.dtype):
        for g in range(groups):
            grads = _pixels_last(dout[s:e, g * fg:(g + 1) * fg])
            dcols = np.ascontiguousarray(w[g * fg:(g + 1) * fg].reshape(fg, -1).T @ grads)
            _col2im(dcols, g * cg, cg, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, dx[s:e])
    return dx


def conv2d_general_backward_weight(dout, x, kernel_size, stride, padding, dilation, groups):
    """dW (F, Cg, KH, KW): for each group, dout_g @ im2col(x's channels of g).T, summed over
    the chunks (lecture 3)."""
    dout, x = np.ascontiguousarray(dout), np.ascontiguousarray(x)
    n, f, ho, wo = dout.shape
    kh, kw = kernel_size
    cg, fg, _, _, _, _ = _plan(x.shape[1], (f, x.shape[1] // max(groups, 1), kh, kw), groups,
                               dilation)
    dw = np.zeros((f, cg * kh * kw), dtype=x.dtype)
    for s, e in _chunks(n, cg * kh * kw, ho * wo, x.dtype):
        for g in range(groups):
            cols = _columns(x[s:e], g * cg, cg, kernel_size, stride, padding, dilation, (ho, wo))
            dw[g * fg:(g + 1) * fg] += _pixels_last(dout[s:e, g * fg:(g + 1) * fg]) @ cols.T
    return dw.reshape(f, cg, kh, kw)
