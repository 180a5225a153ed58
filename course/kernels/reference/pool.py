"""Max and average pooling as readable loops over output pixels (lecture 4): the oracle.

Shapes: x (N, C, H, W), windows of ``kernel = (KH, KW)`` pixels moved by ``stride = (SH, SW)``,
no padding; out (N, C, Ho, Wo) with ``Ho = (H - KH) // SH + 1``.

Max pooling remembers where each maximum came from: ``argmax[n, c, i, j]`` is the flat index
``h * W + w`` of the winning pixel in its (H, W) plane (the first maximum in row-major order of
the window when there is a tie; a NaN wins, as in ``numpy.argmax``). Its backward pass routes
each ``dout`` value to that pixel only.
"""

import numpy as np

from course.kernels.shapes import conv_output_size


def _output_size(x_shape, kernel, stride):
    return (conv_output_size(x_shape[2], kernel[0], stride[0], 0),
            conv_output_size(x_shape[3], kernel[1], stride[1], 0))


def max_pool2d_forward(x, kernel, stride):
    """Returns out (N, C, Ho, Wo) and argmax (N, C, Ho, Wo) int32 flat indices into (H, W)
    (lecture 4)."""
    n, c, _, width = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = _output_size(x.shape, kernel, stride)
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    argmax = np.empty((n, c, ho, wo), dtype=np.int32)
    for i in range(ho):
        for j in range(wo):
            window = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].reshape(n, c, kh * kw)
            best = np.argmax(window, axis=2)  # first maximum, row-major within the window
            out[:, :, i, j] = np.take_along_axis(window, best[:, :, None], axis=2)[:, :, 0]
            argmax[:, :, i, j] = (i * sh + best // kw) * width + (j * sw + best % kw)
    return out, argmax


def max_pool2d_backward(dout, argmax, input_size, kernel, stride):
    """Each dout[n, c, i, j] goes to the pixel argmax[n, c, i, j] (lecture 4).
    Returns dx (N, C, H, W)."""
    n, c, ho, wo = dout.shape
    h, width = input_size
    dx = np.zeros((n, c, h * width), dtype=dout.dtype)
    planes_n, planes_c = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(ho):
        for j in range(wo):
            # one output pixel per (n, c) plane: no two updates hit the same element
            dx[planes_n, planes_c, argmax[:, :, i, j]] += dout[:, :, i, j]
    return dx.reshape(n, c, h, width)


def avg_pool2d_forward(x, kernel, stride):
    """out[n, c, i, j] = mean of the window (lecture 4). Returns out (N, C, Ho, Wo)."""
    n, c = x.shape[:2]
    (kh, kw), (sh, sw) = kernel, stride
    ho, wo = _output_size(x.shape, kernel, stride)
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].mean(axis=(2, 3))
    return out


def avg_pool2d_backward(dout, input_size, kernel, stride):
    """Each dout[n, c, i, j] is shared equally by the KH * KW pixels of its window (lecture 4)."""
    n, c, ho, wo = dout.shape
    (kh, kw), (sh, sw) = kernel, stride
    dx = np.zeros((n, c) + tuple(input_size), dtype=dout.dtype)
    for i in range(ho):
        for j in range(wo):
            share = dout[:, :, i, j] / (kh * kw)
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += share[:, :, None, None]
    return dx
