"""Convolution and max-pooling speed: course (Numba) vs a plain numpy im2col vs PyTorch.

One run times, on the same machine and thread count, the forward + backward pass (all
gradients) of each layer of ``course.roofline.CONV_LAYERS``, and prints a table of times and
ratios, each library's GFLOP/s and its share of the machine's float32 matrix-multiply rate (a
2048^3 product measured in the same run), and the time that the bytes an im2col convolution
moves at the least (``course.roofline.conv_bytes``) take at the copy speed of a large array
measured in the same run (a lower bound on the memory traffic's time; the column buffers of
``course`` stay in the caches, so they move faster than that). The libraries take turns, round
after round, and each keeps its fastest round (``race``): on a machine shared with others,
speed drifts by 2x within minutes.
It also reports how long the first call takes in a fresh process: with an empty Numba cache
(compiling) and with the on-disk cache warm (loading).

    PYTHONPATH=. python benchmarks/bench_conv.py               # CPU: Numba vs numpy vs torch
    PYTHONPATH=. python benchmarks/bench_conv.py --device cuda # CuPy vs torch CUDA, if present
"""

# course first: it sets OpenBLAS's thread timeout (and Numba's threading layer) before numpy
# and Numba load
import course as _course  # noqa: F401

# isort: split
import argparse
import functools
import mmap
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from course import ops, roofline
from course.backend import (
    array_module_for,
    describe_device,
    gpu_available,
    synchronize,
    to_device,
)
from course.roofline import CONV_LAYERS, conv_flops

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
WARMUP_S = 0.1  # of untimed calls before each block (see race)


def race(candidates, rounds, repeats, sync=None):
    """Best-of-rounds median seconds of each candidate: ``{name: seconds}``.

    ``candidates`` maps names to functions. Each round times every candidate in turn, as one
    block of ``repeats`` calls (``course.roofline.median_time``) after WARMUP_S of untimed
    calls, and each candidate keeps its fastest round. Taking turns spreads a shared machine's
    changing speed over all of them alike, and whole blocks keep one library's idle threads,
    still spinning just after its last call, from slowing down the next library's calls.

    The warm-up is a time, not a count: for about 50 ms after a pause, course's threads shared
    one core (``course/kernels/cpu/threads.py``), and with one warm-up call the whole block of
    LeNet-5's second layer, about 30 ms, fell in that slow phase.
    """
    best = {}
    for _ in range(rounds):
        for name, fn in candidates.items():
            seconds = roofline.median_time(fn, repeats, warmup=1, sync=sync, clock=CLOCK,
                                           warmup_s=WARMUP_S)
            best[name] = min(seconds, best.get(name, seconds))
    return best


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


def numpy_conv(x, w, b, stride, padding):
    def step():
        out, cols = numpy_conv_forward(x, w, b, stride, padding)
        numpy_conv_backward(out, x, w, cols, stride, padding)
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


def time_layer(layer, rounds, repeats, torch=None, device="cpu"):
    """Seconds of the forward + backward pass of one ``CONV_LAYERS`` entry on ``device``, by
    ``race``: ``{"course": s, "torch": s, "numpy": s}``, with torch only when given and the
    numpy baseline only on the CPU."""
    _, n, c, f, size, k, stride, padding = layer
    x, w, b = conv_inputs(array_module_for(device), n, c, f, size, k)
    candidates = {"course": course_conv(x, w, b, stride, padding)}
    if device == "cpu":
        candidates["numpy"] = numpy_conv(x, w, b, stride, padding)
    if torch:
        candidates["torch"] = torch_conv(torch, x, w, b, stride, padding, device)
    return race(candidates, rounds, repeats, sync=functools.partial(synchronize, device))


def time_pool(rounds, repeats, torch=None, device="cpu"):
    """Seconds of the 2x2 max-pool forward + backward of a ``POOL_SHAPE`` input on ``device``,
    as ``time_layer`` gives them."""
    x = np.random.default_rng(0).standard_normal(POOL_SHAPE, dtype=np.float32)
    candidates = {"course": course_pool(to_device(x, device))}
    if device == "cpu":
        dout = np.ones((POOL_SHAPE[0], POOL_SHAPE[1], POOL_SHAPE[2] // 2, POOL_SHAPE[3] // 2),
                       dtype=np.float32)
        candidates["numpy"] = lambda: numpy_max_pool(x, dout)
    if torch:
        candidates["torch"] = torch_pool(torch, x, device)
    return race(candidates, rounds, repeats, sync=functools.partial(synchronize, device))


def print_table(rows, headers):
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1e3:.2f}"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


