"""Tensors that record the ops run on them, and reverse-mode autodiff over them (lecture 2b).

MatConvNet's AutoNN floor, PyTorch's autograd: a ``Tensor`` wraps a numpy or CuPy array. Every
differentiable function run on Tensors that need gradients leaves a ``Node`` on its output: the
inputs it came from and a function that maps the output's gradient to theirs. For the library's
ops that function is the op's own ``NAME_backward(dout, cache)`` (``course.functional``); this
file adds only the array arithmetic (broadcasting ``+ - * /``, ``@``, sums, reshapes, indexing).

``loss.backward()`` visits the recorded graph once, from the loss back to the leaves, in
reverse topological order, adds up the gradients of values used more than once, and adds each
leaf's gradient into its ``.grad`` (a plain array). The graph is freed as it is replayed.

    x = Tensor(np.ones((2, 3)), requires_grad=True)
    loss = ((x * 2) @ np.ones((3, 1))).sum()
    loss.backward()          # x.grad == 2 everywhere
"""

import contextlib

import numpy as np

from course.backend import get_array_module, is_cupy_array

_GRAD_ENABLED = [True]


@contextlib.contextmanager
def no_grad():
    """Run the block without recording a graph (evaluation, optimiser updates) (lecture 2b)."""
    previous = _GRAD_ENABLED[0]
    _GRAD_ENABLED[0] = False
    try:
        yield
    finally:
        _GRAD_ENABLED[0] = previous


def is_grad_enabled():
    """False inside ``with no_grad():`` (lecture 2b)."""
    return _GRAD_ENABLED[0]


class Node:
    """One recorded call: ``inputs`` (a Tensor where that input needs a gradient, else None) and
    ``backward(dout) -> one gradient per input`` (lecture 2b)."""

    __slots__ = ("inputs", "backward", "name")

    def __init__(self, inputs, backward, name):
        self.inputs, self.backward, self.name = inputs, backward, name


def as_array(value):
    """The array inside a Tensor; anything else unchanged (lecture 2b)."""
    return value.data if isinstance(value, Tensor) else value


def record(data, inputs, backward, name):
    """Wrap ``data`` in a Tensor whose node links it to ``inputs`` (lecture 2b).

    Nothing is recorded under ``no_grad`` or when no input needs a gradient, so a graph only
    ever holds what ``backward`` will use.
    """
    needs = [isinstance(t, Tensor) and t.requires_grad for t in inputs]
    out = Tensor(data)
    if is_grad_enabled() and any(needs):
        out.requires_grad = True
        kept = [t if need else None for t, need in zip(inputs, needs, strict=True)]
        out.node = Node(kept, backward, name)
    return out


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, back to ``shape``
    (lecture 2b)."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


