"""The roofline model (lecture 9): how much work a layer does, how much memory it moves, and the
two limits of the device that runs it.

A kernel that does ``flops`` floating-point operations and moves ``bytes`` to and from memory
needs at least ``flops / peak`` seconds of arithmetic and ``bytes / bandwidth`` seconds of
memory traffic, so it runs at no more than

    attainable(I) = min(peak, bandwidth * I) FLOP/s,    I = flops / bytes (FLOP per byte),

the *arithmetic intensity*. Left of the ridge ``I = peak / bandwidth`` a kernel is
bandwidth-bound, right of it compute-bound. This module counts a convolution layer's FLOPs and
bytes, lists the conv layers that the benchmarks and ``course.check_gpu`` time, and measures a
device's two limits on numpy (CPU) or CuPy (GPU) arrays alike: a float32 matrix product's
FLOP/s and a large copy's bytes/s.
"""

import time

import numpy as np

from course.kernels.shapes import conv_output_size

# (label, N, C, F, H=W, k, stride, padding): the float32 layers that benchmarks/bench_conv.py
# and ``python -m course.check_gpu`` time (forward pass, data gradient and weight gradient)
CONV_LAYERS = [
    ("N64 C3->32 32x32 k3 p1", 64, 3, 32, 32, 3, 1, 1),
    ("N64 C32->64 16x16 k3 p1", 64, 32, 64, 16, 3, 1, 1),
    ("N128 C1->6 28x28 k5", 128, 1, 6, 28, 5, 1, 0),
    ("N128 C6->16 12x12 k5", 128, 6, 16, 12, 5, 1, 0),
    ("N32 C64->64 16x16 k3 s2 p1", 32, 64, 64, 16, 3, 2, 1),
]


def conv_flops(n, c, f, size, k, stride, padding):
    """FLOPs of a conv layer's forward pass, data gradient and weight gradient (lecture 9).

    Input (N, C, size, size), F filters of (C, k, k): each of the three passes does one multiply
    and one add per weight per output pixel, ``2 N F C k^2 Ho Wo``.
    """
    out = conv_output_size(size, k, stride, padding)
    return 3 * 2 * n * f * c * k * k * out * out


def conv_bytes(n, c, f, size, k, stride, padding, im2col=False, itemsize=4):
    """Bytes that the three passes of a conv layer move to and from memory, at the least
    (lecture 9).

    Each pass reads its inputs once and writes its output once: forward x, w, b -> out; data
    gradient dout, w -> dx; weight gradient dout, x -> dw, db. With ``im2col=True`` add the
    column matrices (C k^2, N Ho Wo) that the im2col kernels write and read back: the forward
    pass's and the weight gradient's columns, and the data gradient's column gradients.
    """
    out = conv_output_size(size, k, stride, padding)
    x, w, y = n * c * size * size, f * c * k * k, n * f * out * out
    values = (x + w + f + y) + (y + w + x) + (y + x + w + f)
    if im2col:
        values += 3 * 2 * (c * k * k) * (n * out * out)
    return itemsize * values


def conv_intensity(n, c, f, size, k, stride, padding, im2col=False):
    """Arithmetic intensity of a conv layer's three passes, FLOPs per byte moved (lecture 9)."""
    return (conv_flops(n, c, f, size, k, stride, padding)
            / conv_bytes(n, c, f, size, k, stride, padding, im2col))


def attainable_gflops(intensity, peak_gflops, bandwidth_gbps):
    """The roof (lecture 9): ``min(peak, bandwidth * intensity)`` in GFLOP/s, for intensities in
    FLOP/byte (a number or an array)."""
    return np.minimum(peak_gflops, bandwidth_gbps * np.asarray(intensity, dtype=float))


def bound_by(intensity, peak_gflops, bandwidth_gbps):
    """``"compute"`` right of the ridge ``peak / bandwidth``, ``"bandwidth"`` left of it
    (lecture 9)."""
    return "compute" if intensity >= peak_gflops / bandwidth_gbps else "bandwidth"


def median_time(fn, repeats=5, warmup=2, sync=None, clock=time.perf_counter, warmup_s=0.0):
    """Median seconds of ``repeats`` calls of ``fn()``, after ``warmup`` calls that are not timed,
    and more of them until ``warmup_s`` seconds have passed (lecture 9).

    The warm-up calls pay for compiling (Numba's JIT, CuPy's kernel compiler) and for the first
    allocations; a warm-up by time also outlasts slow phases that follow a pause (see
    ``benchmarks/bench_conv.py``'s ``race``). ``sync`` (a GPU's ``synchronize``) is called
    before the clock starts and before it stops: a GPU runs its kernels asynchronously, so
    without it the clock would time only the launches.
    """
    end = time.perf_counter() + warmup_s
    for _ in range(warmup):
        fn()
    while time.perf_counter() < end:
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        if sync:
            sync()
        times.append(clock() - start)
    return float(np.median(times))


def matmul_gflops(xp, repeats=5, size=2048, sync=None, clock=time.perf_counter):
    """The compute roof (lecture 9): GFLOP/s of a float32 ``(size, size) @ (size, size)`` product
    (``2 size^3`` FLOPs) on ``xp`` (numpy or cupy) arrays."""
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal((size, size), dtype=np.float32))
    b = xp.asarray(rng.standard_normal((size, size), dtype=np.float32))
    return 2 * size ** 3 / median_time(lambda: a @ b, repeats, sync=sync, clock=clock) / 1e9


def copy_gbps(xp, repeats=5, nbytes=2 ** 28, sync=None, clock=time.perf_counter):
    """The bandwidth roof (lecture 9): GB/s of copying ``nbytes`` between two ``xp`` arrays, which
    reads and writes every byte (``2 * nbytes`` bytes moved)."""
    source = xp.ones(nbytes // 4, dtype=np.float32)
    target = xp.empty_like(source)
    seconds = median_time(lambda: xp.copyto(target, source), repeats, sync=sync, clock=clock)
    return 2 * nbytes / seconds / 1e9
