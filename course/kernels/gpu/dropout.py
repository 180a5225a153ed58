"""Dropout kernels in CUDA through CuPy (lecture 5 and the GPU lecture).

The uniform numbers come from CuPy's own generator, seeded from the ``numpy.random.Generator``
the op passes in: a fixed seed gives a fixed mask on the GPU too, but NOT the mask that the
CPU kernels draw for the same seed (the two generators are different algorithms).
"""

import numpy as np

from course.kernels.gpu.compile import get_kernel, launch

SOURCE = r"""
// keep = u >= p; out = x * (keep ? scale : 0), one thread per value.
extern "C" __global__ void dropout_forward(const real* x, const real* u, real p, real scale,
                                           real* out, bool* keep, long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    bool kept = u[i] >= p;
    keep[i] = kept;
    out[i] = x[i] * (kept ? scale : (real)0);
}

// dx = dout * (keep ? scale : 0), one thread per value.
extern "C" __global__ void dropout_backward(const real* dout, const bool* keep, real scale,
                                            real* dx, long long total) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    dx[i] = dout[i] * (keep[i] ? scale : (real)0);
}
"""

CUDA_SOURCES = {"dropout": SOURCE}


def dropout_forward(x, p, rng):
    """Inverted dropout of contiguous CuPy x; ``rng`` (numpy) seeds CuPy's generator
    (lecture 5; GPU backend)."""
    import cupy

    seed = int(rng.integers(2**63))
    u = cupy.random.default_rng(seed).random(x.shape, dtype=x.dtype)
    out = cupy.empty_like(x)
    keep = cupy.empty(x.shape, dtype=cupy.bool_)
    scale = x.dtype.type(1.0 / (1.0 - p))
    kernel = get_kernel(SOURCE, "dropout_forward", x.dtype)
    launch(kernel, x.size, (x, u, x.dtype.type(p), scale, out, keep, np.int64(x.size)))
    return out, keep


def dropout_backward(dout, keep, p):
    """Gradient of inverted dropout (lecture 5; GPU backend): ``dout`` through the kept values,
    times 1 / (1 - p)."""
    import cupy

    dx = cupy.empty_like(dout)
    kernel = get_kernel(SOURCE, "dropout_backward", dout.dtype)
    launch(kernel, dout.size, (dout, keep, dout.dtype.type(1.0 / (1.0 - p)), dx,
                               np.int64(dout.size)))
    return dx
