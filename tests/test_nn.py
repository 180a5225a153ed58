"""Modules: backward fills every gradient, state round trips, modes, Sequential (lecture 2)."""

import numpy as np
import pytest

from course import nn, ops
from course.gradcheck import numerical_gradient, rel_error
from course.models import mlp

pytestmark = pytest.mark.dense


def loss_of(model, x, y):
    return ops.softmax_loss(model(x), y)[0]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "elu"])
def test_mlp_parameter_gradients_match_numerical(rng, activation):
    model = mlp(6, (5, 4), 3, activation=activation, rng=0, dtype=np.float64)
    x, y = rng.standard_normal((4, 6)), rng.integers(0, 3, size=4)
    _, dscores = ops.softmax_loss(model(x), y)
    dx = model.backward(dscores)
    for name, p in model.named_parameters():
        numerical = numerical_gradient(lambda: loss_of(model, x, y), p.data)
        assert rel_error(p.grad, numerical) < 1e-6, name
    assert rel_error(dx, numerical_gradient(lambda: loss_of(model, x, y), x)) < 1e-6


def test_parameters_and_names():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3, rng=0), nn.ReLU(), nn.Linear(3, 2, rng=1))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["1.weight", "1.bias", "3.weight", "3.bias"]
    assert [p.shape for p in model.parameters()] == [(3, 4), (3,), (2, 3), (2,)]  # (out, in)


def test_state_dict_round_trip_copies_values():
    a, b = mlp(4, (3,), 2, rng=0), mlp(4, (3,), 2, rng=1)
    state = a.state_dict()
    b.load_state_dict(state)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
    state["1.weight"][:] = 0  # a copy: the model is untouched
    assert np.abs(a.parameters()[0].data).sum() > 0


def test_buffers_are_saved_and_loaded():
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("count", np.zeros(2))

    a, b = Counter(), Counter()
    a._buffers["count"] += 3
    b.load_state_dict(a.state_dict())
    assert b.count.tolist() == [3.0, 3.0]
    assert dict(a.named_buffers())["count"].tolist() == [3.0, 3.0]


def test_load_state_dict_rejects_mismatches():
    model = mlp(4, (3,), 2, rng=0)
    state = model.state_dict()
    with pytest.raises(ValueError, match="missing.*1.bias"):
        model.load_state_dict({k: v for k, v in state.items() if k != "1.bias"})
    with pytest.raises(ValueError, match=r"1.weight has shape \(3, 4\) here but \(3, 3\)"):
        model.load_state_dict({**state, "1.weight": np.zeros((3, 3))})


def test_train_eval_reaches_every_module():
    model = mlp(4, (3,), 2, rng=0)
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_seeded_initialisation_is_repeatable_and_scaled():
    a, b = nn.Linear(500, 400, rng=7), nn.Linear(500, 400, rng=7)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert a.weight.data.std() == pytest.approx(np.sqrt(2 / 500), rel=0.02)
    xavier = nn.Linear(500, 400, init="xavier", rng=7)
    assert xavier.weight.data.std() == pytest.approx(np.sqrt(2 / 900), rel=0.02)
    with pytest.raises(ValueError, match="init must be 'he' or 'xavier'"):
        nn.Linear(2, 2, init="uniform")


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Linear(2, 2).backward(np.ones((1, 2), dtype=np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.ReLU().backward(np.ones(2))


def test_to_cpu_keeps_arrays_and_zero_grad_clears():
    model = mlp(4, (3,), 2, rng=0)
    x = np.ones((2, 4), dtype=np.float32)
    model.backward(ops.softmax_loss(model(x), np.array([0, 1]))[1])
    assert all(p.grad is not None for p in model.parameters())
    model.to("cpu")
    assert all(isinstance(p.data, np.ndarray) for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        model.to("tpu")


def test_repr_lists_layers():
    text = repr(mlp(4, (3,), 2))
    assert "Linear(4, 3)" in text and "ReLU()" in text
