"""The gradient checker itself: it passes right gradients and names the wrong one."""

import numpy as np
import pytest

from course import ops
from course.gradcheck import (
    GradientCheckError,
    check_loss,
    check_op,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)


def test_numerical_gradient_of_a_quadratic():
    x = np.array([1.0, -2.0, 3.0])
    grad = numerical_gradient(lambda: np.sum(x ** 2), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)
    assert x.tolist() == [1.0, -2.0, 3.0]  # restored after perturbing


def test_numerical_gradient_array_weights_by_dout():
    x = np.array([[1.0, 2.0]])
    dout = np.array([[3.0, -1.0]])
    grad = numerical_gradient_array(lambda: x ** 3, x, dout)
    np.testing.assert_allclose(grad, 3 * x ** 2 * dout, rtol=1e-7)


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0
    assert rel_error(np.zeros(3), np.zeros(3)) == 0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(0.2 / 2.2)
    with pytest.raises(ValueError, match="equal shapes"):
        rel_error(np.ones(2), np.ones(3))


def test_check_op_names_the_wrong_gradient(rng):
    def backward_with_bug(dout, cache):
        dx, dw, db = ops.linear_backward(dout, cache)
        return dx, dw, db * 2  # forgot nothing, doubled the bias gradient

    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    with pytest.raises(GradientCheckError, match="gradient of 'b' is wrong: relative error"):
        check_op(ops.linear_forward, backward_with_bug, [x, w, b])


def test_check_op_reports_missing_and_misshapen_gradients(rng):
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
    with pytest.raises(GradientCheckError, match="returned 2 gradient.*x, w, b"):
        check_op(ops.linear_forward, lambda d, c: ops.linear_backward(d, c)[:2], [x, w, b])
    with pytest.raises(GradientCheckError, match=r"gradient of 'w' has shape \(2, 4\)"):
        check_op(ops.linear_forward,
                 lambda d, c: (lambda g: (g[0], g[1].T, g[2]))(ops.linear_backward(d, c)),
                 [x, w, b])


def test_check_op_with_tuple_outputs(rng):
    def forward(x, y):
        return (x * y, x + y), (x, y)

    def backward(douts, cache):
        (da, ds), (x, y) = douts, cache
        return da * y + ds, da * x + ds

    errors = check_op(forward, backward, [rng.standard_normal(3), rng.standard_normal(3)])
    assert max(errors.values()) < 1e-8


def test_check_loss_catches_a_forgotten_mean(rng):
    def loss_without_mean(scores, y):
        loss, dscores = ops.softmax_loss(scores, y)
        return loss, dscores * len(y)

    scores, y = rng.standard_normal((4, 3)), np.array([0, 1, 2, 0])
    assert check_loss(ops.softmax_loss, scores, y) < 1e-7
    with pytest.raises(GradientCheckError, match="'scores' is wrong"):
        check_loss(loss_without_mean, scores, y)


def test_check_op_is_deterministic(rng):
    x = rng.standard_normal((3, 3))
    first = check_op(ops.tanh_forward, ops.tanh_backward, [x], seed=5)
    assert check_op(ops.tanh_forward, ops.tanh_backward, [x], seed=5) == first
