"""Vanilla RNN and LSTM layers, one step and whole sequences (lecture 7, RNN and LSTM).

Shapes: a minibatch of N sequences of T steps with D input features, H hidden units.

    x (N, T, D), h0 (N, H); RNN: Wx (D, H), Wh (H, H), b (H,); LSTM: Wx (D, 4H), Wh (H, 4H),
    b (4H,), with the four gates stacked in the order input i, forget f, output o, candidate g.

Speed (PERF_NOTES.md): the input projection ``x @ Wx`` of all T steps is ONE matrix product
before the time loop, and the weight gradients are single products after the backward loop;
only ``prev_h @ Wh`` has to run step by step. The LSTM's gate nonlinearities and cell update
are one fused kernel (``kernels_for(x).lstm_cell_forward`` / ``lstm_cell_backward``).
"""

from course.backend import get_array_module, kernels_for
from course.ops.checks import (
    check_float_array,
    check_gradient,
    check_same_device,
    check_same_dtype,
    check_shape,
)


def _check_weights(x, prev_h, Wx, Wh, b, gates):
    """Validate one step's (or one sequence's) arrays; ``gates`` is 1 (RNN) or 4 (LSTM)."""
    check_float_array("Wx", Wx, ndim=2)
    check_float_array("Wh", Wh, ndim=2)
    check_float_array("b", b, ndim=1)
    hidden = prev_h.shape[1]
    check_shape("Wx", Wx, (x.shape[-1], gates * hidden))
    check_shape("Wh", Wh, (hidden, gates * hidden))
    check_shape("b", b, (gates * hidden,))
    check_same_dtype(x=x, h=prev_h, Wx=Wx, Wh=Wh, b=b)
    check_same_device(x=x, h=prev_h, Wx=Wx, Wh=Wh, b=b)


def _check_step(x, prev_h, Wx, Wh, b, gates):
    check_float_array("x", x, ndim=2)
    check_float_array("prev_h", prev_h, ndim=2)
    if prev_h.shape[0] != x.shape[0]:
        raise ValueError(f"prev_h must have {x.shape[0]} rows, one per example of x, "
                         f"got shape {tuple(prev_h.shape)}")
    _check_weights(x, prev_h, Wx, Wh, b, gates)


def _check_sequence(x, h0, Wx, Wh, b, gates):
    check_float_array("x", x, ndim=3)
    check_float_array("h0", h0, ndim=2)
    if h0.shape[0] != x.shape[0]:
        raise ValueError(f"h0 must have {x.shape[0]} rows, one per sequence of x, "
                         f"got shape {tuple(h0.shape)}")
    _check_weights(x, h0, Wx, Wh, b, gates)


def _previous_states(h0, h):
    """(N*T, H) matrix of the hidden state each step started from: h0, h_1, ..., h_{T-1}."""
    xp = get_array_module(h)
    n, t_steps, hidden = h.shape
    states = xp.concatenate([h0[:, None, :], h[:, :-1, :]], axis=1)[:, :t_steps]  # T = 0 too
    return states.reshape(n * t_steps, hidden)


# -- vanilla RNN --------------------------------------------------------------------------------

def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a vanilla RNN (lecture 7): ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``.

    Args:
        x: (N, D) inputs. prev_h: (N, H) previous hidden state.
        Wx: (D, H), Wh: (H, H), b: (H,).

    Returns:
        next_h (N, H) and a cache for :func:`rnn_step_backward`.
    """
    _check_step(x, prev_h, Wx, Wh, b, gates=1)
    xp = get_array_module(x)
    next_h = xp.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Gradients of one RNN step (lecture 7).

    Returns:
        dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, prev_h, Wx, Wh, next_h = cache
    check_gradient("dnext_h", dnext_h, next_h, next_h.shape)
    da = dnext_h * (1 - next_h * next_h)  # tanh' = 1 - tanh^2
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over whole sequences (lecture 7).

    Args:
        x: (N, T, D) inputs. h0: (N, H) initial hidden state.
        Wx: (D, H), Wh: (H, H), b: (H,).

    Returns:
        h (N, T, H), the hidden state after every step, and a cache for :func:`rnn_backward`.
    """
    _check_sequence(x, h0, Wx, Wh, b, gates=1)
    xp = get_array_module(x)
    n, t_steps, d = x.shape
    hidden = h0.shape[1]
    xw = (x.reshape(n * t_steps, d) @ Wx + b).reshape(n, t_steps, hidden)  # all steps at once
    h = xp.empty((n, t_steps, hidden), dtype=x.dtype)
    prev_h = h0
    for t in range(t_steps):
        prev_h = xp.tanh(xw[:, t] + prev_h @ Wh)
        h[:, t] = prev_h
    return h, (x, h0, Wx, Wh, h)


