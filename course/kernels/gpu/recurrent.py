"""CUDA kernels for the LSTM cell (lecture 7, LSTM; lecture 9, GPU kernels).

One thread per (row, hidden unit): it reads the unit's four pre-activations (gate order i, f,
o, g), applies the nonlinearities and updates the cell (forward), or computes the four
pre-activation gradients and dprev_c (backward). Every thread writes only its own outputs.
The matrix products around them are ``cupy.matmul`` calls in the op.
"""

import numpy as np

from course.backend import require_cupy
from course.kernels.gpu.compile import get_kernel, launch

LSTM_CELL_SOURCE = r"""
__device__ inline real sigmoid(real x) { return real(1) / (real(1) + exp(-x)); }

extern "C" __global__ void lstm_cell_forward(
    const real* a, const real* prev_c, real* next_h, real* next_c, real* gates, real* tanh_c,
    long long n, long long h)
{
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n * h) return;
    long long row = k / h, j = k % h;
    const real* ar = a + row * 4 * h;
    real* gr = gates + row * 4 * h;
    real i = sigmoid(ar[j]);
    real f = sigmoid(ar[h + j]);
    real o = sigmoid(ar[2 * h + j]);
    real g = tanh(ar[3 * h + j]);
    real c = f * prev_c[k] + i * g;
    real t = tanh(c);
    gr[j] = i; gr[h + j] = f; gr[2 * h + j] = o; gr[3 * h + j] = g;
    next_c[k] = c;
    tanh_c[k] = t;
    next_h[k] = o * t;
}

extern "C" __global__ void lstm_cell_backward(
    const real* dnext_h, const real* dnext_c, const real* prev_c, const real* gates,
    const real* tanh_c, real* da, real* dprev_c, long long n, long long h)
{
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= n * h) return;
    long long row = k / h, j = k % h;
    const real* gr = gates + row * 4 * h;
    real* dr = da + row * 4 * h;
    real i = gr[j], f = gr[h + j], o = gr[2 * h + j], g = gr[3 * h + j];
    real t = tanh_c[k], dh = dnext_h[k];
    real dc = dnext_c[k] + dh * o * (real(1) - t * t);
    dr[j] = dc * g * i * (real(1) - i);
    dr[h + j] = dc * prev_c[k] * f * (real(1) - f);
    dr[2 * h + j] = dh * t * o * (real(1) - o);
    dr[3 * h + j] = dc * i * (real(1) - g * g);
    dprev_c[k] = dc * f;
}
"""

CUDA_SOURCES = {"lstm_cell": LSTM_CELL_SOURCE}


def lstm_cell_forward(a, prev_c):
    """Same contract as ``course.kernels.reference.lstm_cell_forward`` (lecture 7; GPU backend)."""
    cupy = require_cupy()
    a, prev_c = cupy.ascontiguousarray(a), cupy.ascontiguousarray(prev_c)
    n, h = prev_c.shape
    next_h, next_c, tanh_c = (cupy.empty_like(prev_c) for _ in range(3))
    gates = cupy.empty_like(a)
    kernel = get_kernel(LSTM_CELL_SOURCE, "lstm_cell_forward", a.dtype)
    launch(kernel, n * h, (a, prev_c, next_h, next_c, gates, tanh_c, np.int64(n), np.int64(h)))
    return next_h, next_c, gates, tanh_c


def lstm_cell_backward(dnext_h, dnext_c, prev_c, gates, tanh_c):
    """Same contract as ``course.kernels.reference.lstm_cell_backward`` (lecture 7; GPU backend)."""
    cupy = require_cupy()
    dnext_h, dnext_c, prev_c, gates, tanh_c = (
        cupy.ascontiguousarray(v) for v in (dnext_h, dnext_c, prev_c, gates, tanh_c))
    n, h = prev_c.shape
    da = cupy.empty_like(gates)
    dprev_c = cupy.empty_like(prev_c)
    kernel = get_kernel(LSTM_CELL_SOURCE, "lstm_cell_backward", gates.dtype)
    launch(kernel, n * h, (dnext_h, dnext_c, prev_c, gates, tanh_c, da, dprev_c,
                           np.int64(n), np.int64(h)))
    return da, dprev_c
