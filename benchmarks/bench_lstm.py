"""LSTM forward + backward: course (Numba cell kernels around BLAS) vs torch.nn.LSTM on the CPU.

    PYTHONPATH=. python benchmarks/bench_lstm.py [--threads 2] [--repeats 20]

Both run in the same process with the same number of threads, on N64 T16 D128 H256 float32,
and the ratio of median times (course / torch) is printed: below 1 means course is faster.
"""

import argparse
import os
import time

# PyTorch's OpenMP threads spin after each parallel region and starve the BLAS threads of numpy
# running in the same process (PERF_NOTES.md): let them sleep, so both sides get the cores.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from course import ops
from course.backend import use


def median_time(fn, repeats):
    fn()  # warm-up (JIT compilation, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--shape", type=int, nargs=4, default=(64, 16, 128, 256),
                        metavar=("N", "T", "D", "H"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n, t, d, h = args.shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    h0 = rng.standard_normal((n, h)).astype(np.float32)
    wx = (rng.standard_normal((d, 4 * h)) / np.sqrt(d)).astype(np.float32)
    wh = (rng.standard_normal((h, 4 * h)) / np.sqrt(h)).astype(np.float32)
    b = np.zeros(4 * h, dtype=np.float32)
    dh = rng.standard_normal((n, t, h)).astype(np.float32)

    def course_step():
        out, cache = ops.lstm_forward(x, h0, wx, wh, b)
        ops.lstm_backward(dh, cache)

    def reference_step():
        with use("reference"):
            course_step()

    lstm = torch.nn.LSTM(d, h, batch_first=True)
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0)[None].requires_grad_()
    tc0 = torch.zeros(1, n, h)
    tdh = torch.tensor(dh)

    def torch_step():
        out, _ = lstm(tx, (th0, tc0))
        out.backward(tdh)

    times = {"torch.nn.LSTM": median_time(torch_step, args.repeats),
             "course (numba cell)": median_time(course_step, args.repeats),
             "course (numpy reference cell)": median_time(reference_step, args.repeats)}
    print(f"LSTM forward+backward, N{n} T{t} D{d} H{h} float32, {args.threads} threads, "
          f"median of {args.repeats}")
    for name, seconds in times.items():
        ratio = seconds / times["torch.nn.LSTM"]
        print(f"  {name:32s} {seconds * 1e3:8.2f} ms   {ratio:5.2f}x torch")


if __name__ == "__main__":
    main()
