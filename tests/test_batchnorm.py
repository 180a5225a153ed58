"""Batch norm ops: gradients, running statistics (by hand and vs PyTorch), eval mode, kernels,
bad inputs (lecture 6)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import ops
from course.backend import use
from course.gradcheck import check_op

pytestmark = pytest.mark.norm


def batch(rng, shape, dtype=np.float64):
    """Inputs with a mean and scale far from 0 and 1, so that normalising does something."""
    return (rng.standard_normal(shape) * 3 + 2).astype(dtype)


def params(rng, c, dtype=np.float64):
    return rng.standard_normal(c).astype(dtype), rng.standard_normal(c).astype(dtype)


SPATIAL = (ops.spatial_batchnorm_forward, ops.spatial_batchnorm_backward)
DENSE = (ops.batchnorm_forward, ops.batchnorm_backward)


# -- gradients -------------------------------------------------------------------------------

@pytest.mark.parametrize("kernels", ["numba", "reference"])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("ops_pair, shape", [(DENSE, (6, 4)), (DENSE, (3, 5)),
                                             (SPATIAL, (3, 2, 4, 5)), (SPATIAL, (1, 3, 2, 2))])
def test_gradients(rng, kernels, train, ops_pair, shape):
    forward, backward = ops_pair
    x = batch(rng, shape)
    gamma, beta = params(rng, shape[1])
    state = ops.batchnorm_state(shape[1], np.float64)
    state["running_mean"][:] = rng.standard_normal(shape[1])
    state["running_var"][:] = rng.uniform(0.5, 2, shape[1])
    with use(kernels):
        errors = check_op(forward, backward, [x, gamma, beta, state], wrt=[0, 1, 2],
                          params={"train": train})
    assert set(errors) == {"x", "gamma", "beta"}


# -- values and running statistics -----------------------------------------------------------

def test_train_output_is_normalised(rng):
    x = batch(rng, (200, 3))
    out, _ = ops.batchnorm_forward(x, np.ones(3), np.zeros(3), ops.batchnorm_state(3, "float64"))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)  # eps keeps it just below 1


def test_running_statistics_by_hand(rng):
    state = ops.batchnorm_state(3, np.float64)
    gamma, beta = params(rng, 3)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(5):
        x = batch(rng, (8, 3, 2, 2))
        ops.spatial_batchnorm_forward(x, gamma, beta, state, momentum=0.2)
        values = x.transpose(1, 0, 2, 3).reshape(3, -1)
        mean = 0.8 * mean + 0.2 * values.mean(axis=1)
        var = 0.8 * var + 0.2 * values.var(axis=1, ddof=1)  # unbiased, as PyTorch
    np.testing.assert_allclose(state["running_mean"], mean, rtol=1e-12)
    np.testing.assert_allclose(state["running_var"], var, rtol=1e-12)


@pytest.mark.parametrize("ops_pair, shape", [(DENSE, (10, 4)), (SPATIAL, (5, 4, 3, 3))])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_running_statistics_and_outputs_match_pytorch(rng, ops_pair, shape, momentum):
    torch = pytest.importorskip("torch")
    forward, backward = ops_pair
    c = shape[1]
    layer = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(
        c, momentum=momentum).double()
    gamma, beta = params(rng, c)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    state = ops.batchnorm_state(c, np.float64)
    for _ in range(4):
        x = batch(rng, shape)
        out, cache = forward(x, gamma, beta, state, momentum=momentum)
        xt = torch.from_numpy(x).requires_grad_(True)
        out_t = layer(xt)
        dout = rng.standard_normal(shape)
        out_t.backward(torch.from_numpy(dout))
        dx, dgamma, dbeta = backward(dout, cache)
        np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(dgamma, layer.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(dbeta, layer.bias.grad.numpy(), rtol=1e-10)
        layer.weight.grad = layer.bias.grad = None
    np.testing.assert_allclose(state["running_mean"], layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(state["running_var"], layer.running_var.numpy(), rtol=1e-12)
    # eval mode: both use the running statistics
    layer.eval()
    x = batch(rng, shape)
    out, _ = forward(x, gamma, beta, state, train=False)
    np.testing.assert_allclose(out, layer(torch.from_numpy(x)).detach().numpy(), rtol=1e-10,
                               atol=1e-10)


def test_eval_mode_uses_running_statistics_and_leaves_them(rng):
    state = ops.batchnorm_state(3, np.float64)
    state["running_mean"][:] = [1.0, -2.0, 0.5]
    state["running_var"][:] = [4.0, 0.25, 1.0]
    before = {k: v.copy() for k, v in state.items()}
    gamma, beta = params(rng, 3)
    x = batch(rng, (5, 3))
    out, _ = ops.batchnorm_forward(x, gamma, beta, state, train=False, eps=1e-3)
    expected = (x - before["running_mean"]) / np.sqrt(before["running_var"] + 1e-3)
    np.testing.assert_allclose(out, expected * gamma + beta, rtol=1e-12)
    for key in state:
        np.testing.assert_array_equal(state[key], before[key])


def test_eval_mode_works_with_a_batch_of_one(rng):
    gamma, beta = params(rng, 4)
    out, _ = ops.batchnorm_forward(batch(rng, (1, 4)), gamma, beta,
                                   ops.batchnorm_state(4, np.float64), train=False)
    assert out.shape == (1, 4)


def test_backward_of_an_eval_step_ignores_later_updates(rng):
    state = ops.batchnorm_state(2, np.float64)
    gamma, beta = params(rng, 2)
    x = batch(rng, (4, 2))
    _, cache = ops.batchnorm_forward(x, gamma, beta, state, train=False)
    dout = rng.standard_normal(x.shape)
    before = ops.batchnorm_backward(dout, cache)
    ops.batchnorm_forward(batch(rng, (4, 2)), gamma, beta, state)  # updates state in place
    for a, b in zip(before, ops.batchnorm_backward(dout, cache), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(rng, dtype):
    x = batch(rng, (4, 3, 2, 2), dtype)
    gamma, beta = params(rng, 3, dtype)
    state = ops.batchnorm_state(3, dtype)
    out, cache = ops.spatial_batchnorm_forward(x, gamma, beta, state)
    grads = ops.spatial_batchnorm_backward(np.ones_like(out), cache)
    assert out.dtype == dtype and all(g.dtype == dtype for g in grads)
    assert state["running_mean"].dtype == dtype and state["running_var"].dtype == dtype


# -- Numba kernels against the reference -----------------------------------------------------

def compare_kernels(x, gamma, beta, dout, train):
    results = {}
    for kernels in ("reference", "numba"):
        state = ops.batchnorm_state(x.shape[1], x.dtype)
        state["running_var"][:] = 2.0
        with use(kernels):
            out, cache = ops.spatial_batchnorm_forward(x, gamma, beta, state, train=train)
            results[kernels] = (out, *ops.spatial_batchnorm_backward(dout, cache),
                                state["running_mean"], state["running_var"])
    tol = 1e-4 if x.dtype == np.float32 else 1e-10
    for ref, fast in zip(results["reference"], results["numba"], strict=True):
        assert fast.dtype == ref.dtype
        np.testing.assert_allclose(fast, ref, rtol=tol, atol=tol * np.abs(ref).max())


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 5), h=st.integers(1, 7), w=st.integers(1, 7),
       dtype=st.sampled_from([np.float32, np.float64]), train=st.booleans(),
       seed=st.integers(0, 2**16))
def test_numba_kernels_match_reference(n, c, h, w, dtype, train, seed):
    if train and n * h * w < 2:
        train = False  # a single value per channel has no variance: tested separately
    rng = np.random.default_rng(seed)
    x = batch(rng, (n, c, h, w), dtype)
    gamma, beta = params(rng, c, dtype)
    compare_kernels(x, gamma, beta, rng.standard_normal(x.shape).astype(dtype), train)


def test_numba_kernels_on_a_large_float32_batch(rng):
    x = batch(rng, (16, 8, 15, 17), np.float32) + 100  # a large mean tests the accumulation
    gamma, beta = params(rng, 8, np.float32)
    compare_kernels(x, gamma, beta, rng.standard_normal(x.shape).astype(np.float32), True)


def test_non_contiguous_inputs(rng):
    x = batch(rng, (4, 3, 6, 6))[:, :, ::2, 1::2]
    gamma, beta = params(rng, 6)
    gamma, beta = gamma[::2], beta[::2]
    dout = rng.standard_normal((4, 3, 3, 3, 2))[..., 0]
    out, cache = ops.spatial_batchnorm_forward(x, gamma, beta, ops.batchnorm_state(3, "float64"))
    expected_out, expected_cache = ops.spatial_batchnorm_forward(
        x.copy(), gamma.copy(), beta.copy(), ops.batchnorm_state(3, "float64"))
    np.testing.assert_allclose(out, expected_out, rtol=1e-12)
    for a, b in zip(ops.spatial_batchnorm_backward(dout, cache),
                    ops.spatial_batchnorm_backward(dout.copy(), expected_cache), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# -- bad inputs ------------------------------------------------------------------------------

def good_args(dtype=np.float64):
    return np.ones((4, 3), dtype), np.ones(3, dtype), np.zeros(3, dtype), \
        ops.batchnorm_state(3, dtype)


def test_bad_gamma_and_beta():
    x, gamma, beta, state = good_args()
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\), got \(4,\)"):
        ops.batchnorm_forward(x, np.ones(4), beta, state)
    with pytest.raises(ValueError, match=r"beta must have shape \(3,\), got \(2,\)"):
        ops.batchnorm_forward(x, gamma, np.ones(2), state)
    with pytest.raises(TypeError, match="all arrays must share one dtype"):
        ops.batchnorm_forward(x, gamma.astype(np.float32), beta, state)


def test_state_of_another_width():
    x, gamma, beta, _ = good_args()
    with pytest.raises(ValueError, match="made for another layer width"):
        ops.batchnorm_forward(x, gamma, beta, ops.batchnorm_state(5, np.float64))


def test_state_missing_keys_or_wrong_type():
    x, gamma, beta, state = good_args()
    del state["running_var"]
    with pytest.raises(ValueError, match=r"state is missing \['running_var'\]"):
        ops.batchnorm_forward(x, gamma, beta, state)
    with pytest.raises(TypeError, match="state must be a dict"):
        ops.batchnorm_forward(x, gamma, beta, None)


def test_state_of_another_dtype():
    x, gamma, beta, _ = good_args()
    with pytest.raises(TypeError, match="state\\['running_mean'\\] is float32 but x is float64"):
        ops.batchnorm_forward(x, gamma, beta, ops.batchnorm_state(3, np.float32))


def test_bad_x():
    _, gamma, beta, state = good_args()
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        ops.batchnorm_forward(np.ones((2, 3, 1)), gamma, beta, state)
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        ops.spatial_batchnorm_forward(np.ones((2, 3)), gamma, beta, state)
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        ops.batchnorm_forward(np.ones((2, 3), dtype=np.int32), gamma, beta, state)


@pytest.mark.parametrize("momentum", [-0.1, 1.5])
def test_momentum_outside_0_1(momentum):
    with pytest.raises(ValueError, match="momentum must be"):
        ops.batchnorm_forward(*good_args(), momentum=momentum)


def test_bad_eps_and_train():
    with pytest.raises(ValueError, match="eps must be positive"):
        ops.batchnorm_forward(*good_args(), eps=0.0)
    with pytest.raises(TypeError, match="train must be True or False"):
        ops.batchnorm_forward(*good_args(), train="yes")


def test_one_value_per_feature_in_training_mode():
    _, gamma, beta, state = good_args()
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        ops.batchnorm_forward(np.ones((1, 3)), gamma, beta, state)
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        ops.spatial_batchnorm_forward(np.ones((1, 3, 1, 1)), gamma, beta, state)
    # N = 1 with several pixels is fine, as in PyTorch
    ops.spatial_batchnorm_forward(np.ones((1, 3, 2, 2)), gamma, beta, state)


def test_bad_dout():
    x, gamma, beta, state = good_args()
    _, cache = ops.batchnorm_forward(x, gamma, beta, state)
    with pytest.raises(ValueError, match=r"dout must have shape \(4, 3\)"):
        ops.batchnorm_backward(np.ones((3, 4)), cache)
    with pytest.raises(TypeError, match="all arrays must share one dtype"):
        ops.batchnorm_backward(np.ones((4, 3), np.float32), cache)
    _, cache = ops.spatial_batchnorm_forward(np.ones((2, 3, 2, 2)), gamma, beta, state)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3, 2, 2\)"):
        ops.spatial_batchnorm_backward(np.ones((2, 3, 4)), cache)


def test_batchnorm_state_arguments():
    state = ops.batchnorm_state(4)
    assert state["running_mean"].dtype == np.float32
    np.testing.assert_array_equal(state["running_var"], np.ones(4))
    with pytest.raises(ValueError, match="num_features must be at least 1"):
        ops.batchnorm_state(0)
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        ops.batchnorm_state(3, np.int64)


# -- GPU -------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (64, 16, 8, 8), (1, 1, 1, 2)])
def test_gpu_kernels_match_reference(rng, dtype, train, shape):
    import cupy

    x = batch(rng, shape, dtype)
    gamma, beta = params(rng, shape[1], dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    results = {}
    for name, to in (("cpu", np.asarray), ("gpu", cupy.asarray)):
        state = {k: to(v) for k, v in ops.batchnorm_state(shape[1], dtype).items()}
        with use("reference"):
            out, cache = ops.spatial_batchnorm_forward(to(x), to(gamma), to(beta), state,
                                                       train=train)
            grads = ops.spatial_batchnorm_backward(to(dout), cache)
        results[name] = [cupy.asnumpy(a) for a in (out, *grads, *state.values())]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for ref, gpu in zip(results["cpu"], results["gpu"], strict=True):
        np.testing.assert_allclose(gpu, ref, rtol=tol, atol=tol * max(np.abs(ref).max(), 1))