# -- the machine and its threads -----------------------------------------------------------------

def describe_machine():
    """CPU model (and family, model and stepping: virtual machines often name only the vendor's
    line), vector extensions, cores, BLAS library and kernel, Numba's threads and layer, and two
    costs that the course's threads pay and that differ tenfold between machines: handing work
    to another thread, and a page fault (``handoff_us``, ``page_fault_us``)."""
    import numba
    from threadpoolctl import threadpool_info

    model, flags, cpu = platform.processor() or "unknown CPU", set(), {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("cpu family", "model", "stepping"):
                cpu.setdefault(key.strip(), value.strip())
            elif key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    if cpu:
        model += " (" + ", ".join(f"{key} {value}" for key, value in cpu.items()) + ")"
    vector = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")
              if f in flags]
    blas = [f"{i.get('internal_api')} {i.get('version')} kernel={i.get('architecture')} "
            f"threads={i.get('num_threads')}"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return (f"CPU: {model}, {os.cpu_count()} logical cores, vector extensions: "
            f"{' '.join(vector) or 'none found'}\n"
            f"BLAS: {'; '.join(blas) or 'none found'}\n"
            f"Numba: {numba.get_num_threads()} threads, layer {numba.threading_layer()}   "
            f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}   "
            f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}   "
            f"load average {os.getloadavg()[0]:.1f}\n"
            f"a hand-off to a waiting thread and back: {handoff_us():.0f} us (median)   "
            f"a page fault: {page_fault_us():.1f} us a 4 KiB page (median)")


def handoff_us(rounds=200):
    """Median microseconds for a thread to wake a waiting thread and be woken by it in turn
    (two ``threading.Event`` hand-offs): what each parallel section of the course's CPU
    kernels pays at least twice (``course.kernels.cpu.threads``), and OpenBLAS on every product
    it shares between threads once its threads sleep. A few microseconds on bare metal; a
    virtual machine whose idle cores halt can take 100 us."""
    ping, pong = threading.Event(), threading.Event()

    def answer():
        for _ in range(rounds):
            ping.wait()
            ping.clear()
            pong.set()

    other = threading.Thread(target=answer)
    other.start()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        ping.set()
        pong.wait()
        pong.clear()
        times.append(time.perf_counter() - start)
    other.join()
    return float(np.median(times)) * 1e6


def page_fault_us(pages=4096, rounds=5):
    """Median microseconds of a first touch of a fresh 4 KiB page of memory (a minor page fault):
    what every new array of more than glibc's mapping threshold (128 KiB, rising to the size of
    the largest freed one) costs per page. Under a microsecond on bare metal; several where the
    hypervisor backs a virtual machine's memory lazily."""
    times = []
    for _ in range(rounds):
        with mmap.mmap(-1, pages * mmap.PAGESIZE) as fresh:
            view = np.frombuffer(fresh, dtype=np.uint8)
            start = time.perf_counter()
            view[::mmap.PAGESIZE] = 1
            times.append((time.perf_counter() - start) / pages)
            del view
    return float(np.median(times)) * 1e6


def use_threads(threads, torch=None):
    """Run Numba's kernels, numpy's BLAS and ``torch`` (when given) on ``threads`` threads."""
    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(threads)
    threadpool_limits(threads, user_api="blas")
    if torch:
        torch.set_num_threads(threads)


# -- the table, on the CPU or a GPU -------------------------------------------------------------

