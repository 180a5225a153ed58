"""Layers applied at every time step of a sequence (lecture 7, LSTM; used in lecture 8).

x is (N, T, D): N sequences of T steps. The affine layer maps every step's vector with the same
weights; the loss sums a cross-entropy per step over the steps that a mask keeps.
"""

import numpy as np

from course.backend import get_array_module
from course.ops.checks import (
    check_float_array,
    check_int_array,
    check_same_device,
    check_same_dtype,
    check_shape,
)


def temporal_linear_forward(x, w, b):
    """``out[n, t] = x[n, t] @ w + b`` for every step (lecture 7).

    Args:
        x: (N, T, D). w: (D, M). b: (M,).

    Returns:
        out (N, T, M) and a cache for :func:`temporal_linear_backward`.
    """
    check_float_array("x", x, ndim=3)
    check_float_array("w", w, ndim=2)
    check_float_array("b", b, ndim=1)
    n, t_steps, d = x.shape
    check_shape("w", w, (d, w.shape[1]))
    check_shape("b", b, (w.shape[1],))
    check_same_dtype(x=x, w=w, b=b)
    check_same_device(x=x, w=w, b=b)
    out = (x.reshape(n * t_steps, d) @ w + b).reshape(n, t_steps, w.shape[1])
    return out, (x, w)


def temporal_linear_backward(dout, cache):
    """Gradients of :func:`temporal_linear_forward` (lecture 7).

    Args:
        dout: (N, T, M).

    Returns:
        dx (N, T, D), dw (D, M), db (M,).
    """
    x, w = cache
    n, t_steps, d = x.shape
    check_float_array("dout", dout)
    check_shape("dout", dout, (n, t_steps, w.shape[1]))
    dout2d = dout.reshape(n * t_steps, w.shape[1])
    dx = (dout2d @ w.T).reshape(x.shape)
    return dx, x.reshape(n * t_steps, d).T @ dout2d, dout2d.sum(axis=0)


def temporal_softmax_loss(x, y, mask):
    """Softmax cross-entropy at every kept time step, summed over time, averaged over the batch
    (lecture 7).

    As in CS231n: ``loss = -sum over n, t with mask[n, t] of log softmax(x[n, t])[y[n, t]] / N``.
    Masked-out steps (padding after a caption's end) add nothing to the loss or the gradient.

    Args:
        x: (N, T, V) scores over a vocabulary of V words.
        y: (N, T) integer targets in [0, V).
        mask: (N, T) boolean, True where the step counts.

    Returns:
        loss (a float) and dx (N, T, V).
    """
    check_float_array("x", x, ndim=3)
    n, t_steps, v = x.shape
    check_int_array("y", y, v, shape=(n, t_steps))
    xp = get_array_module(x)
    if getattr(mask, "dtype", None) != np.dtype(bool):
        raise TypeError(f"mask must be a boolean array, got {type(mask).__name__} "
                        f"of dtype {getattr(mask, 'dtype', None)}")
    check_shape("mask", mask, (n, t_steps))
    check_same_device(x=x, y=y, mask=mask)
    flat = x.reshape(n * t_steps, v)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(n * t_steps)
    keep = mask.reshape(-1)
    y_flat = y.reshape(-1)
    batch = max(n, 1)
    loss = -(log_probs[rows, y_flat] * keep).sum() / batch
    dx = xp.exp(log_probs)
    dx[rows, y_flat] -= 1
    dx *= keep[:, None].astype(x.dtype) / x.dtype.type(batch)
    return float(loss), dx.reshape(x.shape)
