"""dropout_forward: p used as the probability of KEEPING a value."""
# cell: dropout_forward
import numpy as np


def dropout_forward(x, p, train=True, rng=None):
    if not train:
        return x.copy(), None
    keep = np.random.default_rng(rng).random(x.shape) < p
    scale = keep / p
    return x * scale, scale
