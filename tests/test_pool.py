"""Max, average and global average pooling: gradients, kernels vs the reference, PyTorch, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import nn, ops
from course.backend import use
from course.gradcheck import check_op, rel_error
from course.kernels import cpu, reference

pytestmark = pytest.mark.conv

# (shape, size, stride): odd sizes, overlapping windows, stride > size, batch of 1, rectangular
POOL_CASES = [
    ((2, 3, 4, 4), 2, None),
    ((1, 2, 7, 5), 3, 2),
    ((2, 1, 9, 8), (2, 3), (3, 4)),
    ((3, 2, 5, 6), (3, 1), 1),
    ((1, 1, 5, 5), 5, None),
]
CASE_IDS = ["2x2", "overlap-odd", "stride>size-rect", "rect-stride1", "whole-image"]


def tie_free(rng, shape, dtype=np.float64):
    """Distinct values one apart in random order: no ties, far from the kinks of max."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) - size / 2).astype(dtype)


@pytest.mark.parametrize("shape, size, stride", POOL_CASES, ids=CASE_IDS)
def test_max_pool_gradients(rng, shape, size, stride):
    check_op(ops.max_pool2d_forward, ops.max_pool2d_backward, [tie_free(rng, shape)],
             params={"size": size, "stride": stride})


@pytest.mark.parametrize("shape, size, stride", POOL_CASES, ids=CASE_IDS)
def test_avg_pool_gradients(rng, shape, size, stride):
    check_op(ops.avg_pool2d_forward, ops.avg_pool2d_backward, [rng.standard_normal(shape)],
             params={"size": size, "stride": stride})


def test_global_avg_pool_gradient(rng):
    check_op(ops.global_avg_pool2d_forward, ops.global_avg_pool2d_backward,
             [rng.standard_normal((2, 3, 5, 4))])


def test_reference_kernels_pass_the_gradient_check(rng):
    with use("reference"):
        check_op(ops.max_pool2d_forward, ops.max_pool2d_backward, [tie_free(rng, (2, 2, 7, 5))],
                 params={"size": 3, "stride": (2, 1)})
        check_op(ops.avg_pool2d_forward, ops.avg_pool2d_backward,
                 [rng.standard_normal((2, 2, 7, 5))], params={"size": (2, 3), "stride": 2})


@st.composite
def pool_configs(draw):
    size = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)),
             draw(st.integers(size[0], 10)), draw(st.integers(size[1], 10)))
    return dict(shape=shape, size=size, stride=stride,
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                ties=draw(st.booleans()), seed=draw(st.integers(0, 2**31)))


@settings(max_examples=40, deadline=None)
@given(pool_configs())
def test_numba_pool_kernels_match_reference(cfg):
    rng = np.random.default_rng(cfg["seed"])
    shape, size, stride, dtype = cfg["shape"], cfg["size"], cfg["stride"], cfg["dtype"]
    if cfg["ties"]:  # few distinct values: ties must go to the same (first) pixel everywhere
        x = rng.integers(0, 3, shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    out, argmax = reference.max_pool2d_forward(x, size, stride)
    out_n, argmax_n = cpu.max_pool2d_forward(x, size, stride)
    assert out_n.dtype == dtype
    np.testing.assert_array_equal(out_n, out)
    np.testing.assert_array_equal(argmax_n, argmax)
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_allclose(cpu.max_pool2d_backward(dout, argmax, shape[2:], size, stride),
                               reference.max_pool2d_backward(dout, argmax, shape[2:], size,
                                                             stride), rtol=1e-6, atol=1e-6)
    # float32: a window's mean near 0 loses digits to cancellation, and the two kernels sum in
    # different orders (one window of six values once differed by 2.8e-6)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert rel_error(cpu.avg_pool2d_forward(x, size, stride),
                     reference.avg_pool2d_forward(x, size, stride)) < tol
    dx = cpu.avg_pool2d_backward(dout, shape[2:], size, stride)
    assert dx.dtype == dtype
    assert rel_error(dx, reference.avg_pool2d_backward(dout, shape[2:], size, stride)) < tol


