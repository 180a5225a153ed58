"""LSTM forward + backward: course (BLAS products + cell kernels) vs torch.nn.LSTM on the CPU.

    PYTHONPATH=. python benchmarks/bench_lstm.py [--threads 2] [--repeats 20]

Both run in the same process with the same number of threads (numpy's BLAS, Numba and torch),
on N64 T16 D128 H256 float32, taking turns round after round, each keeping its fastest round's
median (``bench_conv.race``); the ratio to torch's time is printed: below 1 means faster. The
course op is timed with its fast kernels ("numba") and with the readable numpy kernels
("reference").

On a machine where other jobs compete for the cores, use ``--threads 1 --clock cpu``: a
multi-threaded BLAS whose threads spin-wait for each other then slows down by 10x or more, and
the process's CPU time per run is a steadier measure than the wall-clock time.
"""

import argparse
import os
import sys
import time
from pathlib import Path

SHAPE = (64, 16, 128, 256)  # N, T, D, H: the layer timed here and by python -m course.check_gpu


def lstm_inputs(n, t, d, h, seed=0):
    """float32 numpy arrays x (N, T, D), h0 (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,) and an
    upstream gradient dh (N, T, H)."""
    import numpy as np  # imported here: main() sets the thread counts before numpy starts

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, t, d)).astype(np.float32)
    h0 = rng.standard_normal((n, h)).astype(np.float32)
    wx = (rng.standard_normal((d, 4 * h)) / np.sqrt(d)).astype(np.float32)
    wh = (rng.standard_normal((h, 4 * h)) / np.sqrt(h)).astype(np.float32)
    b = np.zeros(4 * h, dtype=np.float32)
    dh = rng.standard_normal((n, t, h)).astype(np.float32)
    return x, h0, wx, wh, b, dh


def course_step(x, h0, wx, wh, b, dh):
    """One forward and backward pass of ``course.ops.lstm`` on these numpy or CuPy arrays."""
    from course import ops

    def step():
        _, cache = ops.lstm_forward(x, h0, wx, wh, b)
        ops.lstm_backward(dh, cache)
    return step


def torch_lstm_step(torch, x, h0, dh):
    """One forward and backward pass of ``torch.nn.LSTM`` of the same sizes (x, h0 and dh as
    ``lstm_inputs`` makes them; the weights are PyTorch's own)."""
    n, _, d = x.shape
    h = h0.shape[1]
    lstm = torch.nn.LSTM(d, h, batch_first=True)
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0)[None].requires_grad_()
    tc0 = torch.zeros(1, n, h)
    tdh = torch.tensor(dh)

    def step():
        out, _ = lstm(tx, (th0, tc0))
        out.backward(tdh)
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shape", type=int, nargs=4, default=SHAPE,
                        metavar=("N", "T", "D", "H"))
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall-clock time, or the process's CPU time")
    args = parser.parse_args()
    # Thread counts must be set before numpy and torch start their thread pools. PyTorch's
    # OpenMP threads would otherwise spin after each parallel region and starve numpy's BLAS
    # threads in the same process (PERF_NOTES.md): let them sleep.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[name] = str(args.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    import torch

    from course.backend import use

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_conv

    torch.set_num_threads(args.threads)
    n, t, d, h = args.shape
    x, h0, wx, wh, b, dh = lstm_inputs(n, t, d, h)
    fast_step = course_step(x, h0, wx, wh, b, dh)

    def reference_step():
        with use("reference"):
            fast_step()

    torch_step = torch_lstm_step(torch, x, h0, dh)

    bench_conv.CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
    times = bench_conv.race({"torch.nn.LSTM": torch_step, "course (numba kernels)": fast_step,
                             "course (reference kernels)": reference_step},
                            args.rounds, args.repeats)
    print(f"LSTM forward+backward, N{n} T{t} D{d} H{h} float32, {args.threads} thread(s), "
          f"best of {args.rounds} alternating rounds of {args.repeats} ({args.clock} clock)")
    for name, seconds in times.items():
        ratio = seconds / times["torch.nn.LSTM"]
        print(f"  {name:28s} {seconds * 1e3:8.2f} ms   {ratio:5.2f}x torch")


if __name__ == "__main__":
    main()
