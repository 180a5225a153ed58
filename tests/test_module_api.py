"""Modules as PyTorch users expect them: reuse in the Torch7 style gives the right gradients
(or a clear error), gradients accumulate, and the everyday module features work."""

import numpy as np
import pytest

import course
import course.functional as F
from course import Tensor, nn, ops
from course.models import small_resnet

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.dense


def torch_linear(lin):
    layer = torch.nn.Linear(lin.in_features, lin.out_features, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(lin.weight.data))
        layer.bias.copy_(torch.tensor(lin.bias.data))
    return layer


def test_a_relu_used_twice_in_a_sequential_gets_pytorchs_gradients(rng):
    relu = nn.ReLU()
    first, second = nn.Linear(4, 5, rng=0, dtype=np.float64), nn.Linear(5, 3, rng=1,
                                                                         dtype=np.float64)
    model = nn.Sequential(first, relu, second, relu)
    x, g = rng.standard_normal((6, 4)), rng.standard_normal((6, 3))
    model(x)
    dx = model.backward(g)

    xt = torch.tensor(x, requires_grad=True)
    t1, t2 = torch_linear(first), torch_linear(second)
    torch.relu(t2(torch.relu(t1(xt)))).backward(torch.tensor(g))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(first.weight.grad, t1.weight.grad.numpy(), rtol=1e-10)


def test_a_shared_linear_accumulates_both_uses(rng):
    shared = nn.Linear(4, 4, rng=0, dtype=np.float64)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    model(x)
    dx = model.backward(g)
    assert len(model.parameters()) == 2  # listed once

    xt = torch.tensor(x, requires_grad=True)
    tl = torch_linear(shared)
    tl(torch.tanh(tl(xt))).backward(torch.tensor(g))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(shared.weight.grad, tl.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(shared.bias.grad, tl.bias.grad.numpy(), rtol=1e-10)


def test_backward_can_be_repeated_and_gradients_accumulate(rng):
    model = nn.Sequential(nn.Linear(3, 2, rng=0, dtype=np.float64), nn.ReLU())
    x, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    model(x)
    dx1 = model.backward(g)
    once = model[0].weight.grad.copy()
    dx2 = model.backward(g)
    np.testing.assert_allclose(dx1, dx2)
    np.testing.assert_allclose(model[0].weight.grad, 2 * once)
    model.zero_grad()
    assert model[0].weight.grad is None


def test_backward_belongs_to_the_latest_top_level_forward(rng):
    """Torch7's rule: after lin(a); lin(b) the backward is lin(b)'s; a second one, for lin(a),
    has no cache left and raises instead of reusing b's."""
    lin = nn.Linear(3, 2, rng=0, dtype=np.float64)
    a, b, g = rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), np.ones((4, 2))
    lin(a)
    lin(b)
    lin.backward(g)
    np.testing.assert_allclose(lin.weight.grad, g.T @ b)
    two_calls = nn.Sequential(nn.Tanh())
    tanh = two_calls[0]
    tanh(a)
    tanh(b)
    np.testing.assert_allclose(tanh.backward(np.ones_like(b)), 1 - np.tanh(b) ** 2)


def test_a_module_calling_a_child_twice_backpropagates_in_reverse_order(rng):
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 3, rng=0, dtype=np.float64)

        def forward(self, x):
            return self.lin(self.lin(x))

        def backward(self, dout):
            return self.lin.backward(self.lin.backward(dout))

    model = Twice()
    x, g = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    model.forward(x)  # called directly, not through __call__: still one forward pass
    dx = model.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    tl = torch_linear(model.lin)
    tl(tl(xt)).backward(torch.tensor(g))
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.lin.weight.grad, tl.weight.grad.numpy(), rtol=1e-10)


def test_the_same_model_on_tensors_and_on_arrays_agrees(rng):
    model = small_resnet(num_classes=3, widths=(4, 4, 8), dtype=np.float64)
    x, y = rng.standard_normal((2, 3, 16, 16)), np.array([0, 2])
    loss, dscores = ops.softmax_loss(model(x), y)
    model.backward(dscores)
    torch7 = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    loss_t = F.cross_entropy(model(Tensor(x)), y)
    loss_t.backward()
    assert float(loss_t.data) == pytest.approx(loss)
    for a, b in zip(torch7, (p.grad for p in model.parameters()), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_children_named_modules_apply_and_containers():
    blocks = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    heads = nn.ModuleDict({"a": nn.Linear(2, 1), "b": nn.Linear(2, 3)})

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks, self.heads = blocks, heads

    net = Net()
    assert net.children() == [blocks, heads]
    names = [name for name, _ in net.named_modules()]
    assert names == ["", "blocks", "blocks.0", "blocks.1", "heads", "heads.a", "heads.b"]
    assert [n for n, _ in net.named_parameters()] == [
        "blocks.0.weight", "blocks.0.bias", "heads.a.weight", "heads.a.bias",
        "heads.b.weight", "heads.b.bias"]
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "ModuleList", "Linear", "Linear", "ModuleDict", "Net"]
    net.to(np.float64)
    assert all(p.dtype == np.float64 for p in net.parameters())
    with pytest.raises(TypeError, match="ModuleList holds modules"):
        blocks.append(3)


def test_load_state_dict_strict_false_reports_what_it_skipped():
    source = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    target = nn.Sequential(nn.Linear(3, 4, rng=2), nn.ReLU(), nn.Linear(4, 5, rng=3))
    state = {k: v for k, v in source.state_dict().items() if k.startswith("0.")}
    state["extra"] = np.zeros(1, dtype=np.float32)
    result = target.load_state_dict(state, strict=False)
    assert result.missing_keys == ["2.bias", "2.weight"]
    assert result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(target[0].weight.data, source[0].weight.data)
    with pytest.raises(ValueError, match="missing"):
        target.load_state_dict(state)
    with pytest.raises(ValueError, match="shape"):
        target.load_state_dict(source.state_dict(), strict=False)


