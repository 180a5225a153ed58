"""Convolution on the CPU with Numba: im2col, BLAS products, col2im (lecture 3).

The arithmetic of a convolution is a matrix product once every input window is laid out as a
column (im2col). Per sample n:

    cols[n] (C*KH*KW, Ho*Wo)   column i*Wo + j holds the window of output pixel (i, j)
    forward          out[n]   = W (F, C*KH*KW) @ cols[n]        -> (F, Ho*Wo), already NCHW
    data gradient    dcols[n] = W.T @ dout[n], then col2im sums each pixel's entries back
    weight gradient  dW.T     = sum over n of cols[n] @ dout[n].T  (C*KH*KW, F)

The columns are C*KH*KW times larger than the input (19 MB for 64 images of 32x16x16 and a
3x3 kernel), so the batch is processed in chunks of samples whose columns take about
CHUNK_BYTES, packed by a parallel Numba kernel into one reused buffer and multiplied (numpy's
matmul, one BLAS product per sample) while they are still in cache. Measured (one thread,
fwd+bwd): 15% faster than one product over the whole batch on that layer, even on the others.
Laying the columns out per sample makes the forward product land directly in the
(N, F, Ho, Wo) output and the data gradient come straight from dout, with no transposes.

col2im runs one (n, c) plane per parallel iteration, and each plane gathers only its own
entries, so no two threads ever write the same element.

Same names and signatures as ``course.kernels.reference.conv``.
"""

import numpy as np
from numba import njit, prange

from course.kernels.shapes import conv_output_size

CHUNK_BYTES = 4 << 20  # columns of one chunk of samples (1 to 4 MiB measured best)


