"""Convolution and max-pooling speed: course (Numba) vs a plain numpy im2col vs PyTorch.

One run times, on the same machine and thread count, the forward + backward pass (all
gradients) of each layer below, and prints a table of median times and ratios, GFLOP/s and the
share of the machine's float32 matrix-multiply rate (a 2048^3 product measured in the same run).
It also reports how long the first call takes in a fresh process: with an empty Numba cache
(compiling) and with the on-disk cache warm (loading).

    PYTHONPATH=. python benchmarks/bench_conv.py               # CPU: Numba vs numpy vs torch
    PYTHONPATH=. python benchmarks/bench_conv.py --device cuda # CuPy vs torch CUDA, if present
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course import ops
from course.backend import to_device

# (label, N, C, F, H=W, k, stride, padding)
LAYERS = [
    ("N64 C3->32 32x32 k3 p1", 64, 3, 32, 32, 3, 1, 1),
    ("N64 C32->64 16x16 k3 p1", 64, 32, 64, 16, 3, 1, 1),
    ("N128 C1->6 28x28 k5", 128, 1, 6, 28, 5, 1, 0),
    ("N128 C6->16 12x12 k5", 128, 6, 16, 12, 5, 1, 0),
    ("N32 C64->64 16x16 k3 s2 p1", 32, 64, 64, 16, 3, 2, 1),
]
POOL_SHAPE = (64, 32, 32, 32)


# -- the baseline: im2col in plain numpy ---------------------------------------------------------

def numpy_conv_forward(x, w, b, stride, padding):
    """im2col with sliding_window_view (one copy), then one matrix product."""
    n, c, _, _ = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    ho, wo = windows.shape[2:4]
    cols = windows.transpose(1, 4, 5, 0, 2, 3).reshape(c * kh * kw, n * ho * wo)
    out = (w.reshape(f, -1) @ cols).reshape(f, n, ho, wo).transpose(1, 0, 2, 3)
    return out + b[None, :, None, None], cols


def numpy_conv_backward(dout, x, w, cols, stride, padding):
    """Products for dw and the column gradients, then col2im by a loop over kernel offsets."""
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    ho, wo = dout.shape[2:]
    dout_cols = dout.transpose(1, 0, 2, 3).reshape(f, -1)
    dw = (dout_cols @ cols.T).reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3))
    dcols = (w.reshape(f, -1).T @ dout_cols).reshape(c, kh, kw, n, ho, wo)
    dxp = np.zeros((n, c, h + 2 * padding, width + 2 * padding), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + stride * ho:stride, j:j + stride * wo:stride] += (
                dcols[:, i, j].transpose(1, 0, 2, 3))
    return dxp[:, :, padding:padding + h, padding:padding + width], dw, db


def numpy_max_pool(x, dout):
    """2x2/2 max-pool forward and backward with strided slices (the fastest numpy form)."""
    slices = [x[:, :, i::2, j::2] for i in range(2) for j in range(2)]
    out = np.maximum(np.maximum(slices[0], slices[1]), np.maximum(slices[2], slices[3]))
    dx = np.zeros_like(x)
    taken = np.zeros(out.shape, dtype=bool)
    for (i, j), s in zip([(0, 0), (0, 1), (1, 0), (1, 1)], slices, strict=True):
        win = (s == out) & ~taken
        dx[:, :, i::2, j::2] = dout * win
        taken |= win
    return out, dx


# -- timing ----------------------------------------------------------------------------------

CLOCK = time.perf_counter  # --clock cpu switches to time.process_time


def median_time(fn, repeats, warmup=2, sync=None):
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    times = []
    for _ in range(repeats):
        start = CLOCK()
        fn()
        if sync:
            sync()
        times.append(CLOCK() - start)
    return float(np.median(times))


def matmul_gflops(xp, repeats, sync=None):
    rng = np.random.default_rng(0)
    a = xp.asarray(rng.standard_normal((2048, 2048), dtype=np.float32))
    b = xp.asarray(rng.standard_normal((2048, 2048), dtype=np.float32))
    return 2 * 2048 ** 3 / median_time(lambda: a @ b, repeats, sync=sync) / 1e9


def conv_flops(n, c, f, size, k, stride, padding):
    out = (size + 2 * padding - k) // stride + 1
    return 3 * 2 * n * f * c * k * k * out * out  # forward, data gradient, weight gradient


def conv_inputs(xp, n, c, f, size, k, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, size, size), dtype=np.float32)
    w = rng.standard_normal((f, c, k, k), dtype=np.float32) * 0.1
    b = rng.standard_normal(f, dtype=np.float32)
    return xp.asarray(x), xp.asarray(w), xp.asarray(b)


def course_conv(x, w, b, stride, padding):
    def step():
        out, cache = ops.conv2d_forward(x, w, b, stride, padding)
        ops.conv2d_backward(out, cache)
    return step


def course_pool(x):
    def step():
        out, cache = ops.max_pool2d_forward(x, 2)
        ops.max_pool2d_backward(out, cache)
    return step


def torch_conv(torch, x, w, b, stride, padding, device):
    tx, tw, tb = (torch.tensor(np.asarray(to_device(a, "cpu")), device=device,
                               requires_grad=True) for a in (x, w, b))

    def step():
        out = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
        out.backward(out.detach())
    return step


def torch_pool(torch, x, device):
    tx = torch.tensor(np.asarray(to_device(x, "cpu")), device=device, requires_grad=True)

    def step():
        out = torch.nn.functional.max_pool2d(tx, 2)
        out.backward(out.detach())
    return step


def print_table(rows, headers):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


# -- CPU -------------------------------------------------------------------------------------

def first_call_seconds():
    """Time the first float32 conv and max-pool forward+backward of this process."""
    start = time.perf_counter()
    x, w, b = conv_inputs(np, 2, 3, 4, 8, 3)
    course_conv(x, w, b, 1, 1)()
    course_pool(x)()
    return time.perf_counter() - start


def measure_first_calls():
    """First-call time in two fresh processes sharing a new, empty Numba cache directory."""
    env = dict(os.environ)
    results = []
    with tempfile.TemporaryDirectory() as cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
        for _ in range(2):
            done = subprocess.run([sys.executable, __file__, "--first-call"], env=env,
                                  capture_output=True, text=True, check=True)
            results.append(float(done.stdout.split()[-1]))
    return results


def run_cpu(args):
    import numba

    import course.kernels.cpu  # noqa: F401  chooses Numba's threading layer: import it before
    # set_num_threads, which starts the default (OpenMP) layer if none is chosen yet

    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(threads)
    try:  # numpy's BLAS gets the same thread count (threadpoolctl comes with scikit-learn)
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        print("threadpoolctl is not installed: numpy's BLAS uses its default thread count.")
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:
        torch = None
        print("PyTorch is not installed: its columns are left empty.")

    peak = matmul_gflops(np, args.repeats)
    print(f"threads: {threads} (Numba layer: {numba.threading_layer()})   clock: {args.clock}   "
          f"load average: {os.getloadavg()[0]:.1f}   "
          f"float32 matmul 2048^3 (numpy BLAS): {peak:.1f} GFLOP/s")
    cold, warm = measure_first_calls()
    print(f"first conv + max-pool call in a fresh process: {cold:.1f} s compiling (empty Numba "
          f"cache), {warm:.2f} s with the on-disk cache warm\n")

    rows = []
    for label, n, c, f, size, k, stride, padding in LAYERS:
        x, w, b = conv_inputs(np, n, c, f, size, k)
        t_course = median_time(course_conv(x, w, b, stride, padding), args.repeats)

        def numpy_step(x=x, w=w, b=b, stride=stride, padding=padding):
            out, cols = numpy_conv_forward(x, w, b, stride, padding)
            numpy_conv_backward(out, x, w, cols, stride, padding)
        t_numpy = median_time(numpy_step, args.repeats)
        t_torch = (median_time(torch_conv(torch, x, w, b, stride, padding, "cpu"), args.repeats)
                   if torch else None)
        gflops = conv_flops(n, c, f, size, k, stride, padding) / t_course / 1e9
        rows.append([label + " fwd+bwd", ms(t_course), ms(t_numpy), ms(t_torch),
                     ratio(t_course, t_torch), ratio(t_numpy, t_course), f"{gflops:.1f}",
                     f"{100 * gflops / peak:.0f}%"])

    x = np.random.default_rng(0).standard_normal(POOL_SHAPE, dtype=np.float32)
    t_course = median_time(course_pool(x), args.repeats)
    dout = np.ones((64, 32, 16, 16), dtype=np.float32)
    t_numpy = median_time(lambda: numpy_max_pool(x, dout), args.repeats)
    t_torch = median_time(torch_pool(torch, x, "cpu"), args.repeats) if torch else None
    rows.append(["max-pool 2x2 (64,32,32,32) fwd+bwd", ms(t_course), ms(t_numpy), ms(t_torch),
                 ratio(t_course, t_torch), ratio(t_numpy, t_course), "-", "-"])

    print_table(rows, ["layer (float32)", "course ms", "numpy ms", "torch ms", "course/torch",
                       "numpy/course", "GFLOP/s", "% matmul"])


# -- GPU -------------------------------------------------------------------------------------

def run_cuda(args):
    from course.backend import gpu_available

    if not gpu_available():
        print("--device cuda: no CUDA run, CuPy is not installed or sees no CUDA device.")
        return
    import cupy

    try:
        import torch
        torch_cuda = torch.cuda.is_available()
    except ImportError:
        torch_cuda = False
    if not torch_cuda:
        print("PyTorch with CUDA is not available: its columns are left empty.")
    sync = cupy.cuda.Device().synchronize
    torch_sync = torch.cuda.synchronize if torch_cuda else None
    peak = matmul_gflops(cupy, args.repeats, sync=sync)
    print(f"device: {cupy.cuda.runtime.getDeviceProperties(0)['name'].decode()}   "
          f"float32 matmul 2048^3 (cupy): {peak:.0f} GFLOP/s\n")
    rows = []
    for label, n, c, f, size, k, stride, padding in LAYERS:
        x, w, b = conv_inputs(cupy, n, c, f, size, k)
        t_course = median_time(course_conv(x, w, b, stride, padding), args.repeats, sync=sync)
        t_torch = (median_time(torch_conv(torch, x, w, b, stride, padding, "cuda"),
                               args.repeats, sync=torch_sync) if torch_cuda else None)
        gflops = conv_flops(n, c, f, size, k, stride, padding) / t_course / 1e9
        rows.append([label + " fwd+bwd", ms(t_course), ms(t_torch), ratio(t_course, t_torch),
                     f"{gflops:.0f}", f"{100 * gflops / peak:.0f}%"])
    x = cupy.asarray(np.random.default_rng(0).standard_normal(POOL_SHAPE, dtype=np.float32))
    t_course = median_time(course_pool(x), args.repeats, sync=sync)
    t_torch = (median_time(torch_pool(torch, x, "cuda"), args.repeats, sync=torch_sync)
               if torch_cuda else None)
    rows.append(["max-pool 2x2 (64,32,32,32) fwd+bwd", ms(t_course), ms(t_torch),
                 ratio(t_course, t_torch), "-", "-"])
    print_table(rows, ["layer (float32)", "cupy ms", "torch ms", "course/torch", "GFLOP/s",
                       "% matmul"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per entry (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for Numba and torch (default: Numba's thread count)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time, or this process's CPU time: steadier on a shared "
                             "machine, comparable between libraries only with --threads 1")
    parser.add_argument("--first-call", action="store_true",
                        help="internal: time this process's first call and print it")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.first_call:
        print(first_call_seconds())
    elif args.device == "cuda":
        run_cuda(args)
    else:
        run_cpu(args)


if __name__ == "__main__":
    main()
