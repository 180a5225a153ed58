"""A tiny scalar reverse-mode autodiff engine for lecture 2 (backprop), in micrograd's spirit.

Each ``Value`` remembers the values it was made from and how to pass its gradient back to
them; ``backward()`` visits the graph in reverse topological order, applying the chain rule.

>>> a, b = Value(2.0), Value(-3.0)
>>> c = (a * b + a.exp()).tanh()
>>> c.backward()
>>> a.grad, b.grad   # dc/da, dc/db
"""

import math


class Value:
    """A scalar that records the operations applied to it (lecture 2)."""

    def __init__(self, data, parents=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self.parents = parents
        self.op = op
        self._backward = lambda: None

    def __add__(self, other):
        other = as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = backward
        return out

    def __mul__(self, other):
        other = as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = backward
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(f"exponent must be an int or float, got {type(exponent).__name__}")
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def backward():
            self.grad += out.data * out.grad

        out._backward = backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def backward():
            self.grad += (1 - out.data ** 2) * out.grad

        out._backward = backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def backward():
            self.grad += (self.data > 0) * out.grad

        out._backward = backward
        return out

    def backward(self):
        """Fill ``grad`` of every Value this one depends on with d(self)/d(value)."""
        order, _ = graph(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    # The rest are built from the operations above.
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-as_value(other))

    def __truediv__(self, other):
        return self * as_value(other) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return as_value(other) - self

    def __rtruediv__(self, other):
        return as_value(other) / self

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


def as_value(x):
    """Wrap a plain number in a Value; a Value is returned as it is (lecture 2)."""
    return x if isinstance(x, Value) else Value(x)


def graph(root):
    """Nodes and edges of the graph that produced ``root``, for drawing (lecture 2).

    Returns ``(nodes, edges)``: nodes in topological order (every node after its parents),
    edges as ``(parent, child)`` pairs. Iterative, so deep graphs do not hit Python's
    recursion limit.
    """
    nodes, edges, expanded = [], [], set()
    stack = [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            nodes.append(node)
        elif id(node) not in expanded:
            expanded.add(id(node))
            stack.append((node, True))
            for parent in node.parents:
                edges.append((parent, node))
                if id(parent) not in expanded:
                    stack.append((parent, False))
    return nodes, edges