def torch_on(device):
    """The ``torch`` module if it is installed and runs on ``device``, else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch if device == "cpu" or torch.cuda.is_available() else None


def run_on(device, rounds, repeats, layers=CONV_LAYERS):
    """Time course against torch (and, on the CPU, the numpy baseline) on ``device`` and print
    the float32 matmul rate and a table of the conv ``layers`` and the max-pool.

    Returns ``{"matmul_gflops": GFLOP/s, "conv": [{"layer", "flops", "course_ms",
    "torch_ms"}]}``, one row per layer; ``torch_ms`` is None without torch on ``device``.
    """
    xp = array_module_for(device)
    torch = torch_on(device)
    if torch is None:
        print(f"PyTorch {'with CUDA ' if device == 'cuda' else ''}is not available: its columns "
              f"are left empty.")
    sync = functools.partial(synchronize, device)
    peak = roofline.matmul_gflops(xp, repeats, sync=sync, clock=CLOCK)
    bandwidth = roofline.copy_gbps(xp, repeats, sync=sync, clock=CLOCK)
    print(f"device: {'CPU' if device == 'cpu' else describe_device(device)['name']}   "
          f"float32 matmul 2048^3 ({xp.__name__}): {peak:.0f} GFLOP/s   copy {bandwidth:.1f} "
          f"GB/s   {rounds} rounds of {repeats} calls per entry\n")
    rows, table = [], []
    for layer in layers:
        times = time_layer(layer, rounds, repeats, torch, device)
        flops = conv_flops(*layer[1:])
        rates = {name: flops / times[name] / 1e9 for name in ("course", "torch") if name in times}
        rows.append({"layer": layer[0], "flops": flops, "course_ms": times["course"] * 1e3,
                     "torch_ms": times["torch"] * 1e3 if "torch" in times else None})
        table.append(table_row(layer[0], times, device) + [
            " / ".join(f"{rate:.0f}" for rate in rates.values()),
            " / ".join(f"{100 * rate / peak:.0f}%" for rate in rates.values()),
            ms(roofline.conv_bytes(*layer[1:], im2col=True) / bandwidth / 1e9)])
    table.append(table_row("max-pool 2x2 (64,32,32,32)", time_pool(rounds, repeats, torch, device),
                           device) + ["-", "-", "-"])
    numpy_headers = ["numpy ms", "numpy/course"] if device == "cpu" else []
    print_table(table, ["layer (float32, fwd+bwd)", "course ms", "torch ms", "course/torch",
                        *numpy_headers, "GFLOP/s course / torch", "% matmul",
                        "im2col bytes at copy speed, ms"])
    return {"matmul_gflops": peak, "conv": rows}


def table_row(label, times, device):
    """The time and ratio columns of one table row."""
    course, torch = times["course"], times.get("torch")
    row = [label, ms(course), ms(torch), ratio(course, torch)]
    if device == "cpu":
        row += [ms(times["numpy"]), ratio(times["numpy"], course)]
    return row


# -- CPU -------------------------------------------------------------------------------------

def first_call_seconds():
    """Time the first float32 conv and max-pool forward+backward of this process."""
    start = time.perf_counter()
    x, w, b = conv_inputs(np, 2, 3, 4, 8, 3)
    course_conv(x, w, b, 1, 1)()
    course_pool(x)()
    return time.perf_counter() - start


def measure_first_calls(script=__file__, env=None):
    """First-call time of ``script --first-call`` (it prints the seconds last) in two fresh
    processes sharing a new, empty Numba cache directory; ``env`` defaults to this one's."""
    env = dict(os.environ if env is None else env)
    results = []
    with tempfile.TemporaryDirectory() as cache_dir:
        env["NUMBA_CACHE_DIR"] = cache_dir
        for _ in range(2):
            done = subprocess.run([sys.executable, script, "--first-call"], env=env,
                                  capture_output=True, text=True, check=True)
            results.append(float(done.stdout.split()[-1]))
    return results


def run_cpu(args):
    """The CPU table, every library on ``--threads`` threads, and the first-call times."""
    import numba

    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    torch = torch_on("cpu")
    use_threads(threads, torch)
    print(describe_machine())
    print(f"threads: {threads}   clock: {args.clock}")
    cold, warm = measure_first_calls()
    print(f"first conv + max-pool call in a fresh process: {cold:.1f} s compiling (empty Numba "
          f"cache), {warm:.2f} s with the on-disk cache warm")
    run_on("cpu", args.rounds, args.repeats)


def run_cuda(args):
    """The ``--device cuda`` table (see ``run_on``); returns its numbers, or None without a GPU."""
    if not gpu_available():
        print("--device cuda: no CUDA run, CuPy is not installed or sees no CUDA device.")
        return None
    return run_on("cuda", args.rounds, args.repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds in which every library takes its turn (best round kept)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="timed calls per library and round (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for Numba, BLAS and torch (default: Numba's count)")
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
