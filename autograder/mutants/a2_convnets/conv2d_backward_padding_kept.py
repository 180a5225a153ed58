"""conv2d_backward: the padding is not cut off dx, which comes back (N, C, H + 2p, W + 2p)."""
# cell: conv2d_backward
import numpy as np


def conv2d_backward(dout, cache):
    x, w, stride, padding = cache
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    _, _, ho, wo = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(ho):
        for j in range(wo):
            rows = slice(i * stride, i * stride + kh)
            cols = slice(j * stride, j * stride + kw)
            window = xp[:, :, rows, cols]
            dw += (dout[:, :, i, j].T @ window.reshape(n, -1)).reshape(w.shape)
            dxp[:, :, rows, cols] += (dout[:, :, i, j] @ w.reshape(f, -1)).reshape(n, c, kh, kw)
    return dxp, dw, dout.sum(axis=(0, 2, 3))
