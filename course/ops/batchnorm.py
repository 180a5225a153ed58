"""Batch normalisation of (N, D) features and of (N, C, H, W) feature maps (lecture 6).

In training mode each feature (or channel) is normalised with the mean and variance of the
current batch, then scaled by ``gamma`` and shifted by ``beta``. The op also keeps running
averages of the statistics in ``state`` for evaluation, with PyTorch's rule::

    running_mean = (1 - momentum) * running_mean + momentum * batch_mean
    running_var  = (1 - momentum) * running_var  + momentum * batch_var_unbiased

The batch is normalised with the biased variance (divide by M, the number of values per
feature); the running variance uses the unbiased one (divide by M - 1). In eval mode the
running statistics normalise and nothing is updated.

Both layouts run the same kernels on an (N, C, L) view: (N, D) is (N, D, 1), and
(N, C, H, W) is (N, C, H * W).
"""

from collections.abc import MutableMapping

import numpy as np

from course.backend import device_of, get_array_module, kernels_for, to_device
from course.ops.checks import (
    check_float_array,
    check_number,
    check_positive_int,
    check_same_device,
    check_same_dtype,
    check_shape,
)

STATE_KEYS = ("running_mean", "running_var")


def batchnorm_state(num_features, dtype="float32", device="cpu"):
    """A fresh ``state`` for batch norm (lecture 6): running mean 0 and running variance 1, as
    PyTorch.

    Args:
        num_features: D for (N, D) inputs, C for (N, C, H, W) inputs.
        dtype: the inputs' dtype (float32 or float64). device: "cpu" or "cuda".

    Returns:
        ``{"running_mean": zeros (D,), "running_var": ones (D,)}``.
    """
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dtype}")
    check_positive_int("num_features", num_features)
    return {"running_mean": to_device(np.zeros(num_features, dtype=dtype), device),
            "running_var": to_device(np.ones(num_features, dtype=dtype), device)}


def _check_state(state, x, num_features):
    if not isinstance(state, MutableMapping):
        raise TypeError(f"state must be a dict with {STATE_KEYS}, got {type(state).__name__}; "
                        "make one with batchnorm_state(num_features, dtype)")
    missing = [key for key in STATE_KEYS if key not in state]
    if missing:
        raise ValueError(f"state is missing {missing}; it must hold {STATE_KEYS} "
                         "(make one with batchnorm_state(num_features, dtype))")
    for key in STATE_KEYS:
        value = state[key]
        check_float_array(f"state[{key!r}]", value, ndim=1)
        if value.shape != (num_features,):
            raise ValueError(
                f"state[{key!r}] has shape {tuple(value.shape)}, but x has {num_features} "
                f"features: was the state made for another layer width?")
        if value.dtype != x.dtype:
            raise TypeError(f"state[{key!r}] is {value.dtype} but x is {x.dtype}")
        if device_of(value) != device_of(x):
            raise ValueError(f"state[{key!r}] is on {device_of(value)} but x is on "
                             f"{device_of(x)}")


def _forward(x3, gamma, beta, state, train, momentum, eps):
    """Batch norm of a contiguous (N, C, L) array; returns (out (N, C, L), cache)."""
    n, c, l = x3.shape
    check_float_array("gamma", gamma, ndim=1)
    check_float_array("beta", beta, ndim=1)
    check_shape("gamma", gamma, (c,))
    check_shape("beta", beta, (c,))
    check_same_dtype(x=x3, gamma=gamma, beta=beta)
    check_same_device(x=x3, gamma=gamma, beta=beta)
    _check_state(state, x3, c)
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {type(train).__name__}")
    check_number("momentum", momentum, low=0, high=1)
    check_number("eps", eps, low=0)
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")
    m = n * l
    if train and m < 2:
        raise ValueError(
            f"batch norm in training mode needs more than 1 value per feature to estimate a "
            f"variance, got {m}; use a batch of 2 or more, or eval mode")

    xp = get_array_module(x3)
    gamma, beta = xp.ascontiguousarray(gamma), xp.ascontiguousarray(beta)
    kernels = kernels_for(x3)
    if train:
        out, mean, var = kernels.batchnorm_train_forward(x3, gamma, beta, float(eps))
        running_mean, running_var = state["running_mean"], state["running_var"]
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += (momentum * m / (m - 1)) * var
    else:
        # copied: a later training step must not change what this step's backward sees
        mean, var = state["running_mean"].copy(), state["running_var"]
    inv_std = (1 / xp.sqrt(var + eps)).astype(x3.dtype)
    if not train:
        out = kernels.batchnorm_eval_forward(x3, mean, inv_std, gamma, beta)
    return out, (x3, mean, inv_std, gamma, train)