def test_max_pool_propagates_nan_and_inf():
    x = np.array([[[[1.0, np.nan], [np.inf, 2.0]], [[-np.inf, -np.inf], [-np.inf, -np.inf]]]],
                 dtype=np.float32)
    for kernels in (cpu, reference):
        out, argmax = kernels.max_pool2d_forward(x, (2, 2), (2, 2))
        assert np.isnan(out[0, 0, 0, 0]) and argmax[0, 0, 0, 0] == 1
        assert out[0, 1, 0, 0] == -np.inf and argmax[0, 1, 0, 0] == 0


@pytest.mark.parametrize("shape, size, stride", POOL_CASES, ids=CASE_IDS)
def test_numba_max_pool_finds_the_first_nan_and_the_first_maximum(rng, shape, size, stride):
    """Windows with several NaNs anywhere in them, infinities and ties: the Numba kernel gives
    the reference's output and argmax exactly (the first NaN, else the first maximum)."""
    x = rng.integers(-3, 4, shape).astype(np.float32)  # many ties
    specials = rng.choice([np.nan, np.inf, -np.inf], shape, p=[0.5, 0.25, 0.25])
    x = np.where(rng.random(shape) < 0.2, specials, x).astype(np.float32)
    size = np.broadcast_to(size, 2)
    stride = size if stride is None else np.broadcast_to(stride, 2)
    x[0, 0, size[0] - 1, size[1] - 1] = np.nan  # a NaN that is not its window's first pixel
    out, argmax = cpu.max_pool2d_forward(x, tuple(size), tuple(stride))
    expected_out, expected_argmax = reference.max_pool2d_forward(x, tuple(size), tuple(stride))
    np.testing.assert_array_equal(out, expected_out)  # NaN equals NaN here
    np.testing.assert_array_equal(argmax, expected_argmax)


# -- PyTorch ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape, size, stride", POOL_CASES, ids=CASE_IDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(rng, shape, size, stride, kind):
    torch = pytest.importorskip("torch")
    x = tie_free(rng, shape, np.float32)
    forward, backward = ((ops.max_pool2d_forward, ops.max_pool2d_backward) if kind == "max"
                         else (ops.avg_pool2d_forward, ops.avg_pool2d_backward))
    out, cache = forward(x, size, stride)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx = backward(dout, cache)
    tx = torch.tensor(x, requires_grad=True)
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    tout = pool(tx, size, stride)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_global_avg_pool_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 5, 4))
    out, cache = ops.global_avg_pool2d_forward(x)
    dout = rng.standard_normal(out.shape)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch.nn.functional.adaptive_avg_pool2d(tx, 1)[:, :, 0, 0]
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ops.global_avg_pool2d_backward(dout, cache), tx.grad.numpy(),
                               rtol=1e-12)


# -- bad input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("forward", [ops.max_pool2d_forward, ops.avg_pool2d_forward])
@pytest.mark.parametrize("x, params, error, match", [
    (np.zeros((2, 4, 4), np.float32), {}, ValueError, "x must have 4 dimensions"),
    (np.zeros((1, 1, 4, 4), np.int64), {}, TypeError, "x must be float32 or float64"),
    (np.zeros((1, 1, 4, 4), np.float32), {"size": 0}, ValueError, "size must be at least 1"),
    (np.zeros((1, 1, 4, 4), np.float32), {"size": 5}, ValueError, "does not fit"),
    (np.zeros((1, 1, 4, 4), np.float32), {"size": (2, 5)}, ValueError, "does not fit"),
    (np.zeros((1, 1, 4, 4), np.float32), {"stride": 0}, ValueError, "stride must be at least 1"),
    (np.zeros((1, 1, 4, 4), np.float32), {"size": 2.0}, TypeError, "size must be an int"),
])
def test_pooling_rejects_bad_input(forward, x, params, error, match):
    with pytest.raises(error, match=match):
        forward(x, **params)


