"""One seed for the whole library: ``course.manual_seed(n)`` (lecture 1).

Layers, dropout and data loaders that are not given an explicit ``rng`` ask :func:`make_rng`
for a generator. Before any ``manual_seed`` call that is fresh OS entropy; after it, each new
generator is drawn from one seeded source, so the same program makes the same model, masks
and batches on every run (PyTorch's ``torch.manual_seed``).
"""

import numpy as np

_SOURCE = [None]


def manual_seed(seed):
    """Seed every later layer, dropout and loader created without an explicit ``rng``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    _SOURCE[0] = np.random.default_rng(int(seed))


def make_rng(rng=None):
    """A ``numpy.random.Generator`` from None, an int seed, or a Generator (lecture 1).

    None gives a generator drawn from the ``manual_seed`` source when one was set, else fresh
    entropy.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        source = _SOURCE[0]
        return np.random.default_rng(None if source is None else source.integers(2**63))
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, "
                        f"got {type(rng).__name__}")
    return np.random.default_rng(rng)
