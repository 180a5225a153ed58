"""conv2d_backward: dw takes the first sample's contribution only (the sum over the batch is
forgotten)."""
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
            dw += (dout[:1, :, i, j].T @ window[:1].reshape(1, -1)).reshape(w.shape)
            dxp[:, :, rows, cols] += (dout[:, :, i, j] @ w.reshape(f, -1)).reshape(n, c, kh, kw)
    dx = dxp[:, :, padding:padding + h, padding:padding + width]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db
