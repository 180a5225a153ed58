"""course.Tensor: broadcasting arithmetic, matmul, reductions, reshapes and indexing give
PyTorch's float64 gradients; a value used twice sums its gradients; inputs that need no
gradient are left alone."""

import numpy as np
import pytest

from course import Tensor, no_grad
from course.tensor import is_grad_enabled

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.dense


def both(rng, *shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    return ([Tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


EXPRESSIONS = {
    "broadcast add, sub, mul, div": (((3, 4), (4,), (3, 1)),
                                     lambda a, b, c: (a + b) * c - a / (c * c + 1) + 2 - b),
    "reflected operators": (((2, 3), (3,)), lambda a, b: 1 - 2 * a + 3 / (b * b + 1) - b),
    "matmul and transpose": (((3, 4), (5, 4)), lambda a, b: (a @ b.T).T @ a),
    "batched matmul": (((2, 3, 4), (4, 2)), lambda a, b: a @ b),
    "sum, mean and pow": (((3, 4),), lambda a: (a ** 2).sum(axis=1) + a.mean(axis=0).sum()
                          + a.mean() + a.sum(axis=0, keepdims=True).sum()),
    "reshape, indexing": (((2, 6),), lambda a: a.reshape(3, 4)[1:, ::2] * a.reshape(4, 3)[0, 1]),
    "exp, log": (((2, 3),), lambda a: (a.exp() + 1).log()),
    "value used twice": (((3,),), lambda a: a * a + a),
}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_gradients_match_pytorch(rng, name):
    shapes, f = EXPRESSIONS[name]
    ours, theirs = both(rng, *shapes)
    out, out_t = f(*ours), f(*theirs)
    g = rng.standard_normal(out.shape)
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-12)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_integer_index_arrays_accumulate_repeated_rows(rng):
    (a,), (at,) = both(rng, (4, 2))
    idx = np.array([0, 2, 0, 0])
    a[idx].sum().backward()
    at[torch.tensor(idx)].sum().backward()
    np.testing.assert_allclose(a.grad, at.grad.numpy())


def test_gradients_accumulate_across_backward_calls(rng):
    a = Tensor(rng.standard_normal(3), requires_grad=True)
    (a * 2).sum().backward()
    (a * 3).sum().backward()
    np.testing.assert_allclose(a.grad, np.full(3, 5.0))


def test_only_what_needs_a_gradient_is_recorded(rng):
    a, b = Tensor(rng.standard_normal(3), requires_grad=True), Tensor(rng.standard_normal(3))
    out = a * b
    assert out.node.inputs[1] is None  # b needs nothing: its gradient is never formed
    out.sum().backward()
    assert b.grad is None
    plain = b * 2
    assert plain.node is None and not plain.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        plain.sum().backward()


def test_no_grad_is_a_context_that_restores_the_mode(rng):
    a = Tensor(rng.standard_normal(3), requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        out = a * 2
    assert is_grad_enabled() and out.node is None
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError("inside")
    assert is_grad_enabled()


def test_backward_checks_its_gradient_and_tensor_arguments(rng):
    a = Tensor(rng.standard_normal((2, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match="one-element"):
        (a * 2).backward()
    with pytest.raises(ValueError, match="grad must have shape \\(2, 2\\)"):
        (a * 2).backward(np.ones(3))
    with pytest.raises(TypeError, match="grad must be a float array"):
        (a * 2).backward(np.ones((2, 2), dtype=int))
    with pytest.raises(TypeError, match="only float tensors"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad must be True or False"):
        Tensor(np.ones(2), requires_grad=1)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        a @ np.ones(2)


def test_a_deep_chain_does_not_hit_the_recursion_limit():
    x = Tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones(2))


def test_numpy_arrays_on_the_left_defer_to_the_tensor(rng):
    a = Tensor(rng.standard_normal(3), requires_grad=True)
    out = np.ones(3) * a + np.ones(3)
    assert isinstance(out, Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, np.ones(3))
