"""Dropout kernels in Numba (lecture 5, dropout).

The uniform numbers are drawn with numpy's ``Generator`` exactly as the reference kernel draws
them, so one seed gives the same mask on both; one fused pass then compares, masks and scales.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def _forward(x, u, p, scale, out, keep):
    for i in prange(x.size):
        kept = u[i] >= p
        keep[i] = kept
        out[i] = x[i] * (scale if kept else 0.0)


@njit(cache=True, parallel=True)
def _backward(dout, keep, scale, dx):
    for i in prange(dout.size):
        dx[i] = dout[i] * (scale if keep[i] else 0.0)


def dropout_forward(x, p, rng):
    """Inverted dropout of contiguous x; returns (out, keep) (lecture 5)."""
    u = rng.random(x.shape, dtype=x.dtype)
    out = np.empty_like(x)
    keep = np.empty(x.shape, dtype=np.bool_)
    scale = x.dtype.type(1.0 / (1.0 - p))
    _forward(x.reshape(-1), u.reshape(-1), x.dtype.type(p), scale, out.reshape(-1),
             keep.reshape(-1))
    return out, keep


def dropout_backward(dout, keep, p):
    """Gradient of inverted dropout (lecture 5): ``dout`` through the kept values,
    times 1 / (1 - p)."""
    dx = np.empty_like(dout)
    _backward(dout.reshape(-1), keep.reshape(-1), dout.dtype.type(1.0 / (1.0 - p)),
              dx.reshape(-1))
    return dx
