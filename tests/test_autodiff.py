"""The scalar engine agrees with course.ops and with numerical derivatives (lecture 2)."""

import math

import numpy as np
import pytest

from course import ops
from course.autodiff import Value, graph

pytestmark = pytest.mark.dense


def numerical(f, values, i, h=1e-6):
    up, down = list(values), list(values)
    up[i] += h
    down[i] -= h
    return (f(*up) - f(*down)) / (2 * h)


def test_every_operation_against_numerical_derivatives():
    def f(a, b, c):
        return ((a * b + c ** 2).tanh() + (a - c).exp() / (b + 3) - (-a).relu() + 2 ** 1
                + c.relu() * 3 - 1 / b) if isinstance(a, Value) else (
            math.tanh(a * b + c ** 2) + math.exp(a - c) / (b + 3) - max(-a, 0) + 2
            + max(c, 0) * 3 - 1 / b)

    values = [0.7, -1.3, 0.4]
    inputs = [Value(v) for v in values]
    out = f(*inputs)
    out.backward()
    assert out.data == pytest.approx(f(*values))
    for i, v in enumerate(inputs):
        assert v.grad == pytest.approx(numerical(f, values, i), rel=1e-6)


def test_a_node_used_twice_accumulates_its_gradient():
    a = Value(3.0)
    b = a * a
    out = b + b * a  # a^2 + a^3
    out.backward()
    assert a.grad == pytest.approx(2 * 3 + 3 * 9)
    out.backward()  # running backward again gives the same gradients, not double
    assert a.grad == pytest.approx(33.0)


def test_neuron_matches_linear_and_tanh_ops(rng):
    x, w, b = rng.standard_normal((1, 3)), rng.standard_normal((3, 1)), rng.standard_normal(1)
    xs = [Value(v) for v in x[0]]
    ws = [Value(v) for v in w[:, 0]]
    bias = Value(b[0])
    out = (sum((xi * wi for xi, wi in zip(xs, ws, strict=True)), bias)).tanh()
    out.backward()
    z, cache_linear = ops.linear_forward(x, w, b)
    y, cache_tanh = ops.tanh_forward(z)
    dx, dw, db = ops.linear_backward(ops.tanh_backward(np.ones_like(y), cache_tanh), cache_linear)
    assert out.data == pytest.approx(y[0, 0])
    np.testing.assert_allclose([v.grad for v in ws], dw[:, 0])
    np.testing.assert_allclose([v.grad for v in xs], dx[0])
    assert bias.grad == pytest.approx(db[0])


def test_deep_graph_and_graph_listing():
    xs = [Value(0.001 * i) for i in range(3000)]
    total = sum(x * x for x in xs)  # a chain 3000 deep: no recursion limit
    total.backward()
    assert xs[10].grad == pytest.approx(0.02)
    a, b = Value(1.0), Value(2.0)
    c = a * b + a
    nodes, edges = graph(c)
    assert nodes[-1] is c and len(nodes) == 4 and len(edges) == 4
    position = {id(n): i for i, n in enumerate(nodes)}
    assert all(position[id(p)] < position[id(child)] for p, child in edges)


def test_bad_exponent():
    with pytest.raises(TypeError, match="exponent must be an int or float"):
        Value(2.0) ** Value(3.0)
