"""The activations with kernels (lecture 1), built as CONTRIBUTING.md's walk-through 1 says:
values, gradients, the Numba and CuPy kernels against the reference kernel, PyTorch, dtypes, bad
inputs, the module. Every test runs once per row of ``ACTIVATIONS``: a new activation with
kernels adds one row.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import nn, ops
from course.backend import use
from course.gradcheck import check_op
from course.kernels import cpu, reference
from course.kernels.reference import activations as reference_activations

pytestmark = pytest.mark.dense

SHAPES = [(1,), (4, 5), (2, 3, 7), (3, 1, 4, 5)]  # odd sizes, a single value, 4-D


@dataclass(frozen=True)
class Activation:
    """One activation with kernels: the name of its ops and kernels (``NAME_forward``), its
    formula written with the standard library for one float, the same function in PyTorch,
    points ``(x, value)`` where its value is known exactly, and its module."""

    name: str
    formula: Callable[[float], float]
    torch_fn: Callable
    points: tuple[tuple[float, float], ...]
    module: type


ACTIVATIONS = [
    # ReLU: max(0, x); NaN stays NaN and passes the gradient, as in PyTorch
    Activation("relu", lambda v: max(v, 0.0), lambda torch, t: torch.relu(t),
               ((-1.0, 0.0), (0.0, 0.0), (2.0, 2.0)), nn.ReLU),
    # GELU, exact form: x * Phi(x); PyTorch's exact form, not the tanh approximation; Phi(1)
    Activation("gelu", lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))),
               lambda torch, t: torch.nn.functional.gelu(t, approximate="none"),
               ((0.0, 0.0), (1.0, 0.8413447460685429)), nn.GELU),
    # SiLU (swish): x * sigmoid(x) = x / (1 + exp(-x)); sigmoid(1)
    Activation("silu", lambda v: v / (1 + math.exp(-v)),
               lambda torch, t: torch.nn.functional.silu(t),
               ((0.0, 0.0), (1.0, 0.7310585786300049)), nn.SiLU),
]
ROWS = pytest.mark.parametrize("act", ACTIVATIONS, ids=lambda act: act.name)


def expected(act, x):
    """The activation's formula applied one value at a time."""
    return np.vectorize(act.formula)(x)


def pair(namespace, act):
    """``act``'s forward and backward functions in ``namespace`` (``ops`` or a kernel set)."""
    return getattr(namespace, f"{act.name}_forward"), getattr(namespace, f"{act.name}_backward")


def test_every_activation_with_kernels_has_a_row():
    names = {name.removesuffix("_forward") for name in vars(reference_activations)
             if name.endswith("_forward")}
    assert sorted(act.name for act in ACTIVATIONS) == sorted(names)


@ROWS
def test_values_at_known_points(act):
    forward, _ = pair(ops, act)
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    out, _ = forward(x)
    np.testing.assert_allclose(out, expected(act, x), rtol=1e-14, atol=1e-16)
    for point, value in act.points:  # abs=0: a value of 0 must be exactly 0
        assert forward(np.array([point]))[0][0] == pytest.approx(value, rel=1e-15, abs=0)


@ROWS
@pytest.mark.parametrize("shape", SHAPES)
def test_gradients(rng, act, shape):
    x = rng.standard_normal(shape) * 2
    errors = check_op(*pair(ops, act), [x])
    assert set(errors) == {"x"}


@ROWS
def test_reference_kernels_pass_the_gradient_check(rng, act):
    with use("reference"):
        check_op(*pair(ops, act), [rng.standard_normal((3, 5)) * 2])


