"""The CPU speed table: every case of issue 18, course against PyTorch, in one run.

The five convolution layers of ``course.roofline.CONV_LAYERS``, the 2x2 max-pool, spatial batch
norm, the LSTM and a LeNet-5 training step (batch 128, SGD with momentum), float32, forward and
backward, each library on the same threads. The libraries take turns, round after round, and
each keeps its fastest round (``bench_conv.race``). Each row gives course's and PyTorch's time,
their ratio and the target: course at most 1.2x PyTorch's time, or 1.0x where the case is
memory-bound (pooling, batch norm). The machine (CPU, vector extensions, BLAS kernel) is
printed first: compare ratios, not times, between machines.

    PYTHONPATH=. python benchmarks/speed_table.py              # one table
    PYTHONPATH=. python benchmarks/speed_table.py --runs 3     # three, and each ratio's range
"""

# course first: it sets OpenBLAS's thread timeout (and Numba's threading layer) before numpy
# and Numba load
import course as _course  # noqa: F401

# isort: split
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_conv  # noqa: E402
import bench_lstm  # noqa: E402
import bench_norm  # noqa: E402
import train_step  # noqa: E402

from course.roofline import CONV_LAYERS  # noqa: E402

MEMORY_BOUND_TARGET, TARGET = 1.0, 1.2


def cases(torch):
    """``[(label, target ratio, {"course": step, "torch": step})]``, the table's rows."""
    import numpy as np

    rows = []
    for _, n, c, f, size, k, stride, padding in CONV_LAYERS:
        x, w, b = bench_conv.conv_inputs(np, n, c, f, size, k)
        rows.append((f"conv N{n} {c}->{f} {size}x{size} k{k} s{stride} p{padding}", TARGET,
                     {"course": bench_conv.course_conv(x, w, b, stride, padding),
                      "torch": bench_conv.torch_conv(torch, x, w, b, stride, padding, "cpu")}))
    pool_input = np.random.default_rng(0).standard_normal(bench_conv.POOL_SHAPE, dtype=np.float32)
    rows.append((f"max-pool 2x2, {'x'.join(map(str, bench_conv.POOL_SHAPE))}",
                 MEMORY_BOUND_TARGET, {"course": bench_conv.course_pool(pool_input),
                                       "torch": bench_conv.torch_pool(torch, pool_input, "cpu")}))
    norm = bench_norm.batchnorm_steps(torch, bench_conv.POOL_SHAPE)
    rows.append((f"spatial batch norm, {'x'.join(map(str, bench_conv.POOL_SHAPE))}",
                 MEMORY_BOUND_TARGET,
                 {"course": norm["course (Numba)"], "torch": norm["PyTorch CPU"]}))
    n, t, d, h = bench_lstm.SHAPE
    x, h0, wx, wh, b, dh = bench_lstm.lstm_inputs(n, t, d, h)
    rows.append((f"LSTM N{n} T{t} D{d} H{h}", TARGET,
                 {"course": bench_lstm.course_step(x, h0, wx, wh, b, dh),
                  "torch": bench_lstm.torch_lstm_step(torch, x, h0, dh)}))
    rows.append((f"LeNet-5 training step, batch {train_step.BATCH['lenet5']}, SGD momentum",
                 TARGET, {"course": train_step.course_step("lenet5"),
                          "torch": train_step.torch_step(torch, "lenet5")}))
    return rows


def measure(rows, rounds, repeats):
    """``[(course seconds, torch seconds)]``, one pair per row, by ``bench_conv.race``."""
    return [tuple(bench_conv.race(steps, rounds, repeats)[name] for name in ("course", "torch"))
            for _, _, steps in rows]


def print_runs(rows, runs):
    """The table: each run's times and ratio, the ratios' range and whether every run met the
    target. Returns the number of rows that missed it in some run."""
    table, missed = [], 0
    for i, (label, target, _) in enumerate(rows):
        ratios = [course / torch for course, torch in (run[i] for run in runs)]
        met = max(ratios) <= target
        missed += not met
        times = "; ".join(f"{bench_conv.ms(c)} / {bench_conv.ms(t)}" for c, t in
                          (run[i] for run in runs))
        table.append([label, times, f"{min(ratios):.2f}-{max(ratios):.2f}x"
                      if len(ratios) > 1 else f"{ratios[0]:.2f}x", f"{target:.1f}x",
                      "yes" if met else "NO"])
    bench_conv.print_table(table, ["case (float32, forward + backward)", "course / torch ms",
                                   "course/torch", "target", "met"])
    return missed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="whole tables measured")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds in which both libraries take their turn (best kept)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per round (median)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for Numba, BLAS and torch (default: Numba's count)")
    args = parser.parse_args()
    import numba
    import torch

    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    bench_conv.use_threads(threads, torch)
    print(bench_conv.describe_machine())
    print(f"PyTorch {torch.__version__}, {threads} threads for every library; wall clock, best "
          f"of {args.rounds} alternating rounds of {args.repeats} calls; {args.runs} run(s)\n")
    rows = cases(torch)
    runs = [measure(rows, args.rounds, args.repeats) for _ in range(args.runs)]
    missed = print_runs(rows, runs)
    print(f"\n{len(rows) - missed} of {len(rows)} cases within their target in every run")


if __name__ == "__main__":
    main()
