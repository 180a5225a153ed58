"""dropout_forward: the kept values are not divided by 1 - p (plain, not inverted, dropout)."""
# cell: dropout_forward
import numpy as np


def dropout_forward(x, p, train=True, rng=None):
    if not train:
        return x.copy(), None
    keep = np.random.default_rng(rng).random(x.shape) >= p
    return x * keep, keep.astype(x.dtype)
