"""Every bad input of issue 16 gets a clear TypeError/ValueError naming the argument, or the
correct empty result for an empty batch; infinities give PyTorch's results, not NaN."""

import numpy as np
import pytest

from course import nn, ops, optim
from course.data import DataLoader
from course.models import mlp
from course.nn import Parameter
from course.train import Trainer

pytestmark = pytest.mark.dense


def test_relu_of_infinities_is_not_nan():
    out, cache = ops.relu_forward(np.array([-np.inf, np.inf, -1.0, 2.0]))
    np.testing.assert_array_equal(out, [0.0, np.inf, 0.0, 2.0])
    dx = ops.relu_backward(np.array([np.inf, np.inf, -np.inf, -np.inf]), cache)
    np.testing.assert_array_equal(dx, [0.0, np.inf, 0.0, -np.inf])
    assert ops.relu_forward(np.ones(2, dtype=np.float32))[0].dtype == np.float32


@pytest.mark.parametrize("make", [
    lambda: nn.Dropout(p=float("nan")),
    lambda: ops.dropout_forward(np.ones(3), float("nan")),
    lambda: nn.BatchNorm1d(3, momentum=float("nan")),
    lambda: nn.BatchNorm2d(3, eps=float("nan")),
    lambda: nn.LeakyReLU(float("nan"))(np.ones(2)),
    lambda: optim.SGD([Parameter(np.ones(2))], lr=float("nan")),
    lambda: optim.SGD([Parameter(np.ones(2))], lr=0.1, momentum=float("nan")),
    lambda: optim.Adam([Parameter(np.ones(2))], weight_decay=float("nan")),
    lambda: optim.RMSProp([Parameter(np.ones(2))], alpha=float("nan")),
    lambda: optim.Adagrad([Parameter(np.ones(2))], eps=float("nan")),
])
def test_nan_is_never_accepted_as_a_hyperparameter(make):
    with pytest.raises(ValueError, match="NaN"):
        make()


@pytest.mark.parametrize("kwargs, match", [
    ({"betas": (1.0, 0.999)}, "betas\\[0\\] must be below 1"),
    ({"betas": (0.9, -0.1)}, "betas\\[1\\] must be at least 0"),
    ({"betas": 0.9}, "betas must be a pair"),
    ({"clip_norm": -1}, "clip_norm must be above 0"),
    ({"lr": float("inf")}, "lr must be finite"),
    ({"eps": 0}, "eps must be above 0"),
])
def test_adam_hyperparameters_are_checked_at_construction(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        optim.Adam([Parameter(np.ones(2))], **kwargs)


def test_optimisers_check_their_parameters():
    model = mlp(4, (3,), 2)
    with pytest.raises(TypeError, match="model.parameters\\(\\), not the model"):
        optim.SGD(model)
    p = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="listed twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="must be an nn.Parameter"):
        optim.SGD([np.ones(2)], lr=0.1)
    with pytest.raises(ValueError, match="unknown hyper-parameters \\['momentum'\\]"):
        optim.Adam([{"params": [p], "momentum": 0.9}])


def test_a_gradient_of_the_wrong_shape_or_kind_is_an_error_at_step():
    p = Parameter(np.ones((2, 3)))
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.ones(3)  # would broadcast into the weight
    with pytest.raises(ValueError, match="shape \\(2, 3\\) got a gradient of shape \\(3,\\)"):
        opt.step()
    p.grad = np.ones((2, 3), dtype=int)
    with pytest.raises(TypeError, match="must hold floats"):
        opt.step()
    np.testing.assert_array_equal(p.data, np.ones((2, 3)))


def test_frozen_parameters_and_groups_with_their_own_rates():
    a, b, frozen = Parameter(np.ones(2)), Parameter(np.ones(2)), Parameter(np.ones(2))
    frozen.requires_grad = False
    opt = optim.SGD([{"params": [a], "lr": 0.5}, {"params": [b, frozen]}], lr=0.1,
                    momentum=0.9)
    for p in (a, b, frozen):
        p.grad = np.ones(2)
    opt.step()
    np.testing.assert_allclose(a.data, [0.5, 0.5])
    np.testing.assert_allclose(b.data, [0.9, 0.9])
    np.testing.assert_array_equal(frozen.data, [1.0, 1.0])
    scheduler = optim.StepLR(opt, step_size=1, gamma=0.1)
    scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.01])


