"""occlusion_map: hides the patches in the caller's images instead of a copy, so every later
patch is hidden on top of the earlier ones (and x comes back changed)."""
# cell: occlusion_map
import numpy as np


def occlusion_map(model, x, target, patch, stride, fill=0.0):
    n, _, h, w = x.shape
    rows = np.arange(n)
    base = softmax(model.forward(x))[rows, target]  # noqa: F821
    ho, wo = (h - patch) // stride + 1, (w - patch) // stride + 1
    drops = np.zeros((n, ho, wo))
    for i in range(ho):
        for j in range(wo):
            x[:, :, i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
            drops[:, i, j] = base - softmax(model.forward(x))[rows, target]  # noqa: F821
    return drops
