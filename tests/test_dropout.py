"""Dropout op and module: gradients with a fixed mask, statistics, modes, bad inputs (lecture 5)."""

import numpy as np
import pytest

from course import nn, ops
from course.backend import use
from course.gradcheck import check_op

pytestmark = pytest.mark.norm


@pytest.mark.parametrize("p", [0.0, 0.3, 0.8])
def test_gradient_with_a_fixed_mask(rng, p):
    # An int seed gives the same mask on every call, so the numerical gradient sees one mask.
    x = rng.standard_normal((3, 4, 5))
    check_op(ops.dropout_forward, ops.dropout_backward, [x, p], params={"rng": 7})


def test_gradient_in_eval_mode_is_identity(rng):
    x = rng.standard_normal((4, 6))
    out, cache = ops.dropout_forward(x, 0.5, train=False)
    np.testing.assert_array_equal(out, x)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(ops.dropout_backward(dout, cache), dout)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fraction_dropped_and_mean_preserved(p, dtype):
    x = np.ones((200, 500), dtype=dtype)
    out, _ = ops.dropout_forward(x, p, rng=0)
    assert out.dtype == dtype
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 0.01  # 100k draws: the standard error is below 0.002
    assert abs(out.mean() - 1.0) < 0.03
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-6)


def test_backward_uses_the_forward_mask(rng):
    x = rng.standard_normal((50, 40))
    out, cache = ops.dropout_forward(x, 0.4, rng=3)
    dx = ops.dropout_backward(np.ones_like(x), cache)
    np.testing.assert_array_equal(dx == 0, out == 0)
    np.testing.assert_allclose(dx[dx != 0], 1 / 0.6)


def test_seed_and_generator_semantics(rng):
    x = rng.standard_normal((30, 30))
    a, _ = ops.dropout_forward(x, 0.5, rng=11)
    b, _ = ops.dropout_forward(x, 0.5, rng=11)
    np.testing.assert_array_equal(a, b)  # same seed, same mask
    generator = np.random.default_rng(11)
    c, _ = ops.dropout_forward(x, 0.5, rng=generator)
    d, _ = ops.dropout_forward(x, 0.5, rng=generator)
    np.testing.assert_array_equal(a, c)  # a seed and a fresh Generator of that seed agree
    assert not np.array_equal(c, d)  # a Generator moves on: a new mask each call


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7, 3), (2, 3, 5, 5)])
def test_numba_kernel_matches_reference(rng, dtype, shape):
    x = rng.standard_normal(shape).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    fast, fast_cache = ops.dropout_forward(x, 0.35, rng=5)
    with use("reference"):
        ref, ref_cache = ops.dropout_forward(x, 0.35, rng=5)
        ref_dx = ops.dropout_backward(dout, ref_cache)
    np.testing.assert_array_equal(fast, ref)  # the same seed draws the same mask
    np.testing.assert_array_equal(ops.dropout_backward(dout, fast_cache), ref_dx)


def test_non_contiguous_input(rng):
    x = rng.standard_normal((6, 8))[:, ::2]
    out, _ = ops.dropout_forward(x, 0.5, rng=1)
    with use("reference"):
        ref, _ = ops.dropout_forward(np.ascontiguousarray(x), 0.5, rng=1)
    np.testing.assert_array_equal(out, ref)


def test_nan_propagates_through_kept_values():
    x = np.full(1000, np.nan)
    out, _ = ops.dropout_forward(x, 0.5, rng=0)
    assert np.isnan(out).all()  # 0 * nan is nan, as in numpy and PyTorch


@pytest.mark.parametrize("p, error, match", [
    (1.0, ValueError, "p must be below 1"),
    (-0.1, ValueError, "p must be at least 0"),
    ("0.5", TypeError, "p must be a number"),
])
def test_bad_p(p, error, match):
    with pytest.raises(error, match=match):
        ops.dropout_forward(np.ones(3), p)


def test_bad_inputs():
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        ops.dropout_forward(np.ones(3, dtype=np.int64), 0.5)
    with pytest.raises(TypeError, match="x must be a numpy or CuPy array"):
        ops.dropout_forward([1.0, 2.0], 0.5)
    with pytest.raises(TypeError, match="train must be True or False"):
        ops.dropout_forward(np.ones(3), 0.5, train=1)
    with pytest.raises(TypeError, match="rng must be None, an int seed"):
        ops.dropout_forward(np.ones(3), 0.5, rng="seed")
    _, cache = ops.dropout_forward(np.ones((2, 3)), 0.5, rng=0)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\)"):
        ops.dropout_backward(np.ones((3, 2)), cache)


def test_module_train_and_eval(rng):
    layer = nn.Dropout(0.5, rng=0)
    x = rng.standard_normal((40, 50)).astype(np.float32)
    first, second = layer(x), layer(x)
    assert not np.array_equal(first, second)  # a new mask each forward pass
    dx = layer.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx == 0, second == 0)
    layer.eval()
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)
    assert nn.Dropout(0.5, rng=3)(x).tolist() == nn.Dropout(0.5, rng=3)(x).tolist()
    assert "p=0.5" in repr(layer)
    with pytest.raises(ValueError, match="p must be below 1"):
        nn.Dropout(1.5)
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Dropout().backward(x)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_dropout(dtype):
    import cupy

    x = cupy.asarray(np.random.default_rng(0).standard_normal((300, 300)).astype(dtype))
    out, cache = ops.dropout_forward(x, 0.3, rng=4)
    again, _ = ops.dropout_forward(x, 0.3, rng=4)
    cupy.testing.assert_array_equal(out, again)  # a seed fixes the GPU mask too
    kept = out != 0
    assert abs(float(kept.mean()) - 0.7) < 0.01
    cupy.testing.assert_allclose(out[kept], x[kept] / dtype(0.7), rtol=1e-6)
    dx = ops.dropout_backward(cupy.ones_like(x), cache)
    cupy.testing.assert_array_equal(dx != 0, kept)
