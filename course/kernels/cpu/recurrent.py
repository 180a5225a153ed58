"""Fast CPU kernels for the LSTM cell (lecture 7, LSTM). Gate order: i, f, o, g.

The op does the matrix products with BLAS; these kernels handle the (N, 4H) pre-activations.

- Backward: one fused Numba pass computes the four gate-gradient blocks and dprev_c, instead
  of a dozen numpy passes with their temporaries. It walks each row's blocks as 1-D arrays, so
  that LLVM vectorizes the loop over j (indexing the 2-D arrays kept it scalar): N=64, H=256,
  31 us against 79 us, and the numpy passes 180-200 us (AMD EPYC Zen 3, one thread). It runs
  on one thread: at these sizes starting the parallel workers costs more than the loop.
- Forward, float32: one fused Numba pass with a rational tanh (``_tanh32``) and the sigmoid
  written through it, ``sigmoid(v) = (1 + tanh(v / 2)) / 2``. Its cost was exp and tanh:
  Numba calls the scalar libm functions (about 20 ns an element here: llvmlite has no SVML
  vector library) and numpy's float32 exp and tanh take 3.6 and 6.8 ns an element on AVX2,
  while the rational function is multiplications, additions and one division that LLVM
  vectorizes (about 1.4 ns). ``error_model="numpy"`` lets it: Python's error model checks
  every division for zero, and that branch keeps the loop scalar. ``fastmath={"contract"}``
  lets LLVM fuse each multiplication and addition of the polynomials into one FMA
  instruction: 106 against 120 us (N=64, H=256, the same machine), within float32 rounding
  (81 us without the two tests that give +-1 exactly beyond the clamp).
- Forward, float64: the numpy passes of the reference set, exact to float64 rounding (the
  gradient checks need it; the rational function is accurate to float32's).

The constant ``one`` comes in the arrays' dtype, so that float32 arithmetic stays float32
(a Python literal 1.0 would promote every expression to float64); the float32 constants
below are ``np.float32`` values, which Numba compiles as float32.
"""

import numpy as np
from numba import njit

from course.kernels.reference import recurrent as reference

__all__ = ["lstm_cell_forward", "lstm_cell_backward"]

# tanh(v) ~ v * P(v^2) / Q(v^2) on [-CLAMP, CLAMP], +-1 beyond: the rational approximation of
# Eigen's float tanh (generic_fast_tanh_float), within 3.5e-7 of tanh, exactly +-1 when saturated.
_P1, _P3, _P5, _P7 = map(np.float32, (4.89352455891786e-03, 6.37261928875436e-04,
                                      1.48572235717979e-05, 5.12229709037114e-08))
_P9, _P11, _P13 = map(np.float32, (-8.60467152213735e-11, 2.00018790482477e-13,
                                   -2.76076847742355e-16))
_Q0, _Q2, _Q4, _Q6 = map(np.float32, (4.89352518554385e-03, 2.26843463243900e-03,
                                      1.18534705686654e-04, 1.19825839466702e-06))
_CLAMP = np.float32(7.90531110763549805)
_HALF, _ONE = np.float32(0.5), np.float32(1)


