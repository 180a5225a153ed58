"""Convolution on the CPU with Numba: im2col, one BLAS product per pass, col2im (lecture 3).

The arithmetic of a convolution is a matrix product once every input window is laid out as a
column (im2col):

    cols (C*KH*KW, N*Ho*Wo)   column n*Ho*Wo + i*Wo + j holds the window of output pixel (n, i, j)
    forward          out  = W (F, C*KH*KW) @ cols                          -> (F, N*Ho*Wo)
    weight gradient  dW   = dout (F, N*Ho*Wo) @ cols.T
    data gradient    dcols = W.T @ dout, then col2im sums each pixel's entries back

Packing the columns of the whole batch in a parallel Numba kernel and doing ONE product per
pass keeps the time in numpy's BLAS, where it belongs (PERF_NOTES.md). Splitting the batch into
cache-sized chunks was up to 25% faster on one quiet thread but much slower on a busy machine
(every chunk is another parallel region that waits for its slowest thread), so it is not done.

col2im runs one (n, c) plane per parallel iteration, and each plane gathers only its own
entries, so no two threads ever write the same element. The reshuffles between (F, N*Ho*Wo)
and (N, F, Ho, Wo) are plain numpy copies.

Same names and signatures as ``course.kernels.reference.conv``.
"""

import numpy as np
from numba import njit, prange

from course.kernels.shapes import conv_output_size


@njit(inline="always")
def _inside_columns(kj, sw, pw, w, wo):
    """Range [j_lo, j_hi) of output columns j whose input column j*sw - pw + kj is in [0, w)."""
    j_lo = min(wo, max(0, (pw - kj + sw - 1) // sw))
    j_hi = max(j_lo, min(wo, (w - 1 + pw - kj) // sw + 1))
    return j_lo, j_hi


@njit(parallel=True, cache=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, ho, wo, cols):
    """cols[(c*KH + ki)*KW + kj, n*Ho*Wo + i*Wo + j] = x_padded[n, c, i*sh + ki, j*sw + kj]."""
    n, c, h, w = x.shape
    plane = ho * wo
    for row in prange(c * kh * kw):
        ci = row // (kh * kw)
        ki = (row // kw) % kh
        kj = row % kw
        j_lo, j_hi = _inside_columns(kj, sw, pw, w, wo)
        for b in range(n):
            for i in range(ho):
                start = b * plane + i * wo
                hi = i * sh - ph + ki
                if hi < 0 or hi >= h:
                    for j in range(wo):
                        cols[row, start + j] = 0
                    continue
                for j in range(j_lo):
                    cols[row, start + j] = 0
                for j in range(j_lo, j_hi):
                    cols[row, start + j] = x[b, ci, hi, j * sw - pw + kj]
                for j in range(j_hi, wo):
                    cols[row, start + j] = 0


@njit(parallel=True, cache=True)
def _col2im(dcols, kh, kw, sh, sw, ph, pw, ho, wo, dx):
    """dx[n, c] = sum of the dcols entries that im2col copied from each pixel of plane (n, c).

    One parallel iteration per (n, c) plane; it adds only into its own plane, walking the
    kernel offsets like im2col does, so no two threads ever write the same element.
    """
    n, c, h, w = dx.shape
    plane = ho * wo
    for nc in prange(n * c):
        b = nc // c
        ci = nc % c
        dx[b, ci] = 0
        for ki in range(kh):
            for kj in range(kw):
                row = (ci * kh + ki) * kw + kj
                j_lo, j_hi = _inside_columns(kj, sw, pw, w, wo)
                for i in range(ho):
                    y = i * sh - ph + ki
                    if y < 0 or y >= h:
                        continue
                    start = b * plane + i * wo
                    for j in range(j_lo, j_hi):
                        dx[b, ci, y, j * sw - pw + kj] += dcols[row, start + j]


def _columns(x, kernel_size, stride, padding, output_size):
    """im2col of x: (C*KH*KW, N*Ho*Wo)."""
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel_size, stride, padding, output_size
    cols = np.empty((x.shape[1] * kh * kw, x.shape[0] * ho * wo), dtype=x.dtype)
    _im2col(x, kh, kw, sh, sw, ph, pw, ho, wo, cols)
    return cols


def _dout_columns(dout):
    """dout (N, F, Ho, Wo) as the matrix (F, N*Ho*Wo)."""
    return np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(dout.shape[1], -1)


def conv2d_forward(x, w, b, stride, padding):
    """out (N, F, Ho, Wo) = W @ im2col(x) + b."""
    x, w, b = np.ascontiguousarray(x), np.ascontiguousarray(w), np.ascontiguousarray(b)
    n, _, h, width = x.shape
    f, _, kh, kw = w.shape
    ho = conv_output_size(h, kh, stride[0], padding[0])
    wo = conv_output_size(width, kw, stride[1], padding[1])
    out_cols = w.reshape(f, -1) @ _columns(x, (kh, kw), stride, padding, (ho, wo))
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    np.add(out_cols.reshape(f, n, ho, wo).transpose(1, 0, 2, 3), b.reshape(1, f, 1, 1), out=out)
    return out


def conv2d_backward_data(dout, w, input_size, stride, padding):
    """dx (N, C, H, W) = col2im(W.T @ dout)."""
    dout, w = np.ascontiguousarray(dout), np.ascontiguousarray(w)
    n, _, ho, wo = dout.shape
    f, c, kh, kw = w.shape
    dcols = w.reshape(f, -1).T @ _dout_columns(dout)
    dx = np.empty((n, c) + tuple(input_size), dtype=dout.dtype)
    _col2im(dcols, kh, kw, stride[0], stride[1], padding[0], padding[1], ho, wo, dx)
    return dx


def conv2d_backward_weight(dout, x, kernel_size, stride, padding):
    """dw (F, C, KH, KW) = dout @ im2col(x).T."""
    x = np.ascontiguousarray(x)
    f, ho, wo = dout.shape[1:]
    dw = _dout_columns(dout) @ _columns(x, kernel_size, stride, padding, (ho, wo)).T
    return dw.reshape((f, x.shape[1]) + tuple(kernel_size))
