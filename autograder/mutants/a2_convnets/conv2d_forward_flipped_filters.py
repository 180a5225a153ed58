"""conv2d_forward: filters flipped (true convolution) where the layer is a cross-correlation."""
# cell: conv2d_forward
import numpy as np


def conv2d_forward(x, w, b, stride=1, padding=0):
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (width + 2 * padding - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    flipped = w[:, :, ::-1, ::-1]
    out = np.zeros((n, f, ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = window.reshape(n, -1) @ flipped.reshape(f, -1).T + b
    return out, (x, w, stride, padding)