@njit(cache=True, error_model="numpy", fastmath={"contract"}, inline="always")
def _tanh32(v):
    """tanh of a float32 scalar, in float32 arithmetic that LLVM vectorizes. NaN stays NaN
    (every comparison with it is false), and +-1 exactly beyond the clamp (with FMA the
    polynomials give 0.99999976 there)."""
    c = _CLAMP if v > _CLAMP else v
    c = -_CLAMP if c < -_CLAMP else c
    c2 = c * c
    p = ((((((_P13 * c2 + _P11) * c2 + _P9) * c2 + _P7) * c2 + _P5) * c2 + _P3) * c2 + _P1)
    q = ((_Q6 * c2 + _Q4) * c2 + _Q2) * c2 + _Q0
    t = c * p / q
    t = _ONE if v >= _CLAMP else t
    return -_ONE if v <= -_CLAMP else t


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _lstm_cell_forward32(a, prev_c, next_h, next_c, gates, tanh_c):
    n, h = prev_c.shape
    for row in range(n):
        # one row's blocks as 1-D arrays: LLVM vectorizes the loop over j on these (indexing
        # the 2-D arrays directly measured 4x slower: the loop stayed scalar)
        a_i, a_f, a_o, a_g = a[row, :h], a[row, h:2 * h], a[row, 2 * h:3 * h], a[row, 3 * h:]
        gate_i, gate_f, gate_o, gate_g = (gates[row, :h], gates[row, h:2 * h],
                                          gates[row, 2 * h:3 * h], gates[row, 3 * h:])
        c_prev, c_next, tanh_row, h_next = prev_c[row], next_c[row], tanh_c[row], next_h[row]
        for j in range(h):
            i = _HALF + _HALF * _tanh32(_HALF * a_i[j])
            f = _HALF + _HALF * _tanh32(_HALF * a_f[j])
            o = _HALF + _HALF * _tanh32(_HALF * a_o[j])
            g = _tanh32(a_g[j])
            c = f * c_prev[j] + i * g
            t = _tanh32(c)
            gate_i[j], gate_f[j], gate_o[j], gate_g[j] = i, f, o, g
            c_next[j], tanh_row[j], h_next[j] = c, t, o * t


def lstm_cell_forward(a, prev_c):
    """Same contract as ``course.kernels.reference.lstm_cell_forward`` (lecture 7): returns
    next_h (N, H), next_c (N, H), gates (N, 4H) and tanh_c (N, H)."""
    if a.dtype != np.float32:
        return reference.lstm_cell_forward(a, prev_c)
    a, prev_c = np.ascontiguousarray(a), np.ascontiguousarray(prev_c)
    next_h, next_c, tanh_c = (np.empty_like(prev_c) for _ in range(3))
    gates = np.empty_like(a)
    _lstm_cell_forward32(a, prev_c, next_h, next_c, gates, tanh_c)
    return next_h, next_c, gates, tanh_c


@njit(cache=True)
def _lstm_cell_backward(dnext_h, dnext_c, prev_c, gates, tanh_c, one):
    n, h = prev_c.shape
    da = np.empty_like(gates)
    dprev_c = np.empty_like(prev_c)
    for row in range(n):
        # 1-D views of one row, as in the forward kernel (the module docstring's numbers)
        gate_i, gate_f, gate_o, gate_g = (gates[row, :h], gates[row, h:2 * h],
                                          gates[row, 2 * h:3 * h], gates[row, 3 * h:])
        da_i, da_f, da_o, da_g = (da[row, :h], da[row, h:2 * h], da[row, 2 * h:3 * h],
                                  da[row, 3 * h:])
        dh_row, dc_row, c_prev, tanh_row = dnext_h[row], dnext_c[row], prev_c[row], tanh_c[row]
        dc_prev = dprev_c[row]
        for j in range(h):
            i, f, o, g, t, dh = gate_i[j], gate_f[j], gate_o[j], gate_g[j], tanh_row[j], dh_row[j]
            dc = dc_row[j] + dh * o * (one - t * t)
            da_i[j] = dc * g * i * (one - i)
            da_f[j] = dc * c_prev[j] * f * (one - f)
            da_o[j] = dh * t * o * (one - o)
            da_g[j] = dc * i * (one - g * g)
            dc_prev[j] = dc * f
    return da, dprev_c


def lstm_cell_backward(dnext_h, dnext_c, prev_c, gates, tanh_c):
    """Same contract as ``course.kernels.reference.lstm_cell_backward`` (lecture 7): returns
    da (N, 4H) and dprev_c (N, H)."""
    arrays = [np.ascontiguousarray(v) for v in (dnext_h, dnext_c, prev_c, gates, tanh_c)]
    return _lstm_cell_backward(*arrays, gates.dtype.type(1))