def _topological_order(root):
    """Every tensor the root depends on through recorded nodes, root first (lecture 2b)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        tensor, children_done = stack.pop()
        if children_done:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        if tensor.node is not None:
            stack.extend((t, False) for t in tensor.node.inputs if t is not None)
    return order[::-1]


class Tensor:
    """An array that can record the functions applied to it (lecture 2b).

    Args:
        data: a numpy or CuPy array, or anything ``numpy.asarray`` takes.
        requires_grad: make it a leaf whose ``.grad`` ``backward`` fills (float dtypes only).

    Attributes:
        data: the array. grad: the accumulated gradient (an array) after ``backward``, else None.
        node: how this tensor was computed (None for a leaf).
    """

    __array_ufunc__ = None  # numpy defers to Tensor's operators: array + Tensor -> Tensor

    def __init__(self, data, requires_grad=False):
        data = as_array(data)
        if not (isinstance(data, np.ndarray) or is_cupy_array(data)):
            data = np.asarray(data)
        if not isinstance(requires_grad, bool):
            raise TypeError(f"requires_grad must be True or False, got {requires_grad!r}")
        self.data, self.grad, self.node = data, None, None
        self.requires_grad = requires_grad

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        if value and self.data.dtype.kind != "f":
            raise TypeError(f"only float tensors can require gradients, got {self.data.dtype}")
        self._requires_grad = bool(value)

    # -- array-like attributes -------------------------------------------------------------------

    shape = property(lambda self: tuple(self.data.shape))
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = f", grad_fn={self.node.name}" if self.node is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({self.data!r}{grad})"

    def item(self):
        """The value of a one-element tensor as a Python number."""
        return self.data.item()

    def numpy(self):
        """The data as a numpy array (copied from the GPU if needed)."""
        from course.backend import to_host
        return to_host(self.data)

    def detach(self):
        """The same data, cut from the graph (no gradient flows through it)."""
        return Tensor(self.data)

    # -- backward --------------------------------------------------------------------------------

    def backward(self, grad=None, retain_graph=False):
        """Add d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires it (lecture 2b).

        Args:
            grad: the upstream gradient, self's shape; may be left out for a one-element tensor.
            retain_graph: keep the graph so ``backward`` can run through it again.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no leaf "
                               "with requires_grad=True was used to compute it")
        xp = get_array_module(self.data)
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without grad needs a one-element tensor, got "
                                   f"shape {self.shape}; pass grad of that shape")
            grad = xp.ones_like(self.data)
        grad = as_array(grad)
        if not (isinstance(grad, np.ndarray) or is_cupy_array(grad)) or grad.dtype.kind != "f":
            raise TypeError(f"grad must be a float array, got {type(grad).__name__}")
        if tuple(grad.shape) != self.shape:
            raise ValueError(f"grad must have shape {self.shape}, got {tuple(grad.shape)}")
        grads = {id(self): grad}
        for tensor in _topological_order(self):
            g = grads.pop(id(tensor), None)
            if g is None:
                continue
            if tensor.node is None:
                g = g.astype(tensor.data.dtype, copy=True)
                tensor.grad = g if tensor.grad is None else tensor.grad + g
                continue
            node = tensor.node
            if node.backward is None:
                raise RuntimeError(f"the graph through {node.name} was freed by an earlier "
                                   "backward(); pass retain_graph=True to replay it twice")
            input_grads = node.backward(g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for t, g_in in zip(node.inputs, input_grads, strict=True):
                if t is not None and g_in is not None:
                    grads[id(t)] = g_in if id(t) not in grads else grads[id(t)] + g_in
            if not retain_graph:
                node.backward = None  # frees the op's cache

    # -- arithmetic (broadcasting, like numpy) ------------------------------------------------

    def __add__(self, other):
        a, b = self.data, as_array(other)
        shape_a, shape_b = np.shape(a), np.shape(b)
        return record(a + b, (self, other),
                      lambda g: (unbroadcast(g, shape_a), unbroadcast(g, shape_b)), "add")

    __radd__ = __add__

    def __neg__(self):
        return record(-self.data, (self,), lambda g: -g, "neg")

    def __sub__(self, other):
        return self + (-other if isinstance(other, Tensor) else -as_array(other))

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        a, b = self.data, as_array(other)
        return record(a * b, (self, other),
                      lambda g: (unbroadcast(g * b, np.shape(a)), unbroadcast(g * a, np.shape(b))),
                      "mul")

    __rmul__ = __mul__

    def __truediv__(self, other):
        a, b = self.data, as_array(other)
        return record(a / b, (self, other),
                      lambda g: (unbroadcast(g / b, np.shape(a)),
                                 unbroadcast(-g * a / (b * b), np.shape(b))), "div")

    def __rtruediv__(self, other):
        return Tensor(as_array(other)) / self if not isinstance(other, Tensor) else other / self

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)) or isinstance(exponent, bool):
            raise TypeError(f"exponent must be a number, got {type(exponent).__name__}")
        a = self.data
        return record(a ** exponent, (self,), lambda g: g * exponent * a ** (exponent - 1),
                      "pow")

    def __matmul__(self, other):
        a, b = self.data, as_array(other)
        if a.ndim < 2 or np.ndim(b) < 2:
            raise ValueError(f"matmul needs operands of at least 2 dimensions, got shapes "
                             f"{tuple(a.shape)} and {tuple(np.shape(b))}")

        def backward(g):
            da = g @ b.swapaxes(-1, -2)
            db = a.swapaxes(-1, -2) @ g
            return unbroadcast(da, a.shape), unbroadcast(db, b.shape)
        return record(a @ b, (self, other), backward, "matmul")

    def __rmatmul__(self, other):
        return Tensor(as_array(other)) @ self

    def exp(self):
        out = get_array_module(self.data).exp(self.data)
        return record(out, (self,), lambda g: g * out, "exp")

    def log(self):
        a = self.data
        return record(get_array_module(a).log(a), (self,), lambda g: g / a, "log")

    # -- reductions and shapes -------------------------------------------------------------------

    def sum(self, axis=None, keepdims=False):
        shape = self.data.shape

        def backward(g):
            if not keepdims and axis is not None:
                g = get_array_module(g).expand_dims(g, axis)
            return get_array_module(g).broadcast_to(g, shape).copy()
        return record(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward, "sum")

    def mean(self, axis=None, keepdims=False):
        total = self.sum(axis=axis, keepdims=keepdims)
        count = self.data.size // max(total.data.size, 1)
        return total * self.data.dtype.type(1 / max(count, 1))

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        old = self.data.shape
        return record(self.data.reshape(shape), (self,), lambda g: g.reshape(old), "reshape")

    def flatten(self, start_dim=1):
        """Merge the dimensions from ``start_dim`` on (PyTorch's ``flatten(1)`` by default)."""
        return self.reshape(self.shape[:start_dim] + (-1,))

    def transpose(self, *axes):
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        axes = axes or tuple(reversed(range(self.ndim)))
        inverse = tuple(np.argsort(axes))
        return record(self.data.transpose(axes), (self,), lambda g: g.transpose(inverse),
                      "transpose")

    T = property(lambda self: self.transpose())

    def __getitem__(self, index):
        index = as_array(index)
        shape, dtype = self.data.shape, self.data.dtype

        def backward(g):
            xp = get_array_module(g)
            full = xp.zeros(shape, dtype=dtype)
            if xp is np:
                np.add.at(full, index, g)
            else:
                import cupyx
                cupyx.scatter_add(full, index, g)
            return full
        return record(self.data[index], (self,), backward, "getitem")
