"""SiLU (lecture 1), built as CONTRIBUTING.md's "Your turn" says: values, gradients, the Numba
and CuPy kernels against the reference kernel, PyTorch, dtypes, bad inputs, the module.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import nn, ops
from course.backend import use
from course.gradcheck import check_op
from course.kernels import cpu, reference

pytestmark = pytest.mark.dense

SHAPES = [(1,), (4, 5), (2, 3, 7), (3, 1, 4, 5)]  # odd sizes, a single value, 4-D


def expected(x):
    """SiLU written with the standard library, one value at a time: x / (1 + exp(-x))."""
    return np.vectorize(lambda v: v / (1 + math.exp(-v)))(x)


def torch_silu(torch, t):
    """The same function in PyTorch."""
    return torch.nn.functional.silu(t)


def test_values_at_known_points():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    out, _ = ops.silu_forward(x)
    np.testing.assert_allclose(out, expected(x), rtol=1e-14, atol=1e-16)
    assert out[2] == 0.0
    assert out[4] == pytest.approx(0.7310585786300049, rel=1e-15)  # sigmoid(1)


@pytest.mark.parametrize("shape", SHAPES)
def test_gradients(rng, shape):
    x = rng.standard_normal(shape) * 2
    errors = check_op(ops.silu_forward, ops.silu_backward, [x])
    assert set(errors) == {"x"}


def test_reference_kernels_pass_the_gradient_check(rng):
    with use("reference"):
        check_op(ops.silu_forward, ops.silu_backward, [rng.standard_normal((3, 5)) * 2])


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4),
       dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**31))
def test_numba_kernels_match_reference(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    tol = {"rtol": 1e-6, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-13, "atol": 1e-15}
    out = cpu.silu_forward(x)
    assert out.dtype == dtype and out.shape == x.shape
    np.testing.assert_allclose(out, reference.silu_forward(x), **tol)
    np.testing.assert_allclose(cpu.silu_backward(dout, x), reference.silu_backward(dout, x),
                               **tol)


@pytest.mark.parametrize("shape", SHAPES)
def test_matches_pytorch(rng, shape):
    import torch

    x, dout = rng.standard_normal(shape) * 3, rng.standard_normal(shape)
    out, cache = ops.silu_forward(x)
    dx = ops.silu_backward(dout, cache)
    xt = torch.tensor(x, requires_grad=True)
    torch_silu(torch, xt).backward(torch.tensor(dout))
    np.testing.assert_allclose(out, torch_silu(torch, torch.tensor(x)).numpy(), rtol=1e-14,
                               atol=1e-15)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_nan_and_inf_give_what_pytorch_gives():
    import torch

    x = np.array([np.nan, np.inf, -np.inf, -40.0, 40.0])
    out, cache = ops.silu_forward(x)
    dx = ops.silu_backward(np.ones_like(x), cache)
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch_silu(torch, xt)
    out_t.backward(torch.ones_like(xt))
    # NaN matches NaN and inf matches an inf of the same sign
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keeps_dtype_shape_and_accepts_any_layout(rng, dtype):
    x = rng.standard_normal((6, 8)).astype(dtype)[:, ::2]  # not contiguous
    out, cache = ops.silu_forward(x)
    assert out.dtype == dtype and out.shape == (6, 4)
    np.testing.assert_allclose(out, expected(x), rtol=1e-6 if dtype == np.float32 else 1e-14)
    dx = ops.silu_backward(np.ones((6, 4), dtype=dtype).T.copy().T, cache)
    assert dx.dtype == dtype and dx.shape == (6, 4)
    scalar, cache = ops.silu_forward(np.array(1.0, dtype=dtype))  # 0-d stays 0-d
    assert scalar.shape == () and ops.silu_backward(np.array(1.0, dtype=dtype), cache).shape == ()


def test_rejects_bad_inputs():
    with pytest.raises(TypeError, match="x must be float32 or float64, got int64"):
        ops.silu_forward(np.array([1, 2]))
    with pytest.raises(TypeError, match="x must be a numpy or CuPy array, got list"):
        ops.silu_forward([1.0, 2.0])
    _, cache = ops.silu_forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\), got \(3, 2\)"):
        ops.silu_backward(np.ones((3, 2)), cache)
    with pytest.raises(TypeError, match="forward input's dtype float64, got float32"):
        ops.silu_backward(np.ones((2, 3), dtype=np.float32), cache)
    with pytest.raises(TypeError, match="dout must be float32 or float64"):
        ops.silu_backward(np.ones((2, 3), dtype=np.int32), cache)


def test_module(rng):
    layer = nn.SiLU()
    x = rng.standard_normal((4, 3)).astype(np.float32)
    dout = rng.standard_normal((4, 3)).astype(np.float32)
    out, cache = ops.silu_forward(x)
    np.testing.assert_array_equal(layer(x), out)
    np.testing.assert_array_equal(layer.backward(dout), ops.silu_backward(dout, cache))
    assert layer.parameters() == [] and repr(layer) == "SiLU()"
    with pytest.raises(RuntimeError, match="before forward"):
        nn.SiLU().backward(dout)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cupy_kernels_match_reference(rng, dtype):
    import cupy

    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    for shape in SHAPES:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        dout = rng.standard_normal(shape).astype(dtype)
        out, cache = ops.silu_forward(cupy.asarray(x))
        dx = ops.silu_backward(cupy.asarray(dout), cache)
        assert isinstance(out, cupy.ndarray) and out.dtype == dtype
        np.testing.assert_allclose(out.get(), reference.silu_forward(x), **tol)
        np.testing.assert_allclose(dx.get(), reference.silu_backward(dout, x), **tol)
    strided = cupy.asarray(rng.standard_normal((6, 8)).astype(dtype))[:, ::2]
    np.testing.assert_allclose(ops.silu_forward(strided)[0].get(),
                               reference.silu_forward(strided.get()), **tol)
