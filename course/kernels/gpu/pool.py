"""Max and average pooling on the GPU with CuPy RawKernels (lecture 9).

Forward kernels run one thread per output pixel. Backward kernels run one thread per input
pixel and gather: each pixel adds up the ``dout`` values of the windows that contain it (for
max-pooling, only of the windows whose maximum it was), so no atomics are needed.

Same names and signatures as ``course.kernels.reference.pool``; CuPy is imported lazily.
"""

import numpy as np

from course.backend import require_cupy
from course.kernels.gpu.compile import get_kernel, launch
from course.kernels.shapes import conv_output_size

POOL_SOURCE = r"""
// Output rows i whose window [i*sh, i*sh + kh) contains input row y: [*lo, *hi]
__device__ void windows_containing(int y, int k, int s, int outsize, int* lo, int* hi)
{
    *lo = y >= k ? (y - k) / s + 1 : 0;
    *hi = min(outsize - 1, y / s);
}

extern "C" __global__ void max_pool_forward(const real* x, real* out, int* argmax,
                                            int planes, int h, int w, int kh, int kw,
                                            int sh, int sw, int ho, int wo)
{
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)planes * ho * wo) return;
    int j = (int)(idx % wo), i = (int)((idx / wo) % ho);
    const real* plane = x + (idx / ((long long)wo * ho)) * h * w;
    int best_index = i * sh * w + j * sw;
    real best = plane[best_index];
    for (int di = 0; di < kh; ++di)
        for (int dj = 0; dj < kw; ++dj) {
            int k = (i * sh + di) * w + j * sw + dj;
            real v = plane[k];
            // first maximum in row-major order; the first NaN wins, as in numpy.argmax
            if (v > best || (v != v && best == best)) { best = v; best_index = k; }
        }
    out[idx] = best;
    argmax[idx] = best_index;
}

extern "C" __global__ void max_pool_backward(const real* dout, const int* argmax, real* dx,
                                             int planes, int h, int w, int kh, int kw,
                                             int sh, int sw, int ho, int wo)
{
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)planes * h * w) return;
    int k = (int)(idx % ((long long)h * w)), y = k / w, xx = k % w;
    long long base = (idx / ((long long)h * w)) * ho * wo;
    int i_lo, i_hi, j_lo, j_hi;
    windows_containing(y, kh, sh, ho, &i_lo, &i_hi);
    windows_containing(xx, kw, sw, wo, &j_lo, &j_hi);
    real total = 0;
    for (int i = i_lo; i <= i_hi; ++i)
        for (int j = j_lo; j <= j_hi; ++j)
            if (argmax[base + i * wo + j] == k) total += dout[base + i * wo + j];
    dx[idx] = total;
}

extern "C" __global__ void avg_pool_forward(const real* x, real* out,
                                            int planes, int h, int w, int kh, int kw,
                                            int sh, int sw, int ho, int wo)
{
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)planes * ho * wo) return;
    int j = (int)(idx % wo), i = (int)((idx / wo) % ho);
    const real* plane = x + (idx / ((long long)wo * ho)) * h * w;
    real total = 0;
    for (int di = 0; di < kh; ++di)
        for (int dj = 0; dj < kw; ++dj)
            total += plane[(i * sh + di) * w + j * sw + dj];
    out[idx] = total / (kh * kw);
}

extern "C" __global__ void avg_pool_backward(const real* dout, real* dx,
                                             int planes, int h, int w, int kh, int kw,
                                             int sh, int sw, int ho, int wo)
{
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)planes * h * w) return;
    int k = (int)(idx % ((long long)h * w)), y = k / w, xx = k % w;
    long long base = (idx / ((long long)h * w)) * ho * wo;
    int i_lo, i_hi, j_lo, j_hi;
    windows_containing(y, kh, sh, ho, &i_lo, &i_hi);
    windows_containing(xx, kw, sw, wo, &j_lo, &j_hi);
    real total = 0;
    for (int i = i_lo; i <= i_hi; ++i)
        for (int j = j_lo; j <= j_hi; ++j)
            total += dout[base + i * wo + j];
    dx[idx] = total / (kh * kw);
}
"""

CUDA_SOURCES = {"pool": POOL_SOURCE}


def _sizes(x_shape, kernel, stride):
    n, c, h, w = x_shape
    ho = conv_output_size(h, kernel[0], stride[0], 0)
    wo = conv_output_size(w, kernel[1], stride[1], 0)
    return (n, c, ho, wo), tuple(np.int32(v) for v in (n * c, h, w, *kernel, *stride, ho, wo))


def max_pool2d_forward(x, kernel, stride):
    """Returns out (N, C, Ho, Wo) and argmax (N, C, Ho, Wo) int32 flat indices into (H, W)
    (lecture 4; GPU backend)."""
    cupy = require_cupy()
    x = cupy.ascontiguousarray(x)
    out_shape, sizes = _sizes(x.shape, kernel, stride)
    out = cupy.empty(out_shape, dtype=x.dtype)
    argmax = cupy.empty(out_shape, dtype=cupy.int32)
    launch(get_kernel(POOL_SOURCE, "max_pool_forward", x.dtype), out.size,
           (x, out, argmax) + sizes)
    return out, argmax


def max_pool2d_backward(dout, argmax, input_size, kernel, stride):
    """dx (N, C, H, W) (lecture 4; GPU backend): each pixel gathers the dout values of the windows
    it was the max of."""
    cupy = require_cupy()
    dout = cupy.ascontiguousarray(dout)
    dx = cupy.empty(dout.shape[:2] + tuple(input_size), dtype=dout.dtype)
    _, sizes = _sizes(dx.shape, kernel, stride)
    launch(get_kernel(POOL_SOURCE, "max_pool_backward", dout.dtype), dx.size,
           (dout, cupy.ascontiguousarray(argmax, dtype=cupy.int32), dx) + sizes)
    return dx


def avg_pool2d_forward(x, kernel, stride):
    """out (N, C, Ho, Wo) (lecture 4; GPU backend): the mean of each window."""
    cupy = require_cupy()
    x = cupy.ascontiguousarray(x)
    out_shape, sizes = _sizes(x.shape, kernel, stride)
    out = cupy.empty(out_shape, dtype=x.dtype)
    launch(get_kernel(POOL_SOURCE, "avg_pool_forward", x.dtype), out.size, (x, out) + sizes)
    return out


def avg_pool2d_backward(dout, input_size, kernel, stride):
    """dx (N, C, H, W) (lecture 4; GPU backend): each pixel gathers its share of the windows that
    contain it."""
    cupy = require_cupy()
    dout = cupy.ascontiguousarray(dout)
    dx = cupy.empty(dout.shape[:2] + tuple(input_size), dtype=dout.dtype)
    _, sizes = _sizes(dx.shape, kernel, stride)
    launch(get_kernel(POOL_SOURCE, "avg_pool_backward", dout.dtype), dx.size,
           (dout, dx) + sizes)
    return dx
