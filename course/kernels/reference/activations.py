"""Activation kernels in plain numpy: the readable oracle (lecture 1, neurons).

Only activations with kernels of their own live here (the simple ones, sigmoid, tanh, leaky
ReLU and ELU, are one numpy expression in ``course/ops/activations.py``; ReLU has kernels
because networks call it after every layer, and the Numba ones are one pass instead of
numpy's several). Each kernel takes contiguous arrays of any shape; GELU and SiLU compute in
float64 and return x's dtype.
"""

import math

import numpy as np
from scipy.special import erf

SQRT_2 = math.sqrt(2.0)
SQRT_2PI = math.sqrt(2.0 * math.pi)


def relu_forward(x):
    """``max(0, x)`` (lecture 1); NaN stays NaN, as in PyTorch. Returns out (x's shape and
    dtype)."""
    return np.maximum(x, x.dtype.type(0))


def relu_backward(dout, x):
    """0 where x <= 0 (the derivative at 0 is taken as 0), else dout (a NaN x passes dout, as in
    PyTorch) (lecture 1). Returns dx (dout's shape and dtype)."""
    return np.where(x <= 0, dout.dtype.type(0), dout)


def gelu_forward(x):
    """GELU, exact form (lecture 1): ``x * Phi(x)`` with ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``,
    the standard normal CDF (PyTorch's ``gelu(x, approximate='none')``).

    Args:
        x: array of any shape.

    Returns:
        out (x's shape and dtype).
    """
    x64 = x.astype(np.float64)
    phi_cdf = 0.5 * (1.0 + erf(x64 / SQRT_2))
    return (x64 * phi_cdf).astype(x.dtype)


def gelu_backward(dout, x):
    """Gradient of GELU (lecture 1): ``dout * (Phi(x) + x * phi(x))``, where
    ``phi(x) = exp(-x^2 / 2) / sqrt(2 pi)`` is the standard normal density.

    Args:
        dout: upstream gradient, x's shape. x: the forward pass's input.

    Returns:
        dx (x's shape, dout's dtype).
    """
    x64 = x.astype(np.float64)
    phi_cdf = 0.5 * (1.0 + erf(x64 / SQRT_2))
    phi_pdf = np.exp(-0.5 * x64 * x64) / SQRT_2PI
    return (dout * (phi_cdf + x64 * phi_pdf)).astype(dout.dtype)


def _sigmoid64(x64):
    """``1 / (1 + exp(-x))`` of a float64 array, without overflow: ``exp(-|x|)`` is in (0, 1]."""
    z = np.exp(-np.abs(x64))
    return np.where(x64 >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def silu_forward(x):
    """SiLU (swish) (lecture 1): ``x * sigmoid(x)`` with ``sigmoid(x) = 1 / (1 + exp(-x))``
    (PyTorch's ``silu(x)``).

    Args:
        x: array of any shape.

    Returns:
        out (x's shape and dtype).
    """
    x64 = x.astype(np.float64)
    return (x64 * _sigmoid64(x64)).astype(x.dtype)


def silu_backward(dout, x):
    """Gradient of SiLU (lecture 1): ``dout * s * (1 + x * (1 - s))``, ``s = sigmoid(x)``.

    Args:
        dout: upstream gradient, x's shape. x: the forward pass's input.

    Returns:
        dx (x's shape, dout's dtype).
    """
    x64 = x.astype(np.float64)
    s = _sigmoid64(x64)
    return (dout * (s * (1.0 + x64 * (1.0 - s)))).astype(dout.dtype)
