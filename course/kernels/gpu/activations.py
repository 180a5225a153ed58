"""Activation kernels in CUDA through CuPy (lecture 1 and the GPU lecture).

One thread per value. The sources name their element type ``real`` (float or double, fixed by
``course.kernels.gpu.compile``); ``CUDA_SOURCES`` lists them for ``tests/test_cuda_sources.py``.
"""

import numpy as np

from course.kernels.gpu.compile import get_kernel, launch

GELU_SOURCE = r"""
// out = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2: exact GELU, one thread per value.
extern "C" __global__ void gelu_forward(const real* x, real* out, long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    real v = x[i];
    out[i] = (real)0.5 * v * ((real)1 + erf(v * (real)0.70710678118654752));
}

// dx = dout * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
extern "C" __global__ void gelu_backward(const real* dout, const real* x, real* dx,
                                         long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    real v = x[i];
    real phi_cdf = (real)0.5 * ((real)1 + erf(v * (real)0.70710678118654752));
    real phi_pdf = exp((real)-0.5 * v * v) * (real)0.39894228040143268;
    dx[i] = dout[i] * (phi_cdf + v * phi_pdf);
}
"""

SILU_SOURCE = r"""
// sigmoid without overflow: exp of a non-positive value only.
__device__ real silu_sigmoid(real v) {
    if (v >= (real)0) return (real)1 / ((real)1 + exp(-v));
    real z = exp(v);
    return z / ((real)1 + z);
}

// out = x * sigmoid(x): SiLU (swish), one thread per value.
extern "C" __global__ void silu_forward(const real* x, real* out, long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    real v = x[i];
    out[i] = v * silu_sigmoid(v);
}

// dx = dout * s * (1 + x * (1 - s)), s = sigmoid(x).
extern "C" __global__ void silu_backward(const real* dout, const real* x, real* dx,
                                         long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    real v = x[i];
    real s = silu_sigmoid(v);
    dx[i] = dout[i] * (s * ((real)1 + v * ((real)1 - s)));
}
"""

CUDA_SOURCES = {"gelu": GELU_SOURCE, "silu": SILU_SOURCE}


def relu_forward(x):
    """``max(0, x)`` of CuPy x (lecture 1; GPU backend), NaN staying NaN. Returns out."""
    import cupy

    return cupy.maximum(x, x.dtype.type(0))


def relu_backward(dout, x):
    """Gradient of ReLU (lecture 1; GPU backend): 0 where x <= 0, else dout. Returns dx."""
    import cupy

    return cupy.where(x <= 0, dout.dtype.type(0), dout)


def gelu_forward(x):
    """GELU of contiguous CuPy x, exact form (lecture 1; GPU backend). Returns out."""
    import cupy

    out = cupy.empty_like(x)
    launch(get_kernel(GELU_SOURCE, "gelu_forward", x.dtype), x.size,
           (x, out, np.int64(x.size)))
    return out


def gelu_backward(dout, x):
    """Gradient of GELU (lecture 1; GPU backend); dout and x contiguous CuPy arrays of one shape
    and dtype. Returns dx."""
    import cupy

    dx = cupy.empty_like(dout)
    launch(get_kernel(GELU_SOURCE, "gelu_backward", dout.dtype), dout.size,
           (dout, x, dx, np.int64(dout.size)))
    return dx


def silu_forward(x):
    """SiLU of contiguous CuPy x, ``x * sigmoid(x)`` (lecture 1; GPU backend). Returns out."""
    import cupy

    out = cupy.empty_like(x)
    launch(get_kernel(SILU_SOURCE, "silu_forward", x.dtype), x.size,
           (x, out, np.int64(x.size)))
    return out


def silu_backward(dout, x):
    """Gradient of SiLU (lecture 1; GPU backend); dout and x contiguous CuPy arrays of one shape
    and dtype. Returns dx."""
    import cupy

    dx = cupy.empty_like(dout)
    launch(get_kernel(SILU_SOURCE, "silu_backward", dout.dtype), dout.size,
           (dout, x, dx, np.int64(dout.size)))
    return dx
