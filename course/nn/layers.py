"""Dense layers: ``Linear``, activations and ``Flatten`` as modules (lectures 1-2).

Each module calls its op's forward, keeps the cache, and hands it to the op's backward.
"""

import numpy as np

from course import ops
from course.backend import get_array_module
from course.nn.init import init_weight
from course.nn.module import (
    NEEDS,
    Module,
    Parameter,
    is_data,
    is_graph_input,
    mark_data,
    takes_needs,
)
from course.ops.checks import check_bool, check_positive_int


class OpModule(Module):
    """A parameter-free module wrapping one op pair; ``params`` go to the forward (lecture 1).

    The standard pattern (see ``course.nn.module``): a subclass sets ``forward_op`` and
    ``backward_op`` and gets the Torch7 backward, module reuse and autograd on Tensors.
    """

    forward_op = None
    backward_op = None

    def __init__(self, **params):
        super().__init__()
        self.params = params

    def forward(self, x):
        out = self.call_op(type(self).forward_op, type(self).backward_op, x, **self.params)
        if is_data(x):
            mark_data(out)
        return out

    def backward(self, dout):
        cache = self.recall()
        if dout is None:  # the layers above skipped the gradient of the data
            return None
        return type(self).backward_op(dout, cache)

    def extra_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.params.items())


class ReLU(OpModule):
    """``max(0, x)`` as a module (lecture 1)."""

    forward_op = staticmethod(ops.relu_forward)
    backward_op = staticmethod(ops.relu_backward)


class Sigmoid(OpModule):
    """``1 / (1 + exp(-x))`` as a module (lecture 1)."""

    forward_op = staticmethod(ops.sigmoid_forward)
    backward_op = staticmethod(ops.sigmoid_backward)


class Tanh(OpModule):
    """Hyperbolic tangent as a module (lecture 1)."""

    forward_op = staticmethod(ops.tanh_forward)
    backward_op = staticmethod(ops.tanh_backward)


class LeakyReLU(OpModule):
    """``x`` where positive, ``alpha * x`` elsewhere, as a module (lecture 1)."""

    forward_op = staticmethod(ops.leaky_relu_forward)
    backward_op = staticmethod(ops.leaky_relu_backward)

    def __init__(self, alpha=0.01):
        super().__init__(alpha=alpha)


class ELU(OpModule):
    """``x`` where positive, ``alpha * (exp(x) - 1)`` elsewhere, as a module (lecture 1)."""

    forward_op = staticmethod(ops.elu_forward)
    backward_op = staticmethod(ops.elu_backward)

    def __init__(self, alpha=1.0):
        super().__init__(alpha=alpha)


class GELU(OpModule):
    """GELU, ``x * Phi(x)`` with Phi the standard normal CDF, as a module (lecture 1)."""

    forward_op = staticmethod(ops.gelu_forward)
    backward_op = staticmethod(ops.gelu_backward)


class SiLU(OpModule):
    """SiLU (swish), ``x * sigmoid(x)``, as a module (lecture 1)."""

    forward_op = staticmethod(ops.silu_forward)
    backward_op = staticmethod(ops.silu_backward)


