"""Gradients that nothing needs are skipped: the data's (``backward(dout, input_grad=False)``,
image Tensors) and frozen parameters' (``requires_grad = False``), in the ops (``need_dx``,
``need_dw``, ``need_db``) and the modules; the gradients that are computed do not change."""

import numpy as np
import pytest

import course
from course import nn, ops
from course.backend import kernels_for
from course.nn.module import NEEDS
from course.optim import SGD

pytestmark = pytest.mark.conv


@pytest.fixture
def calls(monkeypatch):
    """Count the calls of the CPU convolution kernels' two backward passes (plain, fused in
    ``conv2d_backward`` or not, and general: dilation, groups)."""
    counts = {"data": 0, "weight": 0}
    kernels = kernels_for(np.zeros(1, dtype=np.float32))
    for name, key in (("conv2d_backward_data", "data"), ("conv2d_backward_weight", "weight"),
                      ("conv2d_general_backward_data", "data"),
                      ("conv2d_general_backward_weight", "weight")):
        original = getattr(kernels, name)

        def counted(*args, _original=original, _key=key):
            counts[_key] += 1
            return _original(*args)
        monkeypatch.setattr(kernels, name, counted)
    fused = kernels.conv2d_backward  # both passes in one, or each alone: counted by need

    def counted_fused(dout, x, w, stride, padding, need_dx=True, need_dw=True):
        counts["data"] += need_dx
        counts["weight"] += need_dw
        return fused(dout, x, w, stride, padding, need_dx, need_dw)
    monkeypatch.setattr(kernels, "conv2d_backward", counted_fused)
    return counts


def _model(seed=0):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=rng), nn.ReLU(),
                         nn.Conv2d(3, 4, (3, 2), stride=2, rng=rng), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 3 * 4, 5, rng=rng))


def _grads(model):
    return [None if p.grad is None else p.grad.copy() for p in model.parameters()]


def _step(model, x, dout, **kwargs):
    model.zero_grad()
    model(x)
    return model.backward(dout, **kwargs)


SKIPS = [(False, True, True), (True, False, False), (False, False, True), (True, True, False)]


@pytest.mark.parametrize("needs", SKIPS)
def test_conv_and_linear_ops_skip_what_needs_leaves_out(rng, needs):
    x = rng.standard_normal((2, 3, 7, 6))
    w, b = rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    pairs = [(ops.conv2d_forward, ops.conv2d_backward, (x, w, b), {"stride": (2, 1),
                                                                  "padding": 1}),
             (ops.conv_transpose2d_forward, ops.conv_transpose2d_backward,
              (x, rng.standard_normal((3, 4, 2, 3)), b), {"stride": 2}),
             (ops.conv1d_forward, ops.conv1d_backward,
              (x[:, :, 0], w[:, :, 0], b), {"padding": 1}),
             (ops.linear_forward, ops.linear_backward,
              (x, rng.standard_normal((3 * 7 * 6, 4)), b), {})]
    for forward, backward, inputs, params in pairs:
        out, cache = forward(*inputs, **params)
        dout = rng.standard_normal(out.shape)
        full = backward(dout, cache)
        part = backward(dout, cache, **dict(zip(NEEDS, needs, strict=True)))
        for need, g_full, g_part in zip(needs, full, part, strict=True):
            if need:
                np.testing.assert_array_equal(g_part, g_full)
            else:
                assert g_part is None


@pytest.mark.parametrize("name", NEEDS)
def test_the_flags_must_be_bools(rng, name):
    x, w = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((1, 2, 3, 3))
    for forward, backward, inputs in [(ops.conv2d_forward, ops.conv2d_backward, (x, w)),
                                      (ops.linear_forward, ops.linear_backward,
                                       (x, w.reshape(-1, 1)))]:
        out, cache = forward(*inputs, np.zeros(1))
        with pytest.raises(TypeError, match=name):
            backward(np.ones_like(out), cache, **{name: 1})