@ROWS
@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**31))
def test_numba_kernels_match_reference(act, shape, dtype, seed):
    (cpu_forward, cpu_backward), (ref_forward, ref_backward) = pair(cpu, act), pair(reference, act)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-15}
    out = cpu_forward(x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_allclose(out, ref_forward(x), **tol)
    np.testing.assert_allclose(cpu_backward(dout, x), ref_backward(dout, x), **tol)


@pytest.mark.parametrize("size", [6, 4099, 200_003])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_relu_matches_reference_bit_for_bit(rng, size, dtype):
    """Small and large arrays with NaN, infs and exact zeros among the values."""
    x = rng.standard_normal(size).astype(dtype)
    x[:5] = [np.nan, np.inf, -np.inf, 0.0, -0.0]
    dout = rng.standard_normal(size).astype(dtype)
    dout[5] = np.nan  # a NaN gradient where x > 0 passes, where x <= 0 gives 0
    np.testing.assert_array_equal(cpu.relu_forward(x), reference.relu_forward(x))
    np.testing.assert_array_equal(cpu.relu_backward(dout, x), reference.relu_backward(dout, x))


@ROWS
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch(rng, act, shape):
    import torch

    forward, backward = pair(ops, act)
    x, dout = rng.standard_normal(shape) * 3, rng.standard_normal(shape)
    out, cache = forward(x)
    dx = backward(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    act.torch_fn(torch, xt).backward(torch.tensor(dout))
    np.testing.assert_allclose(out, act.torch_fn(torch, torch.tensor(x)).numpy(), rtol=1e-14,
                               atol=1e-15)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-13, atol=1e-15)


@ROWS
def test_nan_and_inf_give_what_pytorch_gives(act):
    import torch

    forward, backward = pair(ops, act)
    x = np.array([np.nan, np.inf, -np.inf, -40.0, 40.0])
    out, cache = forward(x)
    dx = backward(np.ones_like(x), cache)
    xt = torch.tensor(x, requires_grad=True)
    out_t = act.torch_fn(torch, xt)
    out_t.backward(torch.ones_like(xt))
    # NaN matches NaN and inf matches an inf of the same sign
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-14, atol=1e-300)


@ROWS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_dtype_shape_and_accepts_any_layout(rng, act, dtype):
    forward, backward = pair(ops, act)
    x = rng.standard_normal((6, 8)).astype(dtype)[:, ::2]  # not contiguous
    out, cache = forward(x)
    assert out.dtype == dtype and out.shape == (6, 4)
    np.testing.assert_allclose(out, expected(act, x), rtol=1e-6 if dtype == np.float32 else 1e-14)
    dx = backward(np.ones((6, 4), dtype=dtype).T.copy().T, cache)
    assert dx.dtype == dtype and dx.shape == (6, 4)
    scalar, cache = forward(np.array(1.0, dtype=dtype))  # 0-d stays 0-d
    assert scalar.shape == () and backward(np.array(1.0, dtype=dtype), cache).shape == ()


@ROWS
def test_rejects_bad_inputs(act):
    forward, backward = pair(ops, act)
    with pytest.raises(TypeError, match="x must be float32 or float64, got int64"):
        forward(np.array([1, 2]))
    with pytest.raises(TypeError, match="x must be a numpy or CuPy array, got list"):
        forward([1.0, 2.0])
    _, cache = forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\), got \(3, 2\)"):
        backward(np.ones((3, 2)), cache)
    with pytest.raises(TypeError, match="forward input's dtype float64, got float32"):
        backward(np.ones((2, 3), dtype=np.float32), cache)
    with pytest.raises(TypeError, match="dout must be float32 or float64"):
        backward(np.ones((2, 3), dtype=np.int32), cache)


@ROWS
def test_module(rng, act):
    forward, backward = pair(ops, act)
    layer = act.module()
    x = rng.standard_normal((4, 3)).astype(np.float32)
    dout = rng.standard_normal((4, 3)).astype(np.float32)
    out, cache = forward(x)
    np.testing.assert_array_equal(layer(x), out)
    np.testing.assert_array_equal(layer.backward(dout), backward(dout, cache))
    assert layer.parameters() == [] and repr(layer) == f"{act.module.__name__}()"
    with pytest.raises(RuntimeError, match="before forward"):
        act.module().backward(dout)


@pytest.mark.gpu
@ROWS
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cupy_kernels_match_reference(rng, act, dtype):
    import cupy

    (forward, backward), (ref_forward, ref_backward) = pair(ops, act), pair(reference, act)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    for shape in SHAPES:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        out, cache = forward(cupy.asarray(x))
        dx = backward(cupy.asarray(dout), cache)
        assert isinstance(out, cupy.ndarray) and out.dtype == dtype
        np.testing.assert_allclose(out.get(), ref_forward(x), **tol)
        np.testing.assert_allclose(dx.get(), ref_backward(dout, x), **tol)
    strided = cupy.asarray(rng.standard_normal((6, 8)).astype(dtype))[:, ::2]
    np.testing.assert_allclose(forward(strided)[0].get(), ref_forward(strided.get()), **tol)
