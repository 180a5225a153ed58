"""max_pool2d_backward: every pixel of the window gets the gradient, not only the maximum."""
# cell: max_pool2d_backward
import numpy as np


def max_pool2d_backward(dout, cache):
    x, size, stride = cache
    _, _, ho, wo = dout.shape
    dx = np.zeros_like(x)
    for i in range(ho):
        for j in range(wo):
            rows = slice(i * stride, i * stride + size)
            cols = slice(j * stride, j * stride + size)
            dx[:, :, rows, cols] += dout[:, :, i, j][:, :, None, None]
    return dx
