"""lstm_backward: the hidden-state gradient from step t + 1 is not carried back to step t."""
# cell: lstm_backward
import numpy as np


def lstm_backward(dh, cache):
    x_shape, caches = cache
    _, _, _, Wx, Wh, *_ = caches[0]
    dx = np.zeros(x_shape)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
    dprev_h = np.zeros_like(dh[:, 0])
    dprev_c = np.zeros_like(dh[:, 0])
    for t in reversed(range(x_shape[1])):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(  # noqa: F821
            (dh[:, t], dprev_c), caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
