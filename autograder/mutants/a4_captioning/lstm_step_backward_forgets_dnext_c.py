"""lstm_step_backward: the cell state's gradient ignores dnext_c (only the path through
next_h is followed)."""
# cell: lstm_step_backward
import numpy as np


def lstm_step_backward(dout, cache):
    dnext_h, dnext_c = dout
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_h * o * (1 - tanh_c ** 2)
    do = dnext_h * tanh_c
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f), do * o * (1 - o),
                         dc * i * (1 - g ** 2)], axis=1)
    dx, dprev_h, dprev_c = da @ Wx.T, da @ Wh.T, dc * f
    dWx, dWh, db = x.T @ da, prev_h.T @ da, da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db
