"""Weight initialisation (lecture 1): keep each layer's output variance near its input's.

``fan_in`` is the number of inputs that feed one output unit (D for a linear layer, C*KH*KW for
a convolution), ``fan_out`` the number of outputs one input feeds.
"""

import numpy as np

from course.random import make_rng


def he_normal(shape, fan_in, rng=None, dtype=np.float32):
    """Normal weights, std ``sqrt(2 / fan_in)``, for ReLU (He et al., 2015; lecture 1)."""
    std = np.sqrt(2.0 / fan_in)
    return (make_rng(rng).standard_normal(shape) * std).astype(dtype)


def xavier_normal(shape, fan_in, fan_out, rng=None, dtype=np.float32):
    """Normal weights, std ``sqrt(2 / (fan_in + fan_out))``, for tanh/sigmoid (lecture 1)."""
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (make_rng(rng).standard_normal(shape) * std).astype(dtype)


def init_weight(shape, fan_in, fan_out, init="he", rng=None, dtype=np.float32):
    """Weights by name: ``"he"`` or ``"xavier"`` (lecture 1)."""
    if init == "he":
        return he_normal(shape, fan_in, rng, dtype)
    if init == "xavier":
        return xavier_normal(shape, fan_in, fan_out, rng, dtype)
    raise ValueError(f"init must be 'he' or 'xavier', got {init!r}")
