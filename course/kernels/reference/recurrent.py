"""LSTM cell nonlinearities in plain numpy: the readable oracle (lecture 7, LSTM).

The matrix products ``a = x @ Wx + prev_h @ Wh + b`` are done by the op; these kernels hold what
happens to the (N, 4H) pre-activations ``a`` afterwards. Gate order along the 4H axis: input
``i``, forget ``f``, output ``o``, candidate ``g``.
"""

import numpy as np


def _sigmoid(x):
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: 1/inf = 0
        return 1 / (1 + np.exp(-x))


def lstm_cell_forward(a, prev_c):
    """One LSTM cell update from its pre-activations (lecture 7).

    Args:
        a: (N, 4H) pre-activations, gates in the order i, f, o, g.
        prev_c: (N, H) previous cell state.

    Returns:
        next_h (N, H), next_c (N, H), gates (N, 4H) = [i, f, o, g] after their nonlinearities,
        and tanh_c (N, H) = tanh(next_c), the last two kept for the backward pass.
    """
    h = prev_c.shape[1]
    gates = np.empty_like(a)
    gates[:, :3 * h] = _sigmoid(a[:, :3 * h])  # i, f, o squash to (0, 1)
    gates[:, 3 * h:] = np.tanh(a[:, 3 * h:])   # g, the candidate, to (-1, 1)
    i, f, o, g = gates[:, :h], gates[:, h:2 * h], gates[:, 2 * h:3 * h], gates[:, 3 * h:]
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    return o * tanh_c, next_c, gates, tanh_c


def lstm_cell_backward(dnext_h, dnext_c, prev_c, gates, tanh_c):
    """Gradients of one LSTM cell update with respect to its pre-activations and prev_c (lecture 7).

    Args:
        dnext_h, dnext_c: (N, H) upstream gradients of next_h and next_c.
        prev_c: (N, H); gates (N, 4H) and tanh_c (N, H) from :func:`lstm_cell_forward`.

    Returns:
        da (N, 4H), the gradient of the pre-activations, and dprev_c (N, H).
    """
    h = prev_c.shape[1]
    i, f, o, g = gates[:, :h], gates[:, h:2 * h], gates[:, 2 * h:3 * h], gates[:, 3 * h:]
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)  # next_c feeds next_h through tanh
    di = dc * g
    df = dc * prev_c
    do = dnext_h * tanh_c
    dg = dc * i
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)],
                        axis=1)
    return da, dc * f
