"""Linear layer, activations and losses: gradients, values, dtypes and bad inputs (lectures 1-2)."""

import numpy as np
import pytest

from course import ops
from course.gradcheck import check_loss, check_op

pytestmark = pytest.mark.dense

ACTIVATIONS = [
    (ops.relu_forward, ops.relu_backward, lambda x: np.maximum(x, 0)),
    (ops.sigmoid_forward, ops.sigmoid_backward, lambda x: 1 / (1 + np.exp(-x))),
    (ops.tanh_forward, ops.tanh_backward, np.tanh),
    (ops.leaky_relu_forward, ops.leaky_relu_backward, lambda x: np.where(x > 0, x, 0.01 * x)),
    (ops.elu_forward, ops.elu_backward, lambda x: np.where(x > 0, x, np.expm1(x))),
]
ACTIVATION_IDS = ["relu", "sigmoid", "tanh", "leaky_relu", "elu"]


def away_from_zero(rng, shape):
    """Values with |x| >= 0.1, so that the kink of ReLU-like functions is never crossed."""
    x = rng.uniform(0.1, 2.0, size=shape)
    return x * rng.choice([-1.0, 1.0], size=shape)


@pytest.mark.parametrize("shape", [(1, 3), (4, 5), (2, 3, 4)])
def test_linear_gradients(rng, shape):
    d = int(np.prod(shape[1:]))
    x, w, b = rng.standard_normal(shape), rng.standard_normal((d, 6)), rng.standard_normal(6)
    errors = check_op(ops.linear_forward, ops.linear_backward, [x, w, b])
    assert set(errors) == {"x", "w", "b"}


def test_linear_values(rng):
    x, w, b = rng.standard_normal((3, 2, 2)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    out, _ = ops.linear_forward(x, w, b)
    np.testing.assert_allclose(out, x.reshape(3, 4) @ w + b)


@pytest.mark.parametrize("forward, backward, expected", ACTIVATIONS, ids=ACTIVATION_IDS)
def test_activation_values_and_gradients(rng, forward, backward, expected):
    x = away_from_zero(rng, (3, 4, 2))
    np.testing.assert_allclose(forward(x)[0], expected(x), rtol=1e-12, atol=1e-12)
    check_op(forward, backward, [x])


@pytest.mark.parametrize("forward, backward, expected", ACTIVATIONS, ids=ACTIVATION_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_keep_dtype(rng, forward, backward, expected, dtype):
    x = rng.standard_normal((5, 3)).astype(dtype)
    out, cache = forward(x)
    assert out.dtype == dtype
    assert backward(np.ones_like(out), cache).dtype == dtype


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise", invalid="raise"):
        out, _ = ops.sigmoid_forward(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


def test_activation_parameters_change_the_slope(rng):
    x = np.array([-2.0, 3.0])
    assert ops.leaky_relu_forward(x, alpha=0.5)[0].tolist() == [-1.0, 3.0]
    np.testing.assert_allclose(ops.elu_forward(x, alpha=2.0)[0], [2 * np.expm1(-2.0), 3.0])
    check_op(ops.leaky_relu_forward, ops.leaky_relu_backward, [away_from_zero(rng, (4,))],
             params={"alpha": 0.3})
    check_op(ops.elu_forward, ops.elu_backward, [away_from_zero(rng, (4,))],
             params={"alpha": 1.7})


@pytest.mark.parametrize("loss_fn", [ops.softmax_loss, ops.svm_loss])
def test_classification_loss_gradients(rng, loss_fn):
    scores, y = rng.standard_normal((6, 5)), rng.integers(0, 5, size=6)
    check_loss(loss_fn, scores, y)


def test_mse_gradient(rng):
    check_loss(ops.mse_loss, rng.standard_normal((4, 3)), rng.standard_normal((4, 3)))


def test_softmax_loss_values():
    # Uniform scores: loss is log(C) whatever the label.
    loss, dscores = ops.softmax_loss(np.zeros((2, 4)), np.array([0, 3]))
    assert loss == pytest.approx(np.log(4))
    np.testing.assert_allclose(dscores.sum(axis=1), 0, atol=1e-15)
    # Huge scores do not overflow.
    loss, _ = ops.softmax_loss(np.array([[1000.0, 0.0]]), np.array([0]))
    assert loss == pytest.approx(0.0, abs=1e-12)


def test_svm_loss_values():
    scores = np.array([[3.0, 2.5, 0.0]])
    loss, dscores = ops.svm_loss(scores, np.array([0]))
    assert loss == pytest.approx(0.5)  # only class 1 is within the margin
    assert dscores.tolist() == [[-1.0, 1.0, 0.0]]


def test_mse_values():
    loss, dpred = ops.mse_loss(np.array([[1.0, 2.0], [0.0, 0.0]]), np.zeros((2, 2)))
    assert loss == pytest.approx(2.5)
    assert dpred.tolist() == [[1.0, 2.0], [0.0, 0.0]]


def test_linear_rejects_bad_inputs(rng):
    x, w, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal(4)
    with pytest.raises(ValueError, match="w must have 3 rows"):
        ops.linear_forward(x, rng.standard_normal((5, 4)), b)
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        ops.linear_forward(x, w, rng.standard_normal(3))
    with pytest.raises(ValueError, match="w must have 2 dimensions"):
        ops.linear_forward(x, w.ravel(), b)
    with pytest.raises(TypeError, match="x must be float32 or float64, got int64"):
        ops.linear_forward(x.astype(np.int64), w, b)
    with pytest.raises(TypeError, match="share one dtype"):
        ops.linear_forward(x.astype(np.float32), w, b)
    with pytest.raises(TypeError, match="x must be a numpy or CuPy array, got list"):
        ops.linear_forward([[1.0, 2.0, 3.0]], w, b)
    _, cache = ops.linear_forward(x, w, b)
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.linear_backward(np.ones((2, 5)), cache)


def test_losses_reject_bad_labels(rng):
    scores = rng.standard_normal((3, 4))
    with pytest.raises(ValueError, match=r"y must be in \[0, 4\).*from 0 to 4"):
        ops.softmax_loss(scores, np.array([0, 1, 4]))
    with pytest.raises(ValueError, match="from -1"):
        ops.svm_loss(scores, np.array([0, -1, 2]))
    with pytest.raises(TypeError, match="integer class labels"):
        ops.softmax_loss(scores, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"y must have shape \(3,\)"):
        ops.softmax_loss(scores, np.array([0, 1]))
    with pytest.raises(ValueError, match="scores must have 2 dimensions"):
        ops.softmax_loss(scores.ravel(), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="target must have shape"):
        ops.mse_loss(scores, scores[:2])


def test_activation_rejects_bad_inputs():
    with pytest.raises(TypeError, match="x must be float32 or float64"):
        ops.relu_forward(np.array([1, 2]))
    with pytest.raises(ValueError, match="alpha must be at least 0"):
        ops.leaky_relu_forward(np.ones(2), alpha=-1)
    with pytest.raises(TypeError, match="alpha must be a number"):
        ops.elu_forward(np.ones(2), alpha="1")
    _, cache = ops.tanh_forward(np.ones((2, 2)))
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.tanh_backward(np.ones(3), cache)


def test_nan_propagates_like_numpy():
    out, _ = ops.tanh_forward(np.array([np.nan, 1.0]))
    assert np.isnan(out[0]) and not np.isnan(out[1])
