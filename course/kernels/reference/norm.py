"""Batch normalisation kernels in plain numpy: the readable oracle (lecture 6, batch norm).

Every kernel works on a contiguous (N, C, L) array: statistics are taken per channel ``c`` over
the N * L values ``x[:, c, :]``. Spatial batch norm passes (N, C, H * W); batch norm of an
(N, D) matrix passes (N, D, 1). Statistics are accumulated in float64 and returned in x's dtype.
"""

import numpy as np


def batchnorm_train_forward(x, gamma, beta, eps):
    """Normalise with the batch's own statistics, then scale and shift (lecture 6).

    Args:
        x: (N, C, L) inputs. gamma, beta: (C,) scale and shift. eps: added to the variance.

    Returns:
        out (N, C, L); mean (C,) and biased variance (C,) of each channel.
    """
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 2))
    var = x64.var(axis=(0, 2))  # biased: divides by N * L
    xhat = (x64 - mean[:, None]) / np.sqrt(var[:, None] + eps)
    out = xhat * gamma[:, None] + beta[:, None]
    return out.astype(x.dtype), mean.astype(x.dtype), var.astype(x.dtype)


def batchnorm_eval_forward(x, mean, inv_std, gamma, beta):
    """Normalise with given statistics (lecture 6): ``(x - mean) * inv_std * gamma + beta`` per
    channel.

    Args:
        x: (N, C, L). mean, inv_std, gamma, beta: (C,).

    Returns:
        out (N, C, L).
    """
    xhat = (x - mean[:, None]) * inv_std[:, None]
    return (xhat * gamma[:, None] + beta[:, None]).astype(x.dtype)


def batchnorm_backward(dout, x, mean, inv_std, gamma, train):
    """Gradients of batch norm in the simplified closed form (lecture 6).

    With ``xhat = (x - mean) * inv_std`` and M = N * L values per channel::

        dbeta  = sum(dout)
        dgamma = sum(dout * xhat)
        dx     = gamma * inv_std * (dout - (dbeta + xhat * dgamma) / M)   (train mode)
        dx     = gamma * inv_std * dout                                   (eval mode)

    In train mode the mean and variance depend on x, which gives the two subtracted terms; in
    eval mode they are constants.

    Args:
        dout, x: (N, C, L). mean, inv_std, gamma: (C,). train: which formula for dx.

    Returns:
        dx (N, C, L), dgamma (C,), dbeta (C,).
    """
    m = x.shape[0] * x.shape[2]
    dout64 = dout.astype(np.float64)
    xhat = (x.astype(np.float64) - mean[:, None]) * inv_std[:, None]
    dbeta = dout64.sum(axis=(0, 2))
    dgamma = (dout64 * xhat).sum(axis=(0, 2))
    scale = (gamma * inv_std)[:, None]
    if train:
        dx = scale * (dout64 - (dbeta[:, None] + xhat * dgamma[:, None]) / m)
    else:
        dx = scale * dout64
    return dx.astype(x.dtype), dgamma.astype(x.dtype), dbeta.astype(x.dtype)
