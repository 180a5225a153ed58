"""Convolution on the CPU with Numba: im2col, one BLAS product per pass, col2im (lecture 3).

The arithmetic of a convolution is a matrix product once every input window is laid out as a
column (im2col):

    cols (C*KH*KW, N*Ho*Wo)   column n*Ho*Wo + i*Wo + j holds the window of output pixel (n, i, j)
    forward          out  = W (F, C*KH*KW) @ cols                          -> (F, N*Ho*Wo)
    weight gradient  dW   = dout (F, N*Ho*Wo) @ cols.T
    data gradient    dcols = W.T @ dout, then col2im sums each pixel's entries back

Packing the columns in a parallel Numba kernel and doing ONE large product per pass is what
brings this close to PyTorch's speed (PERF_NOTES.md); the products run in numpy's BLAS. col2im
runs one (n, c) plane per parallel iteration, and each plane gathers only its own entries, so
no two threads ever write the same element.

Same names and signatures as ``course.kernels.reference.conv``.
"""

import numpy as np
from numba import njit, prange

from course.kernels.shapes import conv_output_size

# The batch is processed in chunks of about this many im2col values (1 MiB of float32), so the
# columns stay in the L2 cache between packing and product: 10-25% faster than one product over
# the whole batch on the project's machine (benchmarks/bench_conv.py).
CHUNK_ELEMENTS = 1 << 18


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


@njit(parallel=True, cache=True)
def _columns_to_images(out_cols, bias, out):
    """out[n, f, p] = out_cols[f, n*P + p] + bias[f]: (F, N*P) -> (N, F, P)."""
    n, f, plane = out.shape
    for nf in prange(n * f):
        b = nf // f
        fi = nf % f
        for p in range(plane):
            out[b, fi, p] = out_cols[fi, b * plane + p] + bias[fi]


@njit(parallel=True, cache=True)
def _images_to_columns(images, out_cols):
    """out_cols[f, n*P + p] = images[n, f, p]: (N, F, P) -> (F, N*P)."""
    n, f, plane = images.shape
    for nf in prange(n * f):
        b = nf // f
        fi = nf % f
        for p in range(plane):
            out_cols[fi, b * plane + p] = images[b, fi, p]


def _chunks(n, per_sample):
    """Slices of the batch whose im2col columns hold about CHUNK_ELEMENTS values each."""
    step = max(1, CHUNK_ELEMENTS // max(1, per_sample))
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


def _columns(x, kernel_size, stride, padding, output_size):
    """im2col of x: (C*KH*KW, N*Ho*Wo)."""
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel_size, stride, padding, output_size
    cols = np.empty((x.shape[1] * kh * kw, x.shape[0] * ho * wo), dtype=x.dtype)
    _im2col(x, kh, kw, sh, sw, ph, pw, ho, wo, cols)
    return cols


def _dout_columns(dout):
    """dout (N, F, Ho, Wo) as the matrix (F, N*Ho*Wo)."""
    n, f, ho, wo = dout.shape
    out_cols = np.empty((f, n * ho * wo), dtype=dout.dtype)
    _images_to_columns(dout.reshape(n, f, ho * wo), out_cols)
    return out_cols


def conv2d_forward(x, w, b, stride, padding):
    """out (N, F, Ho, Wo) = W @ im2col(x) + b."""
    x, w, b = np.ascontiguousarray(x), np.ascontiguousarray(w), np.ascontiguousarray(b)
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    ho = conv_output_size(h, kh, stride[0], padding[0])
    wo = conv_output_size(width, kw, stride[1], padding[1])
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    for part in _chunks(n, c * kh * kw * ho * wo):
        cols = _columns(x[part], (kh, kw), stride, padding, (ho, wo))
        out_part = out[part]
        _columns_to_images(w.reshape(f, -1) @ cols, b,
                           out_part.reshape(out_part.shape[0], f, ho * wo))
    return out


def conv2d_backward_data(dout, w, input_size, stride, padding):
    """dx (N, C, H, W) = col2im(W.T @ dout)."""
    dout, w = np.ascontiguousarray(dout), np.ascontiguousarray(w)
    n, _, ho, wo = dout.shape
    f, c, kh, kw = w.shape
    dx = np.empty((n, c) + tuple(input_size), dtype=dout.dtype)
    for part in _chunks(n, c * kh * kw * ho * wo):
        dcols = w.reshape(f, -1).T @ _dout_columns(dout[part])
        _col2im(dcols, kh, kw, stride[0], stride[1], padding[0], padding[1], ho, wo, dx[part])
    return dx


def conv2d_backward_weight(dout, x, kernel_size, stride, padding):
    """dw (F, C, KH, KW) = dout @ im2col(x).T."""
    dout, x = np.ascontiguousarray(dout), np.ascontiguousarray(x)
    n, f, ho, wo = dout.shape
    c = x.shape[1]
    (kh, kw) = kernel_size
    dw = np.zeros((f, c * kh * kw), dtype=x.dtype)
    for part in _chunks(n, c * kh * kw * ho * wo):
        dw += _dout_columns(dout[part]) @ _columns(x[part], kernel_size, stride, padding,
                                                   (ho, wo)).T
    return dw.reshape(f, c, kh, kw)
