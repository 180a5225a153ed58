"""Inverted dropout (lecture 5, dropout).

In training, each value is dropped (set to 0) with probability ``p`` and the survivors are
scaled by 1 / (1 - p), so the expected output equals the input and evaluation needs no change:
in eval mode dropout is the identity.
"""

import numpy as np

from course.backend import get_array_module, kernels_for
from course.ops.checks import check_float_array, check_number, check_shape


def _generator(rng):
    """A ``numpy.random.Generator`` from None (fresh entropy), an int seed or a Generator."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(rng).__name__}")


def dropout_forward(x, p, train=True, rng=None):
    """Inverted dropout (lecture 5).

    Args:
        x: float array of any shape (numpy or CuPy).
        p: probability of DROPPING each value, in [0, 1).
        train: dropout in training mode; the identity in eval mode.
        rng: None (fresh randomness), an int seed (the same mask on every call with the same
            shape, which lets a gradient check hold the mask fixed) or a
            ``numpy.random.Generator`` (a new mask on each call). For CuPy arrays the mask is
            drawn by CuPy's generator seeded from ``rng``: reproducible, but not the CPU mask.

    Returns:
        out (x's shape) and a cache for :func:`dropout_backward`.
    """
    check_float_array("x", x)
    check_number("p", p, low=0, high=1, high_inclusive=False)
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {type(train).__name__}")
    generator = _generator(rng)
    if not train:
        return x, (None, p, x.shape)
    xp = get_array_module(x)
    out, keep = kernels_for(x).dropout_forward(xp.ascontiguousarray(x), float(p), generator)
    return out, (keep, p, x.shape)


def dropout_backward(dout, cache):
    """Gradient of dropout (lecture 5): ``dout`` where the value was kept, times 1 / (1 - p);
    0 elsewhere.

    Args:
        dout: upstream gradient, x's shape.
        cache: from :func:`dropout_forward`.

    Returns:
        dx (x's shape).
    """
    keep, p, shape = cache
    check_float_array("dout", dout)
    check_shape("dout", dout, shape)
    if keep is None:  # eval mode: the identity
        return dout
    xp = get_array_module(dout)
    return kernels_for(dout).dropout_backward(xp.ascontiguousarray(dout), keep, float(p))
