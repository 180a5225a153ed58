"""Max and average pooling on the CPU with Numba (lecture 4).

Every kernel runs one (n, c) plane per parallel iteration: planes are independent, and a
backward pass adds only into the plane its iteration owns, so no two threads ever write the
same element. No ``fastmath``: max-pooling must see NaN and inf as they are.

Same names and signatures as ``course.kernels.reference.pool``.
"""

import numpy as np
from numba import njit, prange

from course.kernels.shapes import conv_output_size


@njit(parallel=True, cache=True)
def _max_pool_forward(x, kh, kw, sh, sw, out, argmax):
    """out[n, c, i, j] = the first maximum of window (i, j) in row-major order; argmax its flat
    index into the (H, W) plane. A window holding a NaN gives its first NaN, as np.argmax does.

    The comparison ``v > best`` skips NaN, and keeps the loop three times faster than testing
    for NaN inside it; ``nan_seen`` notes a NaN without a branch, and only such a window is
    scanned again for its first NaN. Flat unsigned indices, as in ``conv._im2col``.
    """
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    x_flat, out_flat, argmax_flat = x.reshape(-1), out.reshape(-1), argmax.reshape(-1)
    for nc in prange(n * c):
        plane = nc * h * w
        for i in range(ho):
            for j in range(wo):
                corner = i * sh * w + j * sw  # index of the window's top-left pixel
                best, best_index, nan_seen = x_flat[np.uint64(plane + corner)], corner, False
                for di in range(kh):
                    for dj in range(kw):
                        index = corner + di * w + dj
                        v = x_flat[np.uint64(plane + index)]
                        if v > best:
                            best, best_index = v, index
                        nan_seen |= v != v
                if nan_seen and best == best:  # a NaN that is not the first pixel
                    best_index = _first_nan(x_flat, plane, corner, kh, kw, w)
                    best = x_flat[np.uint64(plane + best_index)]
                out_flat[np.uint64((nc * ho + i) * wo + j)] = best
                argmax_flat[np.uint64((nc * ho + i) * wo + j)] = best_index


@njit(inline="always")
def _first_nan(x_flat, plane, corner, kh, kw, w):
    """Index in its plane of the first NaN of the window at ``corner`` (which holds one)."""
    for di in range(kh):
        for dj in range(kw):
            index = corner + di * w + dj
            if x_flat[np.uint64(plane + index)] != x_flat[np.uint64(plane + index)]:
                return index
    return corner


@njit(parallel=True, cache=True)
def _max_pool_backward(dout, argmax, dx):
    """dx (N, C, H*W): every dout value goes to the pixel its window's maximum came from."""
    n, c, ho, wo = dout.shape
    for nc in prange(n * c):
        b = nc // c
        ci = nc % c
        dx[b, ci, :] = 0
        for i in range(ho):
            for j in range(wo):
                dx[b, ci, argmax[b, ci, i, j]] += dout[b, ci, i, j]