def rnn_backward(dh, cache):
    """Backpropagation through time for :func:`rnn_forward` (lecture 7).

    Args:
        dh: (N, T, H) upstream gradient of every hidden state.

    Returns:
        dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,).
    """
    x, h0, Wx, Wh, h = cache
    check_gradient("dh", dh, h, h.shape)
    xp = get_array_module(x)
    n, t_steps, d = x.shape
    hidden = h0.shape[1]
    da = xp.empty_like(h)
    dprev_h = xp.zeros_like(h0)
    for t in reversed(range(t_steps)):
        da_t = (dh[:, t] + dprev_h) * (1 - h[:, t] * h[:, t])
        da[:, t] = da_t
        dprev_h = da_t @ Wh.T
    da = da.reshape(n * t_steps, hidden)
    dx = (da @ Wx.T).reshape(x.shape)
    dWx = x.reshape(n * t_steps, d).T @ da
    dWh = _previous_states(h0, h).T @ da
    return dx, dprev_h, dWx, dWh, da.sum(axis=0)


# -- LSTM ---------------------------------------------------------------------------------------

def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step (lecture 7).

    ``a = x @ Wx + prev_h @ Wh + b`` is split into four (N, H) blocks i, f, o, g;
    ``next_c = sigmoid(f) * prev_c + sigmoid(i) * tanh(g)``, ``next_h = sigmoid(o) * tanh(next_c)``.

    Args:
        x: (N, D). prev_h, prev_c: (N, H). Wx: (D, 4H), Wh: (H, 4H), b: (4H,).

    Returns:
        ``(next_h, next_c)``, both (N, H), and a cache for :func:`lstm_step_backward`.
    """
    _check_step(x, prev_h, Wx, Wh, b, gates=4)
    check_float_array("prev_c", prev_c)
    check_shape("prev_c", prev_c, prev_h.shape)
    check_same_dtype(x=x, prev_c=prev_c)
    check_same_device(x=x, prev_c=prev_c)
    a = x @ Wx + prev_h @ Wh + b
    next_h, next_c, gates, tanh_c = kernels_for(x).lstm_cell_forward(a, prev_c)
    return (next_h, next_c), (x, prev_h, prev_c, Wx, Wh, gates, tanh_c)


def lstm_step_backward(dout, cache):
    """Gradients of one LSTM step (lecture 7).

    Args:
        dout: ``(dnext_h, dnext_c)``, both (N, H).

    Returns:
        dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x, prev_h, prev_c, Wx, Wh, gates, tanh_c = cache
    if not isinstance(dout, (tuple, list)) or len(dout) != 2:
        raise TypeError(f"dout must be the pair (dnext_h, dnext_c), got {type(dout).__name__}")
    dnext_h, dnext_c = dout
    check_gradient("dnext_h", dnext_h, prev_c, prev_c.shape)
    check_gradient("dnext_c", dnext_c, prev_c, prev_c.shape)
    da, dprev_c = kernels_for(x).lstm_cell_backward(dnext_h, dnext_c, prev_c, gates, tanh_c)
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over whole sequences; the initial cell state is zero (lecture 7).

    Args:
        x: (N, T, D) inputs. h0: (N, H) initial hidden state.
        Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate order i, f, o, g.

    Returns:
        h (N, T, H), the hidden state after every step, and a cache for :func:`lstm_backward`.
    """
    _check_sequence(x, h0, Wx, Wh, b, gates=4)
    states, cache = lstm_states_forward(x, h0, get_array_module(h0).zeros_like(h0), Wx, Wh, b)
    return states[0, :, 1:], cache


def lstm_backward(dh, cache):
    """Backpropagation through time for :func:`lstm_forward` (lecture 7).

    Args:
        dh: (N, T, H) upstream gradient of every hidden state.

    Returns:
        dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x, h0 = cache[:2]
    check_gradient("dh", dh, x, (x.shape[0], x.shape[1], h0.shape[1]))
    dstates = get_array_module(dh).zeros((2, x.shape[0], x.shape[1] + 1, h0.shape[1]),
                                         dtype=dh.dtype)
    dstates[0, :, 1:] = dh
    dx, dh0, _, dWx, dWh, db = lstm_states_backward(dstates, cache)
    return dx, dh0, dWx, dWh, db