def test_backward_without_input_grad_skips_the_first_layers_data_gradient(rng, calls):
    model = _model()
    x = rng.standard_normal((3, 2, 8, 9)).astype(np.float32)
    dout = rng.standard_normal((3, 5)).astype(np.float32)
    dx = _step(model, x, dout)
    assert dx.shape == x.shape and calls == {"data": 2, "weight": 2}
    full = _grads(model)
    assert _step(model, x, dout, input_grad=False) is None
    assert calls == {"data": 3, "weight": 4}  # only the second conv's data gradient
    for g_full, g_skip in zip(full, _grads(model), strict=True):
        np.testing.assert_array_equal(g_skip, g_full)
    np.testing.assert_array_equal(_step(model, x, dout), dx)  # the default is back


def test_input_grad_reaches_a_linear_layer_through_flatten(rng):
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(12, 4, rng=1), nn.ReLU(), nn.Linear(4, 2, rng=2))
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    dout = rng.standard_normal((5, 2)).astype(np.float32)
    assert _step(mlp, x, dout).shape == x.shape
    full = _grads(mlp)
    assert _step(mlp, x, dout, input_grad=False) is None
    for g_full, g_skip in zip(full, _grads(mlp), strict=True):
        np.testing.assert_array_equal(g_skip, g_full)
    with pytest.raises(TypeError, match="input_grad"):
        mlp.backward(dout, input_grad="no")


def test_frozen_layer_gets_no_weight_gradient_and_sgd_leaves_it(rng, calls):
    model = _model()
    x = rng.standard_normal((3, 2, 8, 9)).astype(np.float32)
    dout = rng.standard_normal((3, 5)).astype(np.float32)
    _step(model, x, dout)
    full = _grads(model)
    frozen = model[0]
    frozen.requires_grad_(False)
    before = [p.data.copy() for p in model.parameters()]
    calls.update(data=0, weight=0)
    dx = _step(model, x, dout)
    assert calls == {"data": 2, "weight": 1}  # the frozen conv's weight gradient is skipped
    assert dx.shape == x.shape
    assert frozen.weight.grad is None and frozen.bias.grad is None
    for g_full, g in list(zip(full, _grads(model), strict=True))[2:]:
        np.testing.assert_array_equal(g, g_full)
    optimiser = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):
        optimiser.step()
    after = [p.data for p in model.parameters()]
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert not np.array_equal(after[2], before[2])


def test_frozen_conv_without_bias_and_with_groups(rng, calls):
    conv = nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False, rng=3)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    dout = rng.standard_normal((2, 6, 5, 5)).astype(np.float32)
    dx_full = _step(conv, x, dout)
    conv.weight.requires_grad = False
    calls.update(data=0, weight=0)
    np.testing.assert_array_equal(_step(conv, x, dout), dx_full)
    assert conv.weight.grad is None and calls == {"data": 1, "weight": 0}


def test_tensors_skip_the_images_gradient_and_frozen_weights(rng, calls):
    model = _model()
    x = rng.standard_normal((3, 2, 8, 9)).astype(np.float32)
    dout = rng.standard_normal((3, 5)).astype(np.float32)
    _step(model, x, dout)
    full = _grads(model)
    model.zero_grad()
    calls.update(data=0, weight=0)
    (model(course.Tensor(x)) * course.Tensor(dout)).sum().backward()
    assert calls == {"data": 1, "weight": 2}
    for g_full, g in zip(full, _grads(model), strict=True):
        np.testing.assert_allclose(g, g_full, rtol=1e-5, atol=1e-6)
    model.zero_grad()
    model[2].weight.requires_grad = False
    calls.update(data=0, weight=0)
    (model(course.Tensor(x)) * course.Tensor(dout)).sum().backward()
    assert calls == {"data": 1, "weight": 1} and model[2].weight.grad is None
