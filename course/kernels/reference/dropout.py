"""Dropout kernels in plain numpy: the readable oracle (lecture 5, dropout).

The uniform numbers come from a ``numpy.random.Generator``: ``rng.random(x.shape, dtype)``.
The Numba kernels draw them the same way, so one seed gives the same mask on both.
"""

def dropout_forward(x, p, rng):
    """Inverted dropout (lecture 5): drop each value with probability ``p``, scale the
    rest by 1 / (1 - p).

    Args:
        x: array of any shape. p: drop probability in [0, 1). rng: ``numpy.random.Generator``.

    Returns:
        out (x's shape), keep (bool, x's shape): True where the value was kept.
    """
    keep = rng.random(x.shape, dtype=x.dtype) >= p
    scale = x.dtype.type(1.0 / (1.0 - p))
    return x * (keep * scale), keep


def dropout_backward(dout, keep, p):
    """Gradient of inverted dropout (lecture 5): ``dout`` through the kept values,
    times 1 / (1 - p)."""
    scale = dout.dtype.type(1.0 / (1.0 - p))
    return dout * (keep * scale)
