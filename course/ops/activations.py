"""Elementwise activation functions and their derivatives (lecture 1, neurons).

Each ``NAME_forward(x) -> (out, cache)`` keeps what its backward needs; each
``NAME_backward(dout, cache) -> dx`` multiplies the upstream gradient by the local derivative.
Shapes are arbitrary: out and dx have x's shape.
"""

from course.backend import get_array_module, kernels_for
from course.ops.checks import check_float_array, check_gradient, check_number


def relu_forward(x):
    """``max(0, x)`` (lecture 1); NaN stays NaN, as in PyTorch. Runs on the kernel set that
    ``course.backend.kernels_for(x)`` picks (numpy's ``maximum``, one Numba pass, or CuPy)."""
    check_float_array("x", x)
    x = _contiguous(x)
    return kernels_for(x).relu_forward(x), x


def relu_backward(dout, cache):
    """Gradient passes where x > 0 (the derivative at 0 is taken as 0; a NaN x passes it, as
    in PyTorch) (lecture 1)."""
    x = cache
    check_gradient("dout", dout, x, x.shape)
    dout = _contiguous(dout)
    return kernels_for(dout).relu_backward(dout, x)


def sigmoid_forward(x):
    """``1 / (1 + exp(-x))``, computed without overflow for large negative x (lecture 1)."""
    check_float_array("x", x)
    xp = get_array_module(x)
    z = xp.exp(-xp.abs(x))  # in (0, 1]: never overflows
    out = xp.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
    return out, out


def sigmoid_backward(dout, cache):
    """``sigma'(x) = sigma(x) (1 - sigma(x))`` (lecture 1)."""
    out = cache
    check_gradient("dout", dout, out, out.shape)
    return dout * out * (1 - out)


def tanh_forward(x):
    """Hyperbolic tangent (lecture 1)."""
    check_float_array("x", x)
    out = get_array_module(x).tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """``tanh'(x) = 1 - tanh(x)^2`` (lecture 1)."""
    out = cache
    check_gradient("dout", dout, out, out.shape)
    return dout * (1 - out * out)


def leaky_relu_forward(x, alpha=0.01):
    """``x`` where positive, ``alpha * x`` elsewhere (lecture 1)."""
    check_float_array("x", x)
    check_number("alpha", alpha, low=0)
    xp = get_array_module(x)
    out = xp.where(x > 0, x, x * x.dtype.type(alpha))
    return out, (x, alpha)


def leaky_relu_backward(dout, cache):
    """Slope 1 where x > 0, ``alpha`` elsewhere (lecture 1)."""
    x, alpha = cache
    check_gradient("dout", dout, x, x.shape)
    xp = get_array_module(x)
    return xp.where(x > 0, dout, dout * dout.dtype.type(alpha))


def elu_forward(x, alpha=1.0):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere (lecture 1)."""
    check_float_array("x", x)
    check_number("alpha", alpha, low=0)
    xp = get_array_module(x)
    negative = x.dtype.type(alpha) * xp.expm1(xp.minimum(x, 0))
    out = xp.where(x > 0, x, negative)
    return out, (x, out, alpha)


def elu_backward(dout, cache):
    """Slope 1 where x > 0, ``out + alpha`` (= alpha * exp(x)) elsewhere (lecture 1)."""
    x, out, alpha = cache
    check_gradient("dout", dout, x, x.shape)
    xp = get_array_module(x)
    return xp.where(x > 0, dout, dout * (out + out.dtype.type(alpha)))


def _contiguous(x):
    """x, or a C-contiguous copy of it, same shape (0-d arrays stay 0-d): what kernels take."""
    return get_array_module(x).ascontiguousarray(x).reshape(x.shape)


def gelu_forward(x):
    """GELU, exact form: ``x * Phi(x)``, Phi the standard normal CDF (lecture 1).

    ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``: PyTorch's ``torch.nn.functional.gelu(x,
    approximate='none')`` (not the tanh approximation). Runs on the kernel set that
    ``course.backend.kernels_for(x)`` picks: reference (numpy), Numba or CuPy.

    Args:
        x: float32 or float64 array of any shape (numpy or CuPy).

    Returns:
        out (x's shape and dtype) and a cache for :func:`gelu_backward` (x, contiguous).
    """
    check_float_array("x", x)
    x = _contiguous(x)
    return kernels_for(x).gelu_forward(x), x


def gelu_backward(dout, cache):
    """Gradient of GELU (lecture 1): ``dout * (Phi(x) + x * phi(x))``, phi the standard normal
    density ``exp(-x^2 / 2) / sqrt(2 pi)``.

    Args:
        dout: upstream gradient, x's shape, dtype and device.
        cache: from :func:`gelu_forward`.

    Returns:
        dx (x's shape and dtype).
    """
    x = cache
    check_gradient("dout", dout, x, x.shape)  # float, x's dtype (a CUDA kernel reads both
    dout = _contiguous(dout)                  # with one element type), device and shape
    return kernels_for(dout).gelu_backward(dout, x)


def silu_forward(x):
    """SiLU (swish): ``x * sigmoid(x)``, ``sigmoid(x) = 1 / (1 + exp(-x))`` (lecture 1).

    PyTorch's ``torch.nn.functional.silu(x)``. Runs on the kernel set that
    ``course.backend.kernels_for(x)`` picks: reference (numpy), Numba or CuPy.

    Args:
        x: float32 or float64 array of any shape (numpy or CuPy).

    Returns:
        out (x's shape and dtype) and a cache for :func:`silu_backward` (x, contiguous).
    """
    check_float_array("x", x)
    x = _contiguous(x)
    return kernels_for(x).silu_forward(x), x


def silu_backward(dout, cache):
    """Gradient of SiLU (lecture 1): ``dout * s * (1 + x * (1 - s))``, ``s = sigmoid(x)``.

    Args:
        dout: upstream gradient, x's shape, dtype and device.
        cache: from :func:`silu_forward`.

    Returns:
        dx (x's shape and dtype).
    """
    x = cache
    check_gradient("dout", dout, x, x.shape)
    dout = _contiguous(dout)
    return kernels_for(dout).silu_backward(dout, x)
