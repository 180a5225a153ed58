"""Layer norm op: gradients, values vs PyTorch, dtypes, bad inputs (lecture 6)."""

import numpy as np
import pytest

from course import ops
from course.gradcheck import check_op

pytestmark = pytest.mark.norm


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 6), (1, 3)])
def test_gradients(rng, shape):
    x = rng.standard_normal(shape) * 2 + 1
    gamma, beta = rng.standard_normal(shape[-1]), rng.standard_normal(shape[-1])
    errors = check_op(ops.layernorm_forward, ops.layernorm_backward, [x, gamma, beta],
                      params={"eps": 1e-3})
    assert set(errors) == {"x", "gamma", "beta"}


@pytest.mark.parametrize("shape", [(5, 8), (3, 4, 8)])
def test_matches_pytorch(rng, shape):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape) * 3 - 1
    gamma, beta = rng.standard_normal(8), rng.standard_normal(8)
    dout = rng.standard_normal(shape)
    out, cache = ops.layernorm_forward(x, gamma, beta)
    dx, dgamma, dbeta = ops.layernorm_backward(dout, cache)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x, gamma, beta))
    out_t = torch.nn.functional.layer_norm(xt, (8,), wt, bt, eps=1e-5)
    out_t.backward(torch.from_numpy(dout))
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    for ours, theirs in ((dx, xt), (dgamma, wt), (dbeta, bt)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(rng, dtype):
    x = rng.standard_normal((3, 4)).astype(dtype)
    out, cache = ops.layernorm_forward(x, np.ones(4, dtype), np.zeros(4, dtype))
    assert out.dtype == dtype
    assert all(g.dtype == dtype for g in ops.layernorm_backward(np.ones_like(x), cache))
    np.testing.assert_allclose(out.mean(axis=-1), 0, atol=1e-6)


def test_bad_inputs():
    x, ones = np.ones((2, 3)), np.ones(3)
    with pytest.raises(ValueError, match="x must have at least 2 dimensions"):
        ops.layernorm_forward(np.ones(3), ones, ones)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\), got \(4,\)"):
        ops.layernorm_forward(x, np.ones(4), ones)
    with pytest.raises(ValueError, match=r"beta must have shape \(3,\)"):
        ops.layernorm_forward(x, ones, np.ones((3, 1)).ravel()[:2])
    with pytest.raises(TypeError, match="all arrays must share one dtype"):
        ops.layernorm_forward(x.astype(np.float32), ones, ones)
    with pytest.raises(ValueError, match="eps must be positive"):
        ops.layernorm_forward(x, ones, ones, eps=0)
    _, cache = ops.layernorm_forward(x, ones, ones)
    with pytest.raises(ValueError, match=r"dout must have shape \(2, 3\)"):
        ops.layernorm_backward(np.ones((3, 2)), cache)
