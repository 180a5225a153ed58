"""Batch normalisation kernels in CUDA through CuPy (lecture 6 and the GPU lecture).

Same names and arguments as ``course.kernels.reference.norm``: x is a contiguous (N, C, L)
array and every statistic is per channel over the N * L values ``x[:, c, :]``.

The per-channel sums are reductions: one thread block per channel, each thread sums a strided
share of the channel's values in double precision, and the block combines the partial sums in
shared memory (a tree reduction). The elementwise steps use one thread per value. No atomics.
"""

import numpy as np

from course.kernels.gpu.compile import get_kernel, launch

BLOCK = 256  # threads per block of the reductions; a power of two

REDUCE_SOURCE = r"""
#define BLOCK 256

// Sum of `value` over the block's threads; every thread gets the total.
__device__ double block_sum(double value, double* shared) {
    shared[threadIdx.x] = value;
    __syncthreads();
    for (int half = BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) shared[threadIdx.x] += shared[threadIdx.x + half];
        __syncthreads();
    }
    double total = shared[0];
    __syncthreads();
    return total;
}

// One block per channel c: mean and biased variance of x[:, c, :] (two passes).
extern "C" __global__ void channel_stats(const real* x, real* mean, real* var,
                                         int n, int c, int l) {
    __shared__ double shared[BLOCK];
    const int ch = blockIdx.x;
    const long long m = (long long)n * l;
    double sum = 0.0;
    for (long long k = threadIdx.x; k < m; k += BLOCK) {
        long long i = k / l, j = k % l;
        sum += x[(i * c + ch) * l + j];
    }
    const double mu = block_sum(sum, shared) / m;
    double squares = 0.0;
    for (long long k = threadIdx.x; k < m; k += BLOCK) {
        long long i = k / l, j = k % l;
        double d = x[(i * c + ch) * l + j] - mu;
        squares += d * d;
    }
    const double sigma2 = block_sum(squares, shared) / m;
    if (threadIdx.x == 0) {
        mean[ch] = (real)mu;
        var[ch] = (real)sigma2;
    }
}

// One block per channel c: dbeta = sum(dout), dgamma = inv_std * sum(dout * (x - mean)).
extern "C" __global__ void backward_sums(const real* dout, const real* x, const real* mean,
                                         const real* inv_std, real* dgamma, real* dbeta,
                                         int n, int c, int l) {
    __shared__ double shared[BLOCK];
    const int ch = blockIdx.x;
    const long long m = (long long)n * l;
    const double mu = mean[ch];
    double sum_dout = 0.0, sum_dout_xc = 0.0;
    for (long long k = threadIdx.x; k < m; k += BLOCK) {
        long long i = k / l, j = k % l;
        long long index = (i * c + ch) * l + j;
        sum_dout += dout[index];
        sum_dout_xc += dout[index] * (x[index] - mu);
    }
    sum_dout = block_sum(sum_dout, shared);
    sum_dout_xc = block_sum(sum_dout_xc, shared);
    if (threadIdx.x == 0) {
        dbeta[ch] = (real)sum_dout;
        dgamma[ch] = (real)(sum_dout_xc * inv_std[ch]);
    }
}
"""

ELEMENTWISE_SOURCE = r"""
// out = (x - mean) * inv_std * gamma + beta, one thread per value of the (N, C, L) array.
extern "C" __global__ void normalize(const real* x, const real* mean, const real* inv_std,
                                     const real* gamma, const real* beta, real* out,
                                     long long total, int c, int l) {
    long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= total) return;
    int ch = (index / l) % c;
    out[index] = (x[index] - mean[ch]) * inv_std[ch] * gamma[ch] + beta[ch];
}

// dx = gamma * inv_std * (dout - (dbeta + xhat * dgamma) / M) in train mode,
// dx = gamma * inv_std * dout in eval mode; one thread per value.
extern "C" __global__ void backward_dx(const real* dout, const real* x, const real* mean,
                                       const real* inv_std, const real* gamma,
                                       const real* dgamma, const real* dbeta, real* dx,
                                       long long total, int c, int l, long long m, int train) {
    long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (index >= total) return;
    int ch = (index / l) % c;
    real g = dout[index];
    if (train) {
        real xhat = (x[index] - mean[ch]) * inv_std[ch];
        g -= (dbeta[ch] + xhat * dgamma[ch]) / (real)m;
    }
    dx[index] = gamma[ch] * inv_std[ch] * g;
}
"""

CUDA_SOURCES = {"reduce": REDUCE_SOURCE, "elementwise": ELEMENTWISE_SOURCE}


def _sizes(x):
    n, c, l = x.shape
    return np.int32(n), np.int32(c), np.int32(l)


def batchnorm_train_forward(x, gamma, beta, eps):
    """Normalise (N, C, L) x with its own per-channel statistics; returns (out, mean, var)
    (lecture 6; GPU backend)."""
    import cupy

    n, c, l = _sizes(x)
    mean = cupy.empty(int(c), dtype=x.dtype)
    var = cupy.empty(int(c), dtype=x.dtype)
    if x.size:
        kernel = get_kernel(REDUCE_SOURCE, "channel_stats", x.dtype)
        kernel((int(c),), (BLOCK,), (x, mean, var, n, c, l))
    inv_std = (1 / cupy.sqrt(var + x.dtype.type(eps))).astype(x.dtype)
    out = batchnorm_eval_forward(x, mean, inv_std, gamma, beta)
    return out, mean, var


def batchnorm_eval_forward(x, mean, inv_std, gamma, beta):
    """``(x - mean) * inv_std * gamma + beta`` per channel of (N, C, L) x
    (lecture 6; GPU backend)."""
    import cupy

    _, c, l = _sizes(x)
    out = cupy.empty_like(x)
    kernel = get_kernel(ELEMENTWISE_SOURCE, "normalize", x.dtype)
    launch(kernel, x.size, (x, mean, inv_std, gamma, beta, out, np.int64(x.size), c, l))
    return out


def batchnorm_backward(dout, x, mean, inv_std, gamma, train):
    """Closed-form batch norm gradients; returns (dx, dgamma, dbeta) (lecture 6; GPU backend)."""
    import cupy

    n, c, l = _sizes(x)
    dgamma = cupy.zeros(int(c), dtype=x.dtype)
    dbeta = cupy.zeros(int(c), dtype=x.dtype)
    if x.size:
        sums = get_kernel(REDUCE_SOURCE, "backward_sums", x.dtype)
        sums((int(c),), (BLOCK,), (dout, x, mean, inv_std, dgamma, dbeta, n, c, l))
    dx = cupy.empty_like(x)
    kernel = get_kernel(ELEMENTWISE_SOURCE, "backward_dx", x.dtype)
    launch(kernel, x.size, (dout, x, mean, inv_std, gamma, dgamma, dbeta, dx,
                            np.int64(x.size), c, l, np.int64(int(n) * int(l)), np.int32(train)))
    return dx, dgamma, dbeta
