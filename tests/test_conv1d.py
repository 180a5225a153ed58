"""1-D convolution over sequences: gradients, PyTorch, the module, errors."""

import numpy as np
import pytest

from course import nn, ops
from course.gradcheck import check_op

pytestmark = pytest.mark.arch

# (N, C, F, L, K, stride, padding)
CASES = [(2, 3, 4, 9, 3, 1, 1), (1, 1, 2, 7, 5, 2, 0), (3, 2, 1, 4, 1, 3, 2), (2, 2, 3, 6, 6, 1, 2)]


def inputs(rng, n, c, f, length, k):
    return (rng.standard_normal((n, c, length)), rng.standard_normal((f, c, k)),
            rng.standard_normal(f))


@pytest.mark.parametrize("case", CASES)
def test_conv1d_gradients(rng, case):
    n, c, f, length, k, stride, padding = case
    check_op(ops.conv1d_forward, ops.conv1d_backward, list(inputs(rng, n, c, f, length, k)),
             params={"stride": stride, "padding": padding})


@pytest.mark.parametrize("case", CASES)
def test_conv1d_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    n, c, f, length, k, stride, padding = case
    x, w, b = inputs(rng, n, c, f, length, k)
    out, cache = ops.conv1d_forward(x, w, b, stride, padding)
    assert out.shape == (n, f, (length + 2 * padding - k) // stride + 1)
    dout = rng.standard_normal(out.shape)
    grads = ops.conv1d_backward(dout, cache)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = torch.nn.functional.conv1d(tx, tw, tb, stride=stride, padding=padding)
    tout.backward(torch.tensor(dout))
    for ours, theirs in zip((out,) + grads, (tout, tx.grad, tw.grad, tb.grad), strict=True):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


def test_conv1d_module(rng):
    layer = nn.Conv1d(3, 5, 3, stride=2, padding=1, rng=0)
    x = rng.standard_normal((4, 3, 10)).astype(np.float32)
    out = layer(x)
    assert out.shape == (4, 5, 5) and out.dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx.shape == x.shape and layer.weight.grad.shape == (5, 3, 3)
    assert "kernel_size=3, stride=2, padding=1" in repr(layer)


@pytest.mark.parametrize("change, error, match", [
    ({"x": np.zeros((2, 3, 1, 8))}, ValueError, "x must have 3 dimensions"),
    ({"w": np.zeros((4, 3, 1, 3))}, ValueError, "w must have 3 dimensions"),
    ({"w": np.zeros((4, 2, 3))}, ValueError, "w must have 3 input channels"),
    ({"b": np.zeros(3)}, ValueError, r"b must have shape \(4,\)"),
    ({"stride": 0}, ValueError, "stride must be at least 1"),
    ({"stride": (1, 2)}, TypeError, "stride must be an int"),
    ({"padding": -1}, ValueError, "padding must be at least 0"),
    ({"w": np.zeros((4, 3, 9))}, ValueError, "every output size must be at least 1"),
])
def test_conv1d_rejects_bad_input(change, error, match):
    args = {"x": np.zeros((2, 3, 8)), "w": np.zeros((4, 3, 3)), "b": np.zeros(4), "stride": 1,
            "padding": 0}
    args.update(change)
    with pytest.raises(error, match=match):
        ops.conv1d_forward(**args)


def test_conv1d_module_rejects_bad_arguments(rng):
    with pytest.raises(ValueError, match="kernel_size must be at least 1"):
        nn.Conv1d(3, 4, 0)
    with pytest.raises(ValueError, match="padding must be at least 0"):
        nn.Conv1d(3, 4, 3, padding=-1)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        nn.Conv1d(3, 4, 3)(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
