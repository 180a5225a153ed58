"""Batch normalisation kernels in Numba (lecture 6, batch norm).

Same names and arguments as ``course.kernels.reference.norm``: x is a contiguous (N, C, L)
array and every statistic is per channel ``c`` over the N * L values ``x[:, c, :]``.

Batch norm does almost no arithmetic per value, so its speed is set by how often it walks
through memory (PERF_NOTES.md: separate numpy passes were 2.6x PyTorch). Each kernel therefore
handles one channel per ``prange`` iteration and does all of that channel's passes in a row:
the mean, the variance and the output (or, backward, the two sums and dx). A channel's
N * L values are read from main memory once and come from the cache for the later passes.

Sums are accumulated in float64. ``fastmath`` is limited to ``reassoc`` and ``contract`` so
that LLVM may vectorise the sums and fuse multiply-adds, while NaN and inf still propagate.
"""

import numpy as np
from numba import njit, prange

FAST = {"reassoc", "contract"}


@njit(cache=True, parallel=True, fastmath=FAST)
def _train_forward(x, gamma, beta, eps, out, mean, var):
    n, c, l = x.shape
    m = n * l
    for ch in prange(c):
        total = 0.0
        for i in range(n):
            for j in range(l):
                total += x[i, ch, j]
        mu = total / m
        squares = 0.0
        for i in range(n):
            for j in range(l):
                d = x[i, ch, j] - mu
                squares += d * d
        sigma2 = squares / m
        mean[ch] = mu
        var[ch] = sigma2
        scale = gamma[ch] / np.sqrt(sigma2 + eps)
        shift = beta[ch] - mu * scale
        for i in range(n):
            for j in range(l):
                out[i, ch, j] = x[i, ch, j] * scale + shift


@njit(cache=True, parallel=True, fastmath=FAST)
def _eval_forward(x, mean, inv_std, gamma, beta, out):
    n, c, l = x.shape
    for ch in prange(c):
        scale = gamma[ch] * inv_std[ch]
        shift = beta[ch] - mean[ch] * scale
        for i in range(n):
            for j in range(l):
                out[i, ch, j] = x[i, ch, j] * scale + shift


@njit(cache=True, parallel=True, fastmath=FAST)
def _backward(dout, x, mean, inv_std, gamma, train, dx, dgamma, dbeta):
    n, c, l = x.shape
    m = n * l
    for ch in prange(c):
        mu = np.float64(mean[ch])
        istd = np.float64(inv_std[ch])
        sum_dout = 0.0
        sum_dout_xc = 0.0  # sum of dout * (x - mean)
        for i in range(n):
            for j in range(l):
                g = dout[i, ch, j]
                sum_dout += g
                sum_dout_xc += g * (x[i, ch, j] - mu)
        dbeta[ch] = sum_dout
        dgamma[ch] = sum_dout_xc * istd
        # dx = k * (dout - (dbeta + xhat * dgamma) / M) with k = gamma * inv_std, written as
        # dx = k * dout + a * x + b so that the last pass is one multiply-add per value.
        k = gamma[ch] * istd
        a = 0.0
        b = 0.0
        if train:
            a = -k * istd * istd * sum_dout_xc / m
            b = -k * sum_dout / m - a * mu
        for i in range(n):
            for j in range(l):
                dx[i, ch, j] = k * dout[i, ch, j] + a * x[i, ch, j] + b


def batchnorm_train_forward(x, gamma, beta, eps):
    """Normalise (N, C, L) x with its own per-channel statistics; returns (out, mean, var)
    (lecture 6)."""
    out = np.empty_like(x)
    mean = np.empty(x.shape[1], dtype=x.dtype)
    var = np.empty(x.shape[1], dtype=x.dtype)
    _train_forward(x, gamma, beta, float(eps), out, mean, var)
    return out, mean, var


def batchnorm_eval_forward(x, mean, inv_std, gamma, beta):
    """``(x - mean) * inv_std * gamma + beta`` per channel of (N, C, L) x (lecture 6)."""
    out = np.empty_like(x)
    _eval_forward(x, mean, inv_std, gamma, beta, out)
    return out


def batchnorm_backward(dout, x, mean, inv_std, gamma, train):
    """Closed-form batch norm gradients; returns (dx, dgamma, dbeta) (lecture 6)."""
    dx = np.empty_like(x)
    dgamma = np.empty(x.shape[1], dtype=x.dtype)
    dbeta = np.empty(x.shape[1], dtype=x.dtype)
    _backward(dout, x, mean, inv_std, gamma, bool(train), dx, dgamma, dbeta)
    return dx, dgamma, dbeta