def _backward(dout3, cache):
    x3, mean, inv_std, gamma, train = cache
    check_float_array("dout", dout3)
    check_same_dtype(dout=dout3, x=x3)
    xp = get_array_module(x3)
    return kernels_for(x3).batchnorm_backward(
        xp.ascontiguousarray(dout3), x3, mean, inv_std, gamma, train)


def batchnorm_forward(x, gamma, beta, state, train=True, momentum=0.1, eps=1e-5):
    """Batch normalisation of (N, D) features (lecture 6).

    Args:
        x: (N, D) inputs.
        gamma, beta: (D,) scale and shift.
        state: dict with "running_mean" and "running_var", (D,) arrays of x's dtype; updated in
            place in training mode (see the module docstring). Make one with
            :func:`batchnorm_state`.
        train: normalise with the batch's statistics (and update ``state``) or, in eval mode,
            with the running statistics.
        momentum: weight of the new batch in the running averages, in [0, 1].
        eps: added to the variance before the square root.

    Returns:
        out (N, D) and a cache for :func:`batchnorm_backward`.
    """
    check_float_array("x", x, ndim=2)
    xp = get_array_module(x)
    x3 = xp.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], 1)
    out, cache = _forward(x3, gamma, beta, state, train, momentum, eps)
    return out.reshape(x.shape), cache


def batchnorm_backward(dout, cache):
    """Gradients of batch norm, in closed form (not a graph of small steps) (lecture 6).

    Args:
        dout: (N, D) upstream gradient.
        cache: from :func:`batchnorm_forward`.

    Returns:
        dx (N, D), dgamma (D,), dbeta (D,).
    """
    x3 = cache[0]
    check_float_array("dout", dout)
    check_shape("dout", dout, x3.shape[:2])
    dx, dgamma, dbeta = _backward(dout.reshape(x3.shape), cache)
    return dx.reshape(dout.shape), dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, state, train=True, momentum=0.1, eps=1e-5):
    """Batch normalisation of (N, C, H, W) feature maps (lecture 6): statistics per channel.

    Each channel is normalised over its N * H * W values; otherwise as
    :func:`batchnorm_forward`, with gamma, beta and the running statistics of shape (C,).

    Returns:
        out (N, C, H, W) and a cache for :func:`spatial_batchnorm_backward`.
    """
    check_float_array("x", x, ndim=4)
    xp = get_array_module(x)
    n, c, h, w = x.shape
    x3 = xp.ascontiguousarray(x).reshape(n, c, h * w)
    out, cache = _forward(x3, gamma, beta, state, train, momentum, eps)
    return out.reshape(x.shape), (cache, x.shape)


def spatial_batchnorm_backward(dout, cache):
    """Gradients of spatial batch norm (lecture 6).

    Args:
        dout: (N, C, H, W) upstream gradient.
        cache: from :func:`spatial_batchnorm_forward`.

    Returns:
        dx (N, C, H, W), dgamma (C,), dbeta (C,).
    """
    inner, shape = cache
    check_float_array("dout", dout)
    check_shape("dout", dout, shape)
    dx, dgamma, dbeta = _backward(dout.reshape(inner[0].shape), inner)
    return dx.reshape(shape), dgamma, dbeta