@njit(parallel=True, cache=True)
def _max_pool_forward_2x2(x, out, argmax):
    """``_max_pool_forward`` for 2x2 windows with stride 2, the common case: each output row
    from two input rows, the maximum and its offset in the window chosen by selects instead of
    branches, so that LLVM vectorizes the loop over the row. LeNet-5's first pooling,
    (128, 6, 28, 28), took 0.40-0.45 ms against 1.12 ms on two threads (0.77-0.94 against 2.05
    on one), (64, 32, 32, 32) 1.15-1.22 against 4.07 ms (1.39-1.66 against 7.04; AMD EPYC Zen
    3). A row holding a NaN is passed again for the first NaN of each window, as in
    ``_max_pool_forward``. (The backward pass written the same way, each pixel of a window
    given its dout or zero by selects, was 3x to 5x slower than ``_max_pool_backward``'s
    zeroing and scattering.)"""
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    if out.shape != (n, c, h // 2, w // 2) or argmax.shape != out.shape:
        raise ValueError("max-pool 2x2: out and argmax must be (N, C, H // 2, W // 2)")
    for nc in prange(n * c):
        b, ci = nc // c, nc % c
        plane = x[b, ci].reshape(-1)
        for i in range(ho):
            top, bottom = x[b, ci, 2 * i], x[b, ci, 2 * i + 1]
            out_row, argmax_row = out[b, ci, i], argmax[b, ci, i]
            nan_seen = False
            for j in range(wo):
                v0, v1, v2, v3 = top[2 * j], top[2 * j + 1], bottom[2 * j], bottom[2 * j + 1]
                best, offset = v0, 0
                best, offset = (v1, 1) if v1 > best else (best, offset)
                best, offset = (v2, w) if v2 > best else (best, offset)
                best, offset = (v3, w + 1) if v3 > best else (best, offset)
                nan_seen |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
                out_row[j] = best
                argmax_row[j] = 2 * i * w + 2 * j + offset
            if nan_seen:
                for j in range(wo):
                    first = _first_nan(plane, 0, 2 * i * w + 2 * j, 2, 2, w)
                    if plane[first] != plane[first]:
                        out_row[j], argmax_row[j] = plane[first], first


@njit(parallel=True, cache=True)
def _avg_pool_forward(x, kh, kw, sh, sw, out):
    n, c = x.shape[0], x.shape[1]
    ho, wo = out.shape[2], out.shape[3]
    for nc in prange(n * c):
        b = nc // c
        ci = nc % c
        for i in range(ho):
            for j in range(wo):
                total = 0.0
                for di in range(kh):
                    for dj in range(kw):
                        total += x[b, ci, i * sh + di, j * sw + dj]
                out[b, ci, i, j] = total / (kh * kw)


@njit(parallel=True, cache=True)
def _avg_pool_backward(dout, kh, kw, sh, sw, dx):
    n, c, ho, wo = dout.shape
    for nc in prange(n * c):
        b = nc // c
        ci = nc % c
        dx[b, ci, :, :] = 0
        for i in range(ho):
            for j in range(wo):
                share = dout[b, ci, i, j] / (kh * kw)
                for di in range(kh):
                    for dj in range(kw):
                        dx[b, ci, i * sh + di, j * sw + dj] += share


def _output_shape(x_shape, kernel, stride):
    return (x_shape[0], x_shape[1],
            conv_output_size(x_shape[2], kernel[0], stride[0], 0),
            conv_output_size(x_shape[3], kernel[1], stride[1], 0))


def max_pool2d_forward(x, kernel, stride):
    """Returns out (N, C, Ho, Wo) and argmax (N, C, Ho, Wo) int32 flat indices into (H, W)
    (lecture 4)."""
    out = np.empty(_output_shape(x.shape, kernel, stride), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int32)
    if tuple(kernel) == tuple(stride) == (2, 2):
        _max_pool_forward_2x2(np.ascontiguousarray(x), out, argmax)
    else:
        _max_pool_forward(np.ascontiguousarray(x), kernel[0], kernel[1], stride[0], stride[1],
                          out, argmax)
    return out, argmax


def max_pool2d_backward(dout, argmax, input_size, kernel, stride):
    """dx (N, C, H, W) (lecture 4): dout routed to the argmax pixels."""
    n, c = dout.shape[:2]
    h, w = input_size
    dx = np.empty((n, c, h * w), dtype=dout.dtype)
    _max_pool_backward(np.ascontiguousarray(dout), np.ascontiguousarray(argmax), dx)
    return dx.reshape(n, c, h, w)


def avg_pool2d_forward(x, kernel, stride):
    """out (N, C, Ho, Wo) (lecture 4): the mean of each window."""
    out = np.empty(_output_shape(x.shape, kernel, stride), dtype=x.dtype)
    _avg_pool_forward(np.ascontiguousarray(x), kernel[0], kernel[1], stride[0], stride[1], out)
    return out


def avg_pool2d_backward(dout, input_size, kernel, stride):
    """dx (N, C, H, W) (lecture 4): each dout value shared equally by its window's pixels."""
    dx = np.empty(dout.shape[:2] + tuple(input_size), dtype=dout.dtype)
    _avg_pool_backward(np.ascontiguousarray(dout), kernel[0], kernel[1], stride[0], stride[1],
                       dx)
    return dx