def test_optimiser_state_is_checked_at_load():
    p = Parameter(np.ones(2))
    sgd = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = np.ones(2)
    sgd.step()
    with pytest.raises(ValueError, match="belongs to a SGD optimiser, not a Adam"):
        optim.Adam([p]).load_state_dict(sgd.state_dict())
    other = optim.SGD([Parameter(np.ones(3))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="has shape \\(2,\\), the parameter \\(3,\\)"):
        other.load_state_dict(sgd.state_dict())
    state = sgd.state_dict()
    state["param_groups"][0]["lr"] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        optim.SGD([p], lr=0.1, momentum=0.9).load_state_dict(state)


BAD_GRADIENTS = [
    (np.ones((2, 3), dtype=int), TypeError, "float32 or float64"),
    (np.ones((2, 3), dtype=complex), TypeError, "float32 or float64"),
    (np.ones((2, 3), dtype=bool), TypeError, "float32 or float64"),
    (np.ones((2, 3), dtype=object), TypeError, "float32 or float64"),
    (np.ones((2, 3), dtype=np.float32), TypeError, "dtype float64"),
    ([[1.0] * 3] * 2, TypeError, "numpy or CuPy array"),
    (None, TypeError, "numpy or CuPy array"),
]


def backward_cases(rng):
    x = rng.standard_normal((2, 4))
    yield "linear", ops.linear_backward, ops.linear_forward(x, rng.standard_normal((4, 3)),
                                                           np.zeros(3))[1]
    x3 = rng.standard_normal((2, 3))
    for name in ["relu", "sigmoid", "tanh", "leaky_relu", "elu"]:
        yield name, getattr(ops, f"{name}_backward"), getattr(ops, f"{name}_forward")(x3)[1]
    yield "rnn_step", ops.rnn_step_backward, ops.rnn_step_forward(
        x, rng.standard_normal((2, 3)), rng.standard_normal((4, 3)), rng.standard_normal((3, 3)),
        np.zeros(3))[1]


@pytest.mark.parametrize("dout, error, match", BAD_GRADIENTS)
def test_backward_functions_refuse_bad_upstream_gradients(rng, dout, error, match):
    for name, backward, cache in backward_cases(rng):
        with pytest.raises(error, match=match):
            backward(dout, cache)
        assert name  # every op of the list was reached


def test_empty_batches_give_empty_results(rng):
    w, b = rng.standard_normal((4, 3)), np.zeros(3)
    out, cache = ops.linear_forward(np.zeros((0, 4)), w, b)
    dx, dw, db = ops.linear_backward(np.zeros((0, 3)), cache)
    assert out.shape == (0, 3) and dx.shape == (0, 4)
    np.testing.assert_array_equal(dw, np.zeros((4, 3)))
    np.testing.assert_array_equal(db, np.zeros(3))
    x, h0 = np.zeros((2, 0, 4)), rng.standard_normal((2, 3))
    for forward, backward, gates in [(ops.rnn_forward, ops.rnn_backward, 1),
                                     (ops.lstm_forward, ops.lstm_backward, 4)]:
        h, cache = forward(x, h0, rng.standard_normal((4, 3 * gates)),
                           rng.standard_normal((3, 3 * gates)), np.zeros(3 * gates))
        dx, dh0, dWx, dWh, db = backward(np.zeros((2, 0, 3)), cache)
        assert h.shape == (2, 0, 3) and dx.shape == (2, 0, 4)
        np.testing.assert_array_equal(dh0, np.zeros((2, 3)))
        np.testing.assert_array_equal(dWh, np.zeros((3, 3 * gates)))


@pytest.mark.parametrize("make, error, match", [
    (lambda: nn.Linear(0, 3), ValueError, "in_features must be at least 1"),
    (lambda: nn.Linear(3, 0), ValueError, "out_features must be at least 1"),
    (lambda: nn.Linear(2.0, 3), TypeError, "in_features must be an int"),
    (lambda: nn.Linear(2, 3, bias=1), TypeError, "bias must be True or False"),
    (lambda: nn.Sequential(nn.ReLU(), np.ones(2)), TypeError, "Sequential takes modules"),
    (lambda: nn.Conv2d(1, 1, 3, padding="valid"), ValueError, "padding must be"),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError, "at most half the kernel size"),
])
def test_module_arguments_are_checked(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_fit_on_an_empty_loader_is_a_clear_error():
    model = mlp(4, (3,), 2)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), progress=False)
    empty = DataLoader(np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=int), 8)
    with pytest.raises(ValueError, match="train_loader yielded no examples"):
        trainer.fit(empty, epochs=1)
    with pytest.raises(ValueError, match="loader yielded no examples"):
        trainer.evaluate(empty)
