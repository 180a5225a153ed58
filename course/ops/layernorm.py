"""Layer normalisation over the last dimension (lecture 6, batch norm and its relatives).

Each example (each time step of a sequence) is normalised with the mean and variance of its
own D features, so the op behaves the same in training and evaluation and keeps no state.
Computed with the array module's own reductions, so it runs on numpy and CuPy alike.
"""

from course.backend import get_array_module
from course.ops.checks import (
    check_float_array,
    check_number,
    check_same_device,
    check_same_dtype,
    check_shape,
)


def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer normalisation (lecture 6): ``(x - mean) / sqrt(var + eps) * gamma + beta`` over the
    last axis.

    Args:
        x: (N, D) or (N, T, D) inputs (any rank >= 2; the last axis is normalised).
        gamma, beta: (D,) scale and shift.
        eps: added to the (biased) variance before the square root.

    Returns:
        out (x's shape) and a cache for :func:`layernorm_backward`.
    """
    check_float_array("x", x, min_ndim=2)
    d = x.shape[-1]
    check_float_array("gamma", gamma, ndim=1)
    check_float_array("beta", beta, ndim=1)
    check_shape("gamma", gamma, (d,))
    check_shape("beta", beta, (d,))
    check_same_dtype(x=x, gamma=gamma, beta=beta)
    check_same_device(x=x, gamma=gamma, beta=beta)
    check_number("eps", eps, low=0)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    if d == 0:
        raise ValueError(f"x must have at least 1 feature in its last axis, got {tuple(x.shape)}")
    xp = get_array_module(x)
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    inv_std = (1 / xp.sqrt(var + eps)).astype(x.dtype)
    xhat = (x - mean) * inv_std
    out = xhat * gamma + beta
    return out, (xhat, inv_std, gamma)


def layernorm_backward(dout, cache):
    """Gradients of layer normalisation, in closed form (lecture 6).

    With ``g = dout * gamma`` and means over the last axis::

        dx = inv_std * (g - mean(g) - xhat * mean(g * xhat))

    Args:
        dout: upstream gradient, x's shape.
        cache: from :func:`layernorm_forward`.

    Returns:
        dx (x's shape), dgamma (D,), dbeta (D,).
    """
    xhat, inv_std, gamma = cache
    check_float_array("dout", dout)
    check_shape("dout", dout, xhat.shape)
    check_same_dtype(dout=dout, x=xhat)
    batch_axes = tuple(range(dout.ndim - 1))
    dbeta = dout.sum(axis=batch_axes)
    dgamma = (dout * xhat).sum(axis=batch_axes)
    g = dout * gamma
    dx = inv_std * (g - g.mean(axis=-1, keepdims=True)
                    - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return dx, dgamma, dbeta
