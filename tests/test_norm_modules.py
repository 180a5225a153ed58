"""BatchNorm1d/2d, LayerNorm and Residual modules: gradients, modes, buffers, state (lecture 6)."""

import numpy as np
import pytest

from course import nn, ops
from course.gradcheck import numerical_gradient, rel_error

pytestmark = pytest.mark.norm


def check_module_gradients(model, x, rng):
    """Every parameter gradient and the input gradient against numerical ones (float64)."""
    dout = rng.standard_normal(model(x).shape)

    def loss():
        return float(np.sum(model(x) * dout))

    model.zero_grad()  # gradients accumulate across backward calls
    model(x)
    dx = model.backward(dout)
    for name, p in model.named_parameters():
        # absolute tolerance too: a bias right before batch norm has a zero gradient
        np.testing.assert_allclose(p.grad, numerical_gradient(loss, p.data), rtol=1e-5,
                                   atol=1e-8, err_msg=name)
    assert rel_error(dx, numerical_gradient(loss, x)) < 1e-6


def test_batchnorm1d_gradients(rng):
    model = nn.Sequential(nn.Linear(5, 4, rng=0, dtype=np.float64),
                          nn.BatchNorm1d(4, dtype=np.float64), nn.Tanh())
    model[1].weight.data[:] = rng.standard_normal(4)
    check_module_gradients(model, rng.standard_normal((6, 5)), rng)


def test_batchnorm2d_and_residual_gradients(rng):
    block = nn.Sequential(nn.BatchNorm2d(3, dtype=np.float64), nn.Tanh(),
                          nn.BatchNorm2d(3, dtype=np.float64))
    model = nn.Residual(block)
    check_module_gradients(model, rng.standard_normal((2, 3, 3, 4)), rng)
    # eval mode: running statistics are constants
    model.eval()
    check_module_gradients(model, rng.standard_normal((2, 3, 3, 4)), rng)


def test_residual_with_a_shortcut_module(rng):
    model = nn.Residual(nn.Sequential(nn.Linear(4, 3, rng=0, dtype=np.float64), nn.Tanh()),
                        shortcut=nn.Linear(4, 3, rng=1, dtype=np.float64))
    x = rng.standard_normal((5, 4))
    np.testing.assert_allclose(model(x), np.tanh(model.block[0](x)) + model.shortcut(x))
    assert [name for name, _ in model.named_parameters()] == [
        "block.0.weight", "block.0.bias", "shortcut.weight", "shortcut.bias"]
    check_module_gradients(model, x, rng)


def test_residual_shape_mismatch_is_explained(rng):
    model = nn.Residual(nn.Linear(4, 3, rng=0))
    with pytest.raises(ValueError, match="pass a shortcut module"):
        model(rng.standard_normal((2, 4)).astype(np.float32))


def test_layernorm_module(rng):
    model = nn.LayerNorm(6, dtype=np.float64)
    model.weight.data[:] = rng.standard_normal(6)
    check_module_gradients(model, rng.standard_normal((2, 3, 6)), rng)
    assert nn.LayerNorm((6,)).normalized_shape == 6
    with pytest.raises(ValueError, match="normalises the last dimension only"):
        nn.LayerNorm((3, 6))


def test_batchnorm_train_eval_and_buffers(rng):
    layer = nn.BatchNorm2d(3, momentum=0.5)
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var"]
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    x = (rng.standard_normal((8, 3, 4, 4)) * 2 + 3).astype(np.float32)
    out = layer(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    expected_mean = 0.5 * x.mean(axis=(0, 2, 3))
    np.testing.assert_allclose(layer.running_mean, expected_mean, rtol=1e-5)
    np.testing.assert_allclose(layer.state_dict()["running_mean"], expected_mean, rtol=1e-5)
    layer.eval()
    before = layer.running_var.copy()
    out = layer(x)
    np.testing.assert_array_equal(layer.running_var, before)  # eval mode never updates
    expected = (x - layer.running_mean[:, None, None]) / np.sqrt(
        layer.running_var[:, None, None] + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    layer.train()
    layer(x)
    assert not np.array_equal(layer.running_var, before)


def test_state_dict_round_trip_includes_buffers(rng):
    def model():
        return nn.Sequential(nn.Linear(4, 3, rng=0), nn.BatchNorm1d(3), nn.ReLU(),
                             nn.Dropout(0.2, rng=0), nn.LayerNorm(3))

    a, b = model(), model()
    for _ in range(3):
        a(rng.standard_normal((6, 4)).astype(np.float32))
    state = a.state_dict()
    assert {"1.running_mean", "1.running_var", "1.weight", "4.weight"} <= set(state)
    b.load_state_dict(state)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    a.eval()
    b.eval()
    np.testing.assert_array_equal(a(x), b(x))
    # the loaded buffers are still the ones the op updates in place
    b.train()
    b(x)
    assert not np.array_equal(b.state_dict()["1.running_mean"], state["1.running_mean"])


def test_module_uses_the_ops(rng):
    layer = nn.BatchNorm1d(3, eps=1e-3, momentum=0.3, dtype=np.float64)
    layer.weight.data[:] = [1.0, 2.0, 3.0]
    x = rng.standard_normal((5, 3))
    state = ops.batchnorm_state(3, np.float64)
    expected, _ = ops.batchnorm_forward(x, layer.weight.data, layer.bias.data, state,
                                        momentum=0.3, eps=1e-3)
    np.testing.assert_array_equal(layer(x), expected)
    np.testing.assert_array_equal(layer.running_var, state["running_var"])
    assert "eps=0.001" in repr(layer) and "momentum=0.3" in repr(layer)


def test_constructor_checks():
    with pytest.raises(ValueError, match="num_features must be at least 1"):
        nn.BatchNorm2d(0)
    with pytest.raises(ValueError, match="momentum must be at most 1"):
        nn.BatchNorm1d(3, momentum=2)
    with pytest.raises(TypeError, match="num_features must be an int"):
        nn.BatchNorm1d(3.0)
    with pytest.raises(RuntimeError, match="before forward"):
        nn.BatchNorm1d(3).backward(np.ones((2, 3), np.float32))