def lstm_states_forward(x, h0, c0, Wx, Wh, b):
    """An LSTM over whole sequences from a hidden and a cell state, returning both states at
    every time (lecture 7; what ``nn.LSTM`` runs for PyTorch's ``lstm(x, (h0, c0))``).

    Args:
        x: (N, T, D) inputs. h0, c0: (N, H) initial hidden and cell states.
        Wx: (D, 4H), Wh: (H, 4H), b: (4H,), gate order i, f, o, g.

    Returns:
        states (2, N, T + 1, H): ``states[0, :, t]`` is the hidden state h_t and
        ``states[1, :, t]`` the cell state c_t at times t = 0 (h0, c0) to T, so
        ``states[0, :, 1:]`` is the output sequence and ``states[:, :, -1]`` the final
        (h_T, c_T); and a cache for :func:`lstm_states_backward`.
    """
    _check_sequence(x, h0, Wx, Wh, b, gates=4)
    check_float_array("c0", c0, ndim=2)
    check_shape("c0", c0, h0.shape)
    check_same_dtype(x=x, c0=c0)
    check_same_device(x=x, c0=c0)
    xp = get_array_module(x)
    kernels = kernels_for(x)
    n, t_steps, d = x.shape
    hidden = h0.shape[1]
    xw = (x.reshape(n * t_steps, d) @ Wx).reshape(n, t_steps, 4 * hidden)  # all steps
    xw += b  # in place, here and below: a new (N, T, 4H) array costs its page faults
    states = xp.empty((2, n, t_steps + 1, hidden), dtype=x.dtype)
    states[0, :, 0], states[1, :, 0] = h0, c0
    steps = []  # what each step's backward needs: gates, tanh(next_c)
    for t in range(t_steps):
        a = states[0, :, t] @ Wh
        a += xw[:, t]
        next_h, next_c, gates, tanh_c = kernels.lstm_cell_forward(a, states[1, :, t])
        states[0, :, t + 1], states[1, :, t + 1] = next_h, next_c
        steps.append((gates, tanh_c))
    return states, (x, h0, Wx, Wh, states, steps)


def lstm_states_backward(dstates, cache):
    """Backpropagation through time for :func:`lstm_states_forward` (lecture 7).

    Args:
        dstates: (2, N, T + 1, H) upstream gradient of every hidden and cell state.

    Returns:
        dx (N, T, D), dh0 (N, H), dc0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,).
    """
    x, h0, Wx, Wh, states, steps = cache
    check_gradient("dstates", dstates, states, states.shape)
    xp = get_array_module(x)
    kernels = kernels_for(x)
    n, t_steps, d = x.shape
    hidden = h0.shape[1]
    da = xp.empty((n, t_steps, 4 * hidden), dtype=x.dtype)
    dprev_h, dprev_c = dstates[0, :, -1], dstates[1, :, -1]
    for t in reversed(range(t_steps)):
        gates, tanh_c = steps[t]
        da_t, dprev_c = kernels.lstm_cell_backward(dprev_h, dprev_c, states[1, :, t], gates,
                                                   tanh_c)
        da[:, t] = da_t
        dprev_h = da_t @ Wh.T
        dprev_h += dstates[0, :, t]
        dprev_c += dstates[1, :, t]  # the kernel's new array
    da = da.reshape(n * t_steps, 4 * hidden)
    dx = (da @ Wx.T).reshape(x.shape)
    dWx = x.reshape(n * t_steps, d).T @ da
    dWh = states[0, :, :-1].reshape(n * t_steps, hidden).T @ da
    return dx, dprev_h, dprev_c, dWx, dWh, da.sum(axis=0)
