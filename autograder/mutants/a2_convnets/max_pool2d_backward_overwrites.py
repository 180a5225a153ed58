"""max_pool2d_backward: ``=`` instead of ``+=``, so overlapping windows lose gradient."""
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
            window = x[:, :, rows, cols]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, rows, cols] = np.where(mask, dout[:, :, i, j][:, :, None, None],
                                            dx[:, :, rows, cols])
    return dx