def test_a_pytorch_state_dict_is_refused_with_a_pointer_to_interop():
    lin = nn.Linear(3, 3)
    state = torch.nn.Linear(3, 3).state_dict()
    with pytest.raises(TypeError, match="course.interop"):
        lin.load_state_dict(state)


def test_manual_seed_makes_layers_dropout_and_models_repeatable():
    def build():
        course.manual_seed(7)
        layer, drop = nn.Linear(5, 5), nn.Dropout(0.5)
        return layer.weight.data.copy(), drop(np.ones((4, 5), dtype=np.float32))

    (w1, m1), (w2, m2) = build(), build()
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(m1, m2)
    course.manual_seed(8)
    assert not np.array_equal(nn.Linear(5, 5).weight.data, w1)
    with pytest.raises(TypeError, match="seed"):
        course.manual_seed(1.5)


def test_manual_seed_makes_shuffling_loaders_repeatable():
    from course.data import DataLoader

    def first_batch():
        course.manual_seed(5)
        return next(iter(DataLoader(np.arange(100), batch_size=10, shuffle=True)))

    np.testing.assert_array_equal(first_batch(), first_batch())
    assert not np.array_equal(first_batch(), np.arange(10))  # it did shuffle


def test_bias_false_and_padding_same():
    conv = nn.Conv2d(2, 3, 3, padding="same", bias=False)
    assert conv.bias is None and [n for n, _ in conv.named_parameters()] == ["weight"]
    x = np.ones((1, 2, 5, 4), dtype=np.float32)
    assert conv(x).shape == (1, 3, 5, 4)
    assert conv.backward(np.ones((1, 3, 5, 4), dtype=np.float32)).shape == x.shape
    assert nn.Linear(3, 2, bias=False)(np.ones((1, 3), dtype=np.float32)).shape == (1, 2)
    with pytest.raises(ValueError, match="same"):
        nn.Conv2d(2, 3, 2, padding="same")


def test_pools_take_kernel_size_and_padding_like_pytorch(rng):
    x = rng.standard_normal((2, 3, 5, 5))
    for ours, theirs in [(nn.MaxPool2d(3, stride=2, padding=1),
                          torch.nn.MaxPool2d(3, stride=2, padding=1)),
                         (nn.AvgPool2d(kernel_size=2, padding=1),
                          torch.nn.AvgPool2d(kernel_size=2, padding=1))]:
        xt = torch.tensor(x, requires_grad=True)
        out_t = theirs(xt)
        g = rng.standard_normal(out_t.shape)
        out_t.backward(torch.tensor(g))
        np.testing.assert_allclose(ours(x), out_t.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-12)
    assert nn.MaxPool2d(size=2).kernel_size == (2, 2)  # the course's older name still works
    with pytest.raises(TypeError, match="kernel_size"):
        nn.MaxPool2d(2, size=2)


def test_batchnorm1d_takes_sequences(rng):
    x = rng.standard_normal((4, 3, 6))
    ours, theirs = nn.BatchNorm1d(3, dtype=np.float64), torch.nn.BatchNorm1d(3,
                                                                              dtype=torch.float64)
    xt = torch.tensor(x, requires_grad=True)
    out = theirs(xt)
    g = rng.standard_normal(out.shape)
    out.backward(torch.tensor(g))
    np.testing.assert_allclose(ours(x), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-10)


def test_groups_dilation_and_output_padding_match_pytorch(rng):
    tF = torch.nn.functional
    x = rng.standard_normal((2, 4, 9, 8))
    conv = nn.Conv2d(4, 6, 3, stride=1, padding="same", dilation=2, groups=2, rng=0,
                     dtype=np.float64)
    conv.bias.data[:] = rng.standard_normal(6)
    up = nn.ConvTranspose2d(6, 3, 3, stride=2, padding=1, output_padding=1, rng=1,
                            dtype=np.float64)
    up.bias.data[:] = rng.standard_normal(3)
    params = {n: torch.tensor(v, requires_grad=True)
              for n, v in {"cw": conv.weight.data, "cb": conv.bias.data, "uw": up.weight.data,
                           "ub": up.bias.data}.items()}
    xt = torch.tensor(x, requires_grad=True)
    out_t = tF.conv_transpose2d(
        tF.conv2d(xt, params["cw"], params["cb"], padding=2, dilation=2, groups=2),
        params["uw"], params["ub"], stride=2, padding=1, output_padding=1)
    g = rng.standard_normal(out_t.shape)
    out_t.backward(torch.tensor(g))
    model = nn.Sequential(conv, up)
    # Torch7 style
    np.testing.assert_allclose(model(x), out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    dx = model.backward(g)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    for ours, name in [(conv.weight, "cw"), (conv.bias, "cb"), (up.weight, "uw"),
                       (up.bias, "ub")]:
        np.testing.assert_allclose(ours.grad, params[name].grad.numpy(), rtol=1e-9, atol=1e-12)
    # on Tensors
    model.zero_grad()
    xs = Tensor(x, requires_grad=True)
    model(xs).backward(g)
    np.testing.assert_allclose(xs.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(conv.weight.grad, params["cw"].grad.numpy(), rtol=1e-9)
    with pytest.raises(ValueError, match="groups \\(3\\) must divide"):
        nn.Conv2d(4, 6, 3, groups=3)
    with pytest.raises(ValueError, match="output_padding must be smaller than the stride"):
        nn.ConvTranspose2d(2, 2, 3, stride=1, output_padding=1)