@njit(inline="always")
def _inside_columns(kj, sw, pw, w, wo):
    """Range [j_lo, j_hi) of output columns j whose input column j*sw - pw + kj is in [0, w)."""
    j_lo = min(wo, max(0, (pw - kj + sw - 1) // sw))
    j_hi = max(j_lo, min(wo, (w - 1 + pw - kj) // sw + 1))
    return j_lo, j_hi


@njit(parallel=True, cache=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, ho, wo, cols):
    """cols[n, (c*KH + ki)*KW + kj, i*Wo + j] = x_padded[n, c, i*sh + ki, j*sw + kj].

    x (N, C, H, W), cols (N, C*KH*KW, Ho*Wo), both C-contiguous. One parallel iteration per
    (n, c) plane. Both arrays are walked as flat vectors with unsigned indices: for a signed
    index Numba adds a check "if negative, count from the end" on every access, which made
    this loop 2.5x to 4x slower. _inside_columns keeps every index in range.
    """
    n, c, h, w = x.shape
    x_flat, cols_flat = x.reshape(-1), cols.reshape(-1)
    for nc in prange(n * c):
        for ki in range(kh):
            for kj in range(kw):
                row = (nc * kh + ki) * kw + kj  # row of cols, counted over the whole batch
                j_lo, j_hi = _inside_columns(kj, sw, pw, w, wo)
                for i in range(ho):
                    dst = (row * ho + i) * wo
                    y = i * sh - ph + ki
                    if y < 0 or y >= h:  # the whole output row reads padding
                        for j in range(wo):
                            cols_flat[np.uint64(dst + j)] = 0
                        continue
                    src = (nc * h + y) * w - pw + kj  # x_flat index of j = 0, maybe < 0
                    for j in range(j_lo):
                        cols_flat[np.uint64(dst + j)] = 0
                    for j in range(j_lo, j_hi):
                        cols_flat[np.uint64(dst + j)] = x_flat[np.uint64(src + j * sw)]
                    for j in range(j_hi, wo):
                        cols_flat[np.uint64(dst + j)] = 0


@njit(parallel=True, cache=True)
def _col2im(dcols, kh, kw, sh, sw, ph, pw, ho, wo, dx):
    """dx[n, c] = sum of the dcols[n] entries that im2col copied from each pixel of plane (n, c).

    dcols (N, C*KH*KW, Ho*Wo), dx (N, C, H, W), both C-contiguous. One parallel iteration per
    (n, c) plane; it adds only into its own plane, walking the kernel offsets like im2col
    does, so no two threads ever write the same element. Flat unsigned indices as in _im2col.
    """
    n, c, h, w = dx.shape
    dcols_flat, dx_flat = dcols.reshape(-1), dx.reshape(-1)
    for nc in prange(n * c):
        for p in range(nc * h * w, (nc + 1) * h * w):
            dx_flat[np.uint64(p)] = 0
        for ki in range(kh):
            for kj in range(kw):
                row = (nc * kh + ki) * kw + kj
                j_lo, j_hi = _inside_columns(kj, sw, pw, w, wo)
                for i in range(ho):
                    y = i * sh - ph + ki
                    if y < 0 or y >= h:
                        continue
                    src = (row * ho + i) * wo
                    dst = (nc * h + y) * w - pw + kj
                    for j in range(j_lo, j_hi):
                        dx_flat[np.uint64(dst + j * sw)] += dcols_flat[np.uint64(src + j)]


def _chunks(n, rows, plane, dtype):
    """Split range(n) into (start, stop) chunks whose (rows, plane) matrices fill CHUNK_BYTES,
    and return them with a buffer (samples of the largest chunk, rows, plane) to reuse."""
    size = max(1, CHUNK_BYTES // max(1, rows * plane * np.dtype(dtype).itemsize))
    chunks = [(s, min(n, s + size)) for s in range(0, n, size)]  # none when n == 0
    return chunks, np.empty((min(n, size), rows, plane), dtype=dtype)


def conv2d_forward(x, w, b, stride, padding):
    """out[n] (F, Ho*Wo) = W @ im2col(x)[n] + b, chunk by chunk (lecture 3)."""
    x, w, b = np.ascontiguousarray(x), np.ascontiguousarray(w), np.ascontiguousarray(b)
    (sh, sw), (ph, pw) = stride, padding
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    ho, wo = conv_output_size(h, kh, sh, ph), conv_output_size(width, kw, sw, pw)
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    out_rows = out.reshape(n, f, ho * wo)
    chunks, buffer = _chunks(n, c * kh * kw, ho * wo, x.dtype)
    for start, stop in chunks:
        cols = buffer[:stop - start]
        _im2col(x[start:stop], kh, kw, sh, sw, ph, pw, ho, wo, cols)
        np.matmul(w.reshape(f, -1), cols, out=out_rows[start:stop])
    out += b.reshape(1, f, 1, 1)
    return out


def conv2d_backward_data(dout, w, input_size, stride, padding):
    """dx[n] = col2im(W.T @ dout[n]), chunk by chunk (lecture 3)."""
    dout, w = np.ascontiguousarray(dout), np.ascontiguousarray(w)
    (sh, sw), (ph, pw) = stride, padding
    n, f, ho, wo = dout.shape
    _, c, kh, kw = w.shape
    dx = np.empty((n, c) + tuple(input_size), dtype=dout.dtype)
    dout_rows = dout.reshape(n, f, ho * wo)
    chunks, buffer = _chunks(n, c * kh * kw, ho * wo, dout.dtype)
    for start, stop in chunks:
        dcols = buffer[:stop - start]
        np.matmul(w.reshape(f, -1).T, dout_rows[start:stop], out=dcols)
        _col2im(dcols, kh, kw, sh, sw, ph, pw, ho, wo, dx[start:stop])
    return dx


def conv2d_backward_weight(dout, x, kernel_size, stride, padding):
    """dW (F, C, KH, KW) = (sum over n of im2col(x)[n] @ dout[n].T).T, chunk by chunk (lecture 3).

    cols[n] @ dout[n].T (C*KH*KW, F) ran 1.2x to 1.5x faster in BLAS than dout[n] @ cols[n].T.
    """
    dout, x = np.ascontiguousarray(dout), np.ascontiguousarray(x)
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    n, f, ho, wo = dout.shape
    c = x.shape[1]
    dw_t = np.zeros((c * kh * kw, f), dtype=x.dtype)
    dout_rows = dout.reshape(n, f, ho * wo)
    chunks, buffer = _chunks(n, c * kh * kw, ho * wo, x.dtype)
    for start, stop in chunks:
        cols = buffer[:stop - start]
        _im2col(x[start:stop], kh, kw, sh, sw, ph, pw, ho, wo, cols)
        dw_t += np.matmul(cols, dout_rows[start:stop].transpose(0, 2, 1)).sum(axis=0)
    return dw_t.T.reshape(f, c, kh, kw)
