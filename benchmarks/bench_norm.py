"""Spatial batch norm, forward + backward in training mode: course vs PyTorch vs plain numpy.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/bench_norm.py [--threads 2] [--repeats 20] [--clock cpu]

Prints the time of each version and its ratio to PyTorch's CPU batch norm, measured in one run
with the same number of threads: the versions take turns, round after round, and each keeps its
fastest round's median (``bench_conv.race``). On a machine shared with other jobs, ``--clock cpu``
times with the process's CPU time instead of the wall clock.
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_conv  # noqa: E402


def numpy_batchnorm(x, gamma, beta, dout, eps=1e-5):
    """Forward and backward as separate numpy passes over the whole array (CS231n style)."""
    axes = (0, 2, 3)
    m = x.size // x.shape[1]
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    out = xhat * gamma[:, None, None] + beta[:, None, None]
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * xhat).sum(axis=axes)
    dx = (gamma[:, None, None] * inv_std / m) * (
        m * dout - dbeta[:, None, None] - xhat * dgamma[:, None, None])
    return out, dx, dgamma, dbeta


def course_batchnorm(x, gamma, beta, dout, state):
    from course import ops

    out, cache = ops.spatial_batchnorm_forward(x, gamma, beta, state)
    dx, dgamma, dbeta = ops.spatial_batchnorm_backward(dout, cache)
    return out, dx, dgamma, dbeta


def batchnorm_steps(torch, shape):
    """``{"PyTorch CPU", "course (Numba)", "plain numpy": step}``: spatial batch norm forward
    and backward in training mode on float32 inputs of ``shape`` (N, C, H, W), each step a
    function of no arguments; the three are checked to agree first."""
    from course import ops

    rng = np.random.default_rng(0)
    c = shape[1]
    x = rng.standard_normal(shape, dtype=np.float32) * 2 + 1
    dout = rng.standard_normal(shape, dtype=np.float32)
    gamma = rng.standard_normal(c, dtype=np.float32)
    beta = rng.standard_normal(c, dtype=np.float32)
    state = ops.batchnorm_state(c, np.float32)

    xt = torch.from_numpy(x).requires_grad_(True)
    dt = torch.from_numpy(dout)
    wt = torch.from_numpy(gamma.copy()).requires_grad_(True)
    bt = torch.from_numpy(beta.copy()).requires_grad_(True)
    rm, rv = torch.zeros(c), torch.ones(c)

    def torch_step():
        xt.grad = wt.grad = bt.grad = None
        out = torch.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=True)
        out.backward(dt)

    ours = course_batchnorm(x, gamma, beta, dout, state)
    plain = numpy_batchnorm(x, gamma, beta, dout)
    torch_step()
    for name, a, b in [("dx", ours[1], xt.grad.numpy()), ("dx numpy", plain[1], xt.grad.numpy()),
                       ("dgamma", ours[2], wt.grad.numpy())]:
        assert np.allclose(a, b, rtol=1e-3, atol=1e-3), f"{name} disagrees with PyTorch"

    return {"PyTorch CPU": torch_step,
            "course (Numba)": lambda: course_batchnorm(x, gamma, beta, dout, state),
            "plain numpy": lambda: numpy_batchnorm(x, gamma, beta, dout)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--shape", type=int, nargs=4, default=[64, 32, 32, 32])
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))
    import numba
    import torch

    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)

    shape = tuple(args.shape)
    steps = batchnorm_steps(torch, shape)
    bench_conv.CLOCK = clock
    times = bench_conv.race(steps, args.rounds, args.repeats)
    base = times["PyTorch CPU"]
    print(f"spatial batch norm forward + backward, {shape} float32, {args.threads} threads, "
          f"best of {args.rounds} alternating rounds of {args.repeats}, {args.clock} clock, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"| {'version':<16} | {'time (ms)':>9} | {'vs PyTorch':>10} |")
    print(f"| {'-' * 16} | {'-' * 9} | {'-' * 10} |")
    for name, t in times.items():
        print(f"| {name:<16} | {t * 1e3:9.2f} | {t / base:9.2f}x |")


if __name__ == "__main__":
    main()
