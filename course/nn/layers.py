"""Dense layers: ``Linear``, activations and ``Flatten`` as modules (lectures 1-2).

Each module calls its op's forward, keeps the cache, and hands it to the op's backward.
"""

import numpy as np

from course import ops
from course.nn.init import init_weight
from course.nn.module import Module, Parameter


class OpModule(Module):
    """A parameter-free module wrapping one op pair; ``params`` go to the forward (lecture 1)."""

    forward_op = None
    backward_op = None

    def __init__(self, **params):
        super().__init__()
        self.params = params
        self.cache = None

    def forward(self, x):
        out, self.cache = type(self).forward_op(x, **self.params)
        return out

    def backward(self, dout):
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return type(self).backward_op(dout, self.cache)

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

    ``forward(x)`` calls ``forward_op(x, weight, bias, **self.op_params())`` and keeps the
    cache; ``backward(dout)`` stores the op's weight and bias gradients in ``weight.grad`` and
    ``bias.grad`` and returns the gradient of x. Subclasses create ``self.weight`` and
    ``self.bias`` and, when their op takes more arguments, override ``op_params``.
    """

    forward_op = None
    backward_op = None
    cache = None

    def op_params(self):
        """Keyword arguments of ``forward_op`` besides x, weight and bias."""
        return {}

    def forward(self, x):
        out, self.cache = type(self).forward_op(x, self.weight.data, self.bias.data,
                                                **self.op_params())
        return out

    def backward(self, dout):
        if self.cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dx, self.weight.grad, self.bias.grad = type(self).backward_op(dout, self.cache)
        return dx


class Linear(AffineOpModule):
    """``out = x @ weight + bias`` (lecture 1); x (N, in_features) or (N, ...), out (N, M).

    Args:
        in_features, out_features: sizes D and M; ``weight`` is (D, M), ``bias`` (M,).
        init: ``"he"`` (ReLU networks) or ``"xavier"`` (tanh/sigmoid networks).
        rng: seed or ``numpy.random.Generator`` for the initial weights.
    """

    forward_op = staticmethod(ops.linear_forward)
    backward_op = staticmethod(ops.linear_backward)

    def __init__(self, in_features, out_features, init="he", rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init_weight((in_features, out_features), in_features,
                                            out_features, init, rng, dtype))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype))

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}"


class Flatten(Module):
    """(N, d_1, ..., d_k) -> (N, d_1 * ... * d_k) (lecture 1)."""

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.input_shape)
