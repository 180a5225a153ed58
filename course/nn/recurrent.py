"""Sequence modules: ``Embedding``, ``RNN``, ``LSTM`` and ``TemporalLinear`` (lectures 7-8).

Sequences are batch-first by default: x (N, T, D) (PyTorch's default is time-first,
``batch_first=False``; ``nn.LSTM(..., batch_first=False)`` takes x (T, N, D) as PyTorch does).
``RNN`` returns the whole hidden-state sequence (N, T, H); ``forward(x, h0=None)`` starts from
zeros unless ``h0`` (N, H) is given, and ``backward(dh)`` returns dx and keeps the gradient of
the initial state in ``self.dh0``. ``LSTM`` follows PyTorch (``out, (h_n, c_n) = lstm(x,
(h0, c0))``, ``num_layers``) and keeps the lectures' ``h = lstm(x, h0)``: see its docstring.
"""

import numpy as np

from course import functional as F
from course import ops
from course.backend import get_array_module
from course.nn.init import make_rng
from course.nn.layers import OutInAffineOpModule
from course.nn.module import Module, Parameter, is_graph_input
from course.ops.checks import check_bool, check_gradient, check_positive_int
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
    """Long short-term memory; four gates i, f, o, g stacked along the 4H axis (lecture 7).

    Two ways to call it:

    - **PyTorch's:** ``out, (h_n, c_n) = lstm(x, (h0, c0))``, or ``lstm(x)`` to start from
      zeros. ``out`` is the top layer's hidden state at every step, (N, T, H) (or (T, N, H)
      with ``batch_first=False``); ``h0, c0, h_n, c_n`` are (num_layers, N, H) whatever
      ``batch_first`` is, as in PyTorch. ``backward(dout)`` takes the gradient of ``out``
      alone, or ``(dout, (dh_n, dc_n))`` (any of them None for zero); it returns dx and keeps
      the gradients of the initial states in ``self.dh0`` and ``self.dc0``.
    - **The lectures' (CS231n's ``lstm_forward``, assignment a4):** ``h = lstm(x, h0)`` with
      ``h0`` an (N, H) array: the cell starts at zero and only the output sequence is
      returned; one layer, batch-first. ``backward(dh)`` returns dx and sets ``self.dh0``.
      This form runs ``ops.lstm_forward``, so ``use("mine")`` runs the student's.

    Args:
        input_size, hidden_size: D and H.
        num_layers: stacked layers, each reading the hidden states of the one below. Layer 0
            has the parameters ``Wx`` (D, 4H), ``Wh`` (H, 4H), ``b`` (4H,); layer k > 0 has
            ``Wx_l{k}`` (H, 4H), ``Wh_l{k}``, ``b_l{k}`` (PyTorch: ``weight_ih_l{k}``, ...;
            ``course.interop`` converts them).
        batch_first: True (course's default) for x (N, T, D), False for PyTorch's (T, N, D).
        rng: seed or Generator for the initial weights. dtype: of the parameters.
    """

    gates = 4
    forward_op = staticmethod(ops.lstm_forward)
    backward_op = staticmethod(ops.lstm_backward)

    def __init__(self, input_size, hidden_size, num_layers=1, batch_first=True, rng=None,
                 dtype=np.float32):
        check_positive_int("num_layers", num_layers)
        check_bool("batch_first", batch_first)
        rng = make_rng(rng)
        super().__init__(input_size, hidden_size, rng=rng, dtype=dtype)
        self.num_layers, self.batch_first = num_layers, batch_first
        width = 4 * hidden_size
        for k in range(1, num_layers):  # layer k reads the H hidden units of layer k - 1
            for name in ("Wx", "Wh"):
                w = rng.standard_normal((hidden_size, width)) / np.sqrt(hidden_size)
                setattr(self, f"{name}_l{k}", Parameter(w.astype(dtype)))
            setattr(self, f"b_l{k}", Parameter(np.zeros(width, dtype=dtype)))
        self.dc0 = None

    def layer_parameters(self, k):
        """``(Wx, Wh, b)`` of layer ``k`` (0 is the bottom one)."""
        suffix = f"_l{k}" if k else ""
        return tuple(getattr(self, name + suffix) for name in ("Wx", "Wh", "b"))

    def forward(self, x, hx=None):
        """x (N, T, input_size) (batch_first) and hx = (h0, c0), each (num_layers, N, H), or
        None for zeros -> ``out, (h_n, c_n)``; or the lectures' ``h = lstm(x, h0)``."""
        if hx is not None and not isinstance(hx, tuple):
            return self._forward_lecture(x, hx)
        if getattr(x, "ndim", None) != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must have shape ({'N, T' if self.batch_first else 'T, N'}, "
                             f"{self.input_size}), got {getattr(x, 'shape', type(x).__name__)}")
        if not self.batch_first:
            x = x.transpose(1, 0, 2)
        n, hidden = x.shape[0], self.hidden_size
        if hx is None:
            xp = get_array_module(x.data if isinstance(x, Tensor) else x)
            zeros = xp.zeros((self.num_layers, n, hidden), dtype=self.Wx.data.dtype)
            hx = (zeros, zeros)
        if len(hx) != 2:
            raise ValueError(f"hx must be the pair (h0, c0), got {len(hx)} items")
        for name, state in zip(("h0", "c0"), hx, strict=True):
            if getattr(state, "shape", None) != (self.num_layers, n, hidden):
                raise ValueError(f"{name} must have shape (num_layers, N, H) = "
                                 f"{(self.num_layers, n, hidden)}, got "
                                 f"{getattr(state, 'shape', type(state).__name__)}")
        finals = []
        for k in range(self.num_layers):
            states = self.call_op(ops.lstm_states_forward, ops.lstm_states_backward, x,
                                  hx[0][k], hx[1][k], *self.layer_parameters(k))
            x = states[0, :, 1:]
            finals.append(states[:, :, -1].reshape(2, 1, n, hidden))  # this layer's h_T, c_T
        if not isinstance(states, Tensor):
            self.remember(("pytorch", hx[0].shape))
        h_c = F.cat(finals, axis=1)
        out = x if self.batch_first else x.transpose(1, 0, 2)
        return out, (h_c[0], h_c[1])

    def _forward_lecture(self, x, h0):
        if self.num_layers != 1 or not self.batch_first:
            raise ValueError("lstm(x, h0) with an (N, H) array h0 is the lectures' one-layer, "
                             "batch-first form; pass hx = (h0, c0), each (num_layers, N, H)")
        h = super().forward(x, h0)
        if not any(is_graph_input(a) for a in (x, h0)):
            self.remember(("lecture", None))
        return h

    def backward(self, dout):
        """The gradient of ``out`` (or ``(dout, (dh_n, dc_n))``) -> dx; adds into every
        layer's weight gradients and sets ``self.dh0`` and ``self.dc0``."""
        form, state_shape = self.recall()
        if form == "lecture":
            self.dc0 = None
            return super().backward(dout)
        dh_n = dc_n = None
        if isinstance(dout, tuple):
            if len(dout) != 2 or not isinstance(dout[1], tuple) or len(dout[1]) != 2:
                raise TypeError("dout must be the gradient of out or (dout, (dh_n, dc_n))")
            dout, (dh_n, dc_n) = dout
        caches = [self.recall() for _ in range(self.num_layers)][::-1]
        like = caches[-1][4]  # the top layer's states (2, N, T + 1, H)
        _, n, steps, hidden = like.shape
        xp = get_array_module(like)
        if dout is not None:
            shape = (n, steps - 1, hidden) if self.batch_first else (steps - 1, n, hidden)
            check_gradient("dout", dout, like, shape)
            if not self.batch_first:
                dout = dout.transpose(1, 0, 2)
        for name, grad in (("dh_n", dh_n), ("dc_n", dc_n)):
            if grad is not None:
                check_gradient(name, grad, like, state_shape)
        self.dh0 = xp.empty(state_shape, dtype=like.dtype)
        self.dc0 = xp.empty(state_shape, dtype=like.dtype)
        for k in reversed(range(self.num_layers)):
            dstates = xp.zeros(like.shape, dtype=like.dtype)
            if dout is not None:
                dstates[0, :, 1:] = dout
            for i, grad in enumerate((dh_n, dc_n)):
                if grad is not None:
                    dstates[i, :, -1] += grad[k]
            dout, self.dh0[k], self.dc0[k], *grads = ops.lstm_states_backward(dstates,
                                                                               caches[k])
            for param, grad in zip(self.layer_parameters(k), grads, strict=True):
                self.accumulate(param, grad)
        return dout if self.batch_first else dout.transpose(1, 0, 2)

    def extra_repr(self):
        extra = "" if self.num_layers == 1 else f", num_layers={self.num_layers}"
        return super().extra_repr() + extra + ("" if self.batch_first else ", batch_first=False")


class TemporalLinear(OutInAffineOpModule):
    """The same affine map at every step (lecture 7):
    (N, T, in_features) -> (N, T, out_features), ``out = x @ weight.T + bias``.

    ``weight`` is (out_features, in_features), the layout of the PyTorch ``Linear`` that does
    this; ``ops.temporal_linear_forward`` gets its transpose (D, M)."""

    forward_op = staticmethod(ops.temporal_linear_forward)
    backward_op = staticmethod(ops.temporal_linear_backward)

    def __init__(self, in_features, out_features, rng=None, dtype=np.float32):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        w = make_rng(rng).standard_normal((in_features, out_features)) / np.sqrt(in_features)
        self.weight = Parameter(np.ascontiguousarray(w.T).astype(dtype))  # drawn as (D, M)
        self.bias = Parameter(np.zeros(out_features, dtype=dtype))

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}"
