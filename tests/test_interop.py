"""course.interop: state dicts both ways between course models and the same models built with
torch.nn (mlp, lenet5, small_resnet, an LSTM), which then compute the same outputs."""

import numpy as np
import pytest

from course import interop, nn
from course.models import lenet5, mlp, small_resnet

torch = pytest.importorskip("torch")
tnn = torch.nn


class TorchResidual(tnn.Module):
    def __init__(self, block, shortcut=None):
        super().__init__()
        self.block, self.shortcut = block, shortcut

    def forward(self, x):
        return self.block(x) + (x if self.shortcut is None else self.shortcut(x))


class TorchGlobalAvgPool(tnn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def torch_mirror(module):
    """The torch.nn module built the same way as a course module (same names and positions)."""
    kw = {"dtype": torch.float64}
    if isinstance(module, nn.Sequential):
        return tnn.Sequential(*[torch_mirror(m) for m in module])
    if isinstance(module, nn.Residual):
        return TorchResidual(torch_mirror(module.block),
                             None if module.shortcut is None else torch_mirror(module.shortcut))
    if isinstance(module, nn.Linear):
        return tnn.Linear(module.in_features, module.out_features, **kw)
    if isinstance(module, nn.Conv2d):
        return tnn.Conv2d(module.in_channels, module.out_channels, module.kernel_size,
                          module.stride, module.padding, **kw)
    if isinstance(module, nn.BatchNorm2d):
        return tnn.BatchNorm2d(module.num_features, **kw)
    if isinstance(module, nn.MaxPool2d):
        return tnn.MaxPool2d(module.kernel_size)
    if isinstance(module, nn.GlobalAvgPool2d):
        return TorchGlobalAvgPool()
    if isinstance(module, nn.Flatten):
        return tnn.Flatten()
    if isinstance(module, nn.ReLU):
        return tnn.ReLU()
    raise AssertionError(f"no mirror for {type(module).__name__}")


MODELS = {
    "mlp": (lambda: mlp(12, (8, 6), 3, rng=0, dtype=np.float64), (4, 12)),
    "lenet5": (lambda: lenet5(rng=0, input_size=16).to(np.float64), (2, 1, 16, 16)),
    "small_resnet": (lambda: small_resnet(3, widths=(4, 6, 8), rng=0, dtype=np.float64),
                     (2, 3, 16, 16)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_both_directions_reproduce_the_outputs(rng, name):
    build, shape = MODELS[name]
    model = build().eval()
    mirror = torch_mirror(model).eval()
    x = rng.standard_normal(shape)
    # course -> PyTorch
    mirror.load_state_dict(interop.to_torch_state_dict(model))
    expected = model(x)
    np.testing.assert_allclose(mirror(torch.tensor(x)).detach().numpy(), expected, rtol=1e-9,
                               atol=1e-12)
    # PyTorch -> course, after PyTorch changed every weight
    with torch.no_grad():
        for p in mirror.parameters():
            p.mul_(1.5).add_(0.01)
    fresh = build().eval()
    fresh.load_state_dict(interop.from_torch_state_dict(fresh, mirror.state_dict()))
    np.testing.assert_allclose(fresh(x), mirror(torch.tensor(x)).detach().numpy(), rtol=1e-9,
                               atol=1e-12)


def test_lstm_both_directions(rng):
    lstm = nn.LSTM(3, 5, rng=0, dtype=np.float64)
    lstm.b.data[:] = rng.standard_normal(20)
    mirror = tnn.LSTM(3, 5, batch_first=True, dtype=torch.float64)
    mirror.load_state_dict(interop.to_torch_state_dict(lstm))
    x = rng.standard_normal((2, 4, 3))
    out, _ = mirror(torch.tensor(x))
    np.testing.assert_allclose(lstm(x)[0], out.detach().numpy(), rtol=1e-9, atol=1e-12)

    fresh = tnn.LSTM(3, 5, batch_first=True, dtype=torch.float64)  # two random biases
    ours = nn.LSTM(3, 5, dtype=np.float64)
    ours.load_state_dict(interop.from_torch_state_dict(ours, fresh.state_dict()))
    np.testing.assert_allclose(ours(x)[0], fresh(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-9, atol=1e-12)


def test_a_state_that_does_not_fit_is_a_clear_error():
    model = mlp(4, (3,), 2, rng=0)
    other = tnn.Sequential(tnn.Flatten(), tnn.Linear(4, 3), tnn.ReLU(), tnn.Linear(3, 2),
                           tnn.Linear(2, 2))
    with pytest.raises(ValueError, match="unexpected"):
        interop.from_torch_state_dict(model, other.state_dict())
    wrong = tnn.Sequential(tnn.Flatten(), tnn.Linear(4, 5), tnn.ReLU(), tnn.Linear(5, 2))
    with pytest.raises(ValueError, match="shape"):
        interop.from_torch_state_dict(model, wrong.state_dict())

    class Custom(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(np.ones(2))

    with pytest.raises(ValueError, match="no PyTorch layout is known for Custom"):
        interop.to_torch_state_dict(Custom())


def test_a_square_torch_linear_loads_as_numpy_and_computes_the_same(rng):
    """Linear(3, 3) is where a transposed layout would load silently: nn.Linear keeps
    PyTorch's (out, in), so the plain numpy state dict gives PyTorch's outputs."""
    layer = tnn.Linear(3, 3, dtype=torch.float64)
    ours = nn.Linear(3, 3, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in layer.state_dict().items()})
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(ours(x), layer(torch.tensor(x)).detach().numpy(), rtol=1e-12)


SQUARE_MLP = (lambda: mlp(3, (3, 3), 3, rng=0, dtype=np.float64), (4, 3))


@pytest.mark.parametrize("name", sorted(MODELS) + ["square_mlp"])
def test_a_numpy_torch_state_dict_reproduces_the_outputs_or_raises(rng, name):
    """The PyTorch state dict converted to numpy and nothing else: loading it either gives
    PyTorch's outputs or raises (batch norm's num_batches_tracked has no course counterpart;
    strict=False skips it and then the outputs are PyTorch's)."""
    build, shape = SQUARE_MLP if name == "square_mlp" else MODELS[name]
    mirror = torch_mirror(build()).eval()
    with torch.no_grad():
        for p in mirror.parameters():
            p.copy_(torch.randn(p.shape, dtype=torch.float64, generator=torch.Generator()
                                .manual_seed(p.numel())))
    state = {k: v.numpy() for k, v in mirror.state_dict().items()}
    model = build().eval()
    extra = sorted(k for k in state if k.endswith("num_batches_tracked"))
    if extra:
        with pytest.raises(ValueError, match="unexpected .*num_batches_tracked"):
            model.load_state_dict(state)
        assert model.load_state_dict(state, strict=False).unexpected_keys == extra
    else:
        model.load_state_dict(state)
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(model(x), mirror(torch.tensor(x)).detach().numpy(), rtol=1e-9,
                               atol=1e-12)


def test_stacked_lstm_both_directions(rng):
    lstm = nn.LSTM(3, 4, num_layers=2, rng=0, dtype=np.float64)
    mirror = tnn.LSTM(3, 4, num_layers=2, batch_first=True, dtype=torch.float64)
    mirror.load_state_dict(interop.to_torch_state_dict(lstm))
    x = rng.standard_normal((2, 5, 3))
    out, (h_n, c_n) = lstm(x)
    tout, (th, tc) = mirror(torch.tensor(x))
    for ours, theirs in ((out, tout), (h_n, th), (c_n, tc)):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)
    fresh = nn.LSTM(3, 4, num_layers=2, dtype=np.float64)
    fresh.load_state_dict(interop.from_torch_state_dict(fresh, mirror.state_dict()))
    np.testing.assert_allclose(fresh(x)[0], tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match=r"missing \[.*'weight_hh_l1'"):
        interop.from_torch_state_dict(fresh, tnn.LSTM(3, 4, dtype=torch.float64).state_dict())
