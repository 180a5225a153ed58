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
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    for nc in prange(n * c):
        b = nc // c
        ci = nc % c
        for i in range(ho):
            for j in range(wo):
                best = x[b, ci, i * sh, j * sw]
                best_index = i * sh * w + j * sw
                for di in range(kh):
                    for dj in range(kw):
                        v = x[b, ci, i * sh + di, j * sw + dj]
                        # first maximum in row-major order; the first NaN wins, as in np.argmax
                        if v > best or (v != v and best == best):
                            best = v
                            best_index = (i * sh + di) * w + j * sw + dj
                out[b, ci, i, j] = best
                argmax[b, ci, i, j] = best_index


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
