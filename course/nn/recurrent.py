"""Sequence modules: ``Embedding``, ``RNN``, ``LSTM`` and ``TemporalLinear`` (lectures 7-8).

Sequences are batch-first: x (N, T, D). ``RNN`` and ``LSTM`` return the whole hidden-state
sequence (N, T, H); ``forward(x, h0=None)`` starts from zeros unless ``h0`` (N, H) is given, and
``backward(dh)`` returns dx and keeps the gradient of the initial state in ``self.dh0``.
"""

import numpy as np

from course import ops
from course.backend import get_array_module
from course.nn.init import make_rng
from course.nn.layers import AffineOpModule
from course.nn.module import Module, Parameter
from course.tensor import Tensor


def _embedding_forward(weight, idx):
    """``ops.embedding_forward`` with the differentiable argument first."""
    return ops.embedding_forward(idx, weight)


class Embedding(Module):
    """A table of ``num_embeddings`` learned vectors of size ``embedding_dim`` (lecture 7).

    forward(idx): idx (N, T) integer ids in [0, num_embeddings) -> (N, T, embedding_dim).
    """

    def __init__(self, num_embeddings, embedding_dim, rng=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        w = make_rng(rng).standard_normal((num_embeddings, embedding_dim)) / 10
        self.weight = Parameter(w.astype(dtype))

    def forward(self, idx):
        """idx: an (N, T) integer array, or a Tensor holding one (then the output is a Tensor
        in the graph)."""
        return self.call_op(_embedding_forward, ops.embedding_backward, self.weight, idx=idx)

    def backward(self, dout):
        """Adds into ``weight.grad``; token ids have no gradient, so this returns None."""
        self.accumulate(self.weight, ops.embedding_backward(dout, self.recall()))

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class _Recurrent(Module):
    """Shared code of RNN and LSTM: weights ``Wx`` (D, G*H), ``Wh`` (H, G*H), ``b`` (G*H,)."""

    gates = 1
    forward_op = backward_op = None

    def __init__(self, input_size, hidden_size, rng=None, dtype=np.float32):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        rng = make_rng(rng)
        width = self.gates * hidden_size
        # CS231n's initialisation: unit-variance pre-activations for unit-variance inputs
        self.Wx = Parameter((rng.standard_normal((input_size, width))
                             / np.sqrt(input_size)).astype(dtype))
        self.Wh = Parameter((rng.standard_normal((hidden_size, width))
                             / np.sqrt(hidden_size)).astype(dtype))
        self.b = Parameter(np.zeros(width, dtype=dtype))
        self.dh0 = None

    def __call__(self, x, h0=None):
        return self.forward(x, h0)

    def forward(self, x, h0=None):
        """x (N, T, input_size), h0 (N, hidden_size) or None for zeros -> h (N, T, hidden_size)."""
        if h0 is None:
            xp = get_array_module(x.data if isinstance(x, Tensor) else x)
            h0 = xp.zeros((x.shape[0], self.hidden_size), dtype=self.Wx.data.dtype)
        return self.call_op(type(self).forward_op, type(self).backward_op, x, h0, self.Wx,
                            self.Wh, self.b)

    def backward(self, dh):
        """dh (N, T, hidden_size) -> dx; adds into the weights' grads, sets ``self.dh0``."""
        dx, self.dh0, dWx, dWh, db = type(self).backward_op(dh, self.recall())
        for param, grad in ((self.Wx, dWx), (self.Wh, dWh), (self.b, db)):
            self.accumulate(param, grad)
        return dx

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"


class RNN(_Recurrent):
    """Vanilla RNN: ``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)`` (lecture 7)."""

    gates = 1
    forward_op = staticmethod(ops.rnn_forward)
    backward_op = staticmethod(ops.rnn_backward)


class LSTM(_Recurrent):
    """Long short-term memory; four gates i, f, o, g stacked along the 4H axis (lecture 7)."""

    gates = 4
    forward_op = staticmethod(ops.lstm_forward)
    backward_op = staticmethod(ops.lstm_backward)


class TemporalLinear(AffineOpModule):
    """The same affine map at every step (lecture 7):
    (N, T, in_features) -> (N, T, out_features)."""

    forward_op = staticmethod(ops.temporal_linear_forward)
    backward_op = staticmethod(ops.temporal_linear_backward)

    def __init__(self, in_features, out_features, rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        w = make_rng(rng).standard_normal((in_features, out_features)) / np.sqrt(in_features)
        self.weight = Parameter(w.astype(dtype))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype))

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}"