def test_pooling_backward_rejects_a_wrong_dout():
    x = np.zeros((1, 2, 4, 4), np.float32)
    for forward, backward in [(ops.max_pool2d_forward, ops.max_pool2d_backward),
                              (ops.avg_pool2d_forward, ops.avg_pool2d_backward),
                              (ops.global_avg_pool2d_forward, ops.global_avg_pool2d_backward)]:
        out, cache = forward(x)
        with pytest.raises(ValueError, match="dout must have shape"):
            backward(out[:, :1], cache)
        with pytest.raises(TypeError, match="one dtype"):
            backward(out.astype(np.float64), cache)


def test_global_avg_pool_rejects_bad_input():
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        ops.global_avg_pool2d_forward(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="at least one pixel"):
        ops.global_avg_pool2d_forward(np.zeros((2, 3, 0, 4), np.float32))


# -- modules -----------------------------------------------------------------------------------

def test_pool_modules(rng):
    x = rng.standard_normal((2, 3, 6, 7)).astype(np.float32)
    for layer, shape in [(nn.MaxPool2d(2), (2, 3, 3, 3)), (nn.AvgPool2d((3, 2), stride=1),
                                                           (2, 3, 4, 6)),
                         (nn.GlobalAvgPool2d(), (2, 3))]:
        out = layer(x)
        assert out.shape == shape and out.dtype == np.float32
        assert layer.backward(np.ones_like(out)).shape == x.shape
        assert layer.parameters() == []
    assert "size=(2, 2), stride=(2, 2)" in repr(nn.MaxPool2d(2))
    with pytest.raises(ValueError, match="size must be at least 1"):
        nn.MaxPool2d(0)


# -- GPU ---------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, size, stride", POOL_CASES, ids=CASE_IDS)
def test_cupy_pooling_matches_reference(rng, shape, size, stride, dtype):
    import cupy

    x = tie_free(rng, shape, dtype)
    for forward, backward in [(ops.max_pool2d_forward, ops.max_pool2d_backward),
                              (ops.avg_pool2d_forward, ops.avg_pool2d_backward)]:
        with use("reference"):
            out, cache = forward(x, size, stride)
            dout = rng.standard_normal(out.shape).astype(dtype)
            dx = backward(dout, cache)
        gout, gcache = forward(cupy.asarray(x), size, stride)
        gdx = backward(cupy.asarray(dout), gcache)
        assert gout.dtype == gdx.dtype == dtype
        assert rel_error(gout, out) < 1e-6 and rel_error(gdx, dx) < 1e-6


@pytest.mark.parametrize("shape", [(3, 2, 6, 8), (2, 3, 7, 5), (1, 1, 2, 2), (2, 2, 9, 9)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_2x2_max_pool_matches_reference_with_ties_nans_and_odd_sizes(rng, shape, dtype):
    """The 2x2, stride-2 kernel (``course.kernels.cpu.pool._max_pool_forward_2x2``): the
    reference's output, argmax (first NaN, else first maximum) and gradient exactly, with an
    odd last row or column outside every window."""
    x = rng.integers(-2, 3, shape).astype(dtype)  # many ties
    specials = rng.choice([np.nan, np.inf, -np.inf], shape)
    x = np.where(rng.random(shape) < 0.15, specials, x).astype(dtype)
    x[0, 0, 1, 1] = np.nan  # a NaN that is not its window's first pixel
    out, argmax = cpu.max_pool2d_forward(x, (2, 2), (2, 2))
    expected_out, expected_argmax = reference.max_pool2d_forward(x, (2, 2), (2, 2))
    np.testing.assert_array_equal(out, expected_out)
    np.testing.assert_array_equal(argmax, expected_argmax)
    dout = rng.standard_normal(out.shape).astype(dtype)
    dx = cpu.max_pool2d_backward(dout, argmax, shape[2:], (2, 2), (2, 2))
    np.testing.assert_array_equal(dx, reference.max_pool2d_backward(dout, argmax, shape[2:],
                                                                     (2, 2), (2, 2)))


def test_numba_2x2_max_pool_kernel_checks_its_shapes():
    from course.kernels.cpu import pool

    x, out = np.zeros((1, 1, 4, 4), np.float32), np.zeros((1, 1, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"out and argmax must be \(N, C, H // 2, W // 2\)"):
        pool._max_pool_forward_2x2(x, out, np.zeros(out.shape, np.int32))