class AffineOpModule(Module):
    """A module with a ``weight`` and a ``bias`` that wraps one op pair (lecture 1).

    ``forward(x)`` calls ``forward_op(x, weight, bias, **self.op_params())``; ``backward(dout)``
    adds the op's weight and bias gradients into ``weight.grad`` and ``bias.grad`` (skipping a
    frozen parameter) and returns the gradient of x. On a Tensor the call is recorded for
    autograd instead. Subclasses create ``self.weight`` and ``self.bias`` (``self.bias = None``
    for ``bias=False``: the op gets zeros) and, when their op takes more arguments, override
    ``op_params``. This is the standard pattern of ``course.nn.module``: nothing else is needed.

    When the op's backward takes ``need_dx``, ``need_dw`` and ``need_db`` (convolutions,
    linear), the gradients of a frozen
    parameter, and of the data under ``backward(dout, input_grad=False)``, are not computed.
    """

    forward_op = None
    backward_op = None

    def op_params(self):
        """Keyword arguments of ``forward_op`` besides x, weight and bias."""
        return {}

    def _bias(self):
        """The bias Parameter, or zeros (a constant) for a layer built with ``bias=False``."""
        if self.bias is not None:
            return self.bias
        xp = get_array_module(self.weight.data)
        return xp.zeros(self.bias_size(), dtype=self.weight.data.dtype)

    def bias_size(self):
        """Length of the bias: the outputs (the last axis of ``weight``; convolutions override)."""
        return self.weight.shape[-1]

    def forward(self, x):
        return self.call_op(type(self).forward_op, type(self).backward_op, x, self.weight,
                            self._bias(), **self.op_params())

    def backward(self, dout):
        dx, dweight, dbias = self.op_gradients(dout)
        self.accumulate(self.weight, dweight)
        self.accumulate(self.bias, dbias)
        return dx

    def op_gradients(self, dout):
        """dx, dweight, dbias from the op's backward, None for those nothing needs."""
        cache, backward_op = self.recall(), type(self).backward_op
        needs = (self.input_grad_needed(), self.weight.requires_grad,
                 self.bias is not None and self.bias.requires_grad)
        if all(needs) or not takes_needs(backward_op):
            return backward_op(dout, cache)
        return backward_op(dout, cache, **dict(zip(NEEDS, needs, strict=True)))


class OutInAffineOpModule(AffineOpModule):
    """An ``AffineOpModule`` whose ``weight`` is PyTorch's (out_features, in_features) while
    its op takes the lectures' (in, out) (``x @ W``): it hands the op ``weight.T`` and takes
    the transpose of the weight gradient (lecture 1). ``Linear`` and ``TemporalLinear``."""

    def forward(self, x):
        weight = self.weight.T if is_graph_input(x) else self.weight.data.T  # (D, M) for the op
        return self.call_op(type(self).forward_op, type(self).backward_op, x, weight,
                            self._bias())

    def backward(self, dout):
        dx, dweight, dbias = self.op_gradients(dout)
        if dweight is not None:
            self.accumulate(self.weight, get_array_module(dweight).ascontiguousarray(dweight.T))
        self.accumulate(self.bias, dbias)
        return dx

    def bias_size(self):
        return self.weight.shape[0]


class Linear(OutInAffineOpModule):
    """``out = x @ weight.T + bias`` (lecture 1); x (N, in_features) or (N, ...), out (N, M).

    ``weight`` is (out_features, in_features), PyTorch's layout, so that a PyTorch state dict
    (converted to numpy) loads as it is and computes what PyTorch computes. The op keeps the
    lectures' ``x @ W`` with W (D, M) (``ops.linear_forward``, assignment 1): the module hands
    it ``weight.T`` and takes the transpose of its weight gradient.

    Args:
        in_features, out_features: sizes D and M; ``weight`` is (M, D), ``bias`` (M,).
        bias: False for a layer without bias.
        init: ``"he"`` (ReLU networks) or ``"xavier"`` (tanh/sigmoid networks).
        rng: seed or ``numpy.random.Generator`` for the initial weights (default: drawn from
            ``course.manual_seed``'s source).
    """

    forward_op = staticmethod(ops.linear_forward)
    backward_op = staticmethod(ops.linear_backward)

    def __init__(self, in_features, out_features, bias=True, init="he", rng=None,
                 dtype=np.float32):
        super().__init__()
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        check_bool("bias", bias)
        self.in_features, self.out_features = in_features, out_features
        # drawn as the op's (D, M), stored as (M, D): a seed gives the layer it always gave
        w = init_weight((in_features, out_features), in_features, out_features, init, rng, dtype)
        self.weight = Parameter(np.ascontiguousarray(w.T))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype)) if bias else None

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}" + ("" if self.bias else ", bias=False")


class Flatten(Module):
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k) (lecture 1)."""

    def forward(self, x):
        if is_graph_input(x):
            return x.flatten(1)
        self.remember(x.shape)
        out = x.reshape(x.shape[0], -1)
        if is_data(x):
            mark_data(out)
        return out

    def backward(self, dout):
        shape = self.recall()
        return None if dout is None else dout.reshape(shape)
