"""Activations with kernels of their own, forward + backward: course vs PyTorch vs plain numpy.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/bench_activations.py [--threads N] [--repeats 10]
        [--size 4194304] [--clock cpu]

For each activation in ``ACTIVATIONS`` it checks that the three versions agree, then prints the
median time of one forward and one backward pass over ``--size`` float32 values and its ratio
to PyTorch's CPU version, measured in one run with the same number of threads (by default all
of Numba's): course's ops on the Numba kernels, PyTorch, and the same ops on the reference
kernels (plain numpy). On a machine shared with other jobs, ``--clock cpu`` times with the
process's CPU time instead.
"""

import argparse
import os
import time

import numpy as np

# One line per activation op with kernels of its own: its name in course.ops (NAME_forward,
# NAME_backward) and the same function in PyTorch, given the torch module and a tensor.
ACTIVATIONS = {
    "relu": lambda torch, t: torch.relu(t),
    "gelu": lambda torch, t: torch.nn.functional.gelu(t, approximate="none"),
    "silu": lambda torch, t: torch.nn.functional.silu(t),
}


def course_pass(name, x, dout):
    """``(out, dx)`` of the activation ``name`` from course's ops, on the current kernel set."""
    from course import ops

    out, cache = getattr(ops, f"{name}_forward")(x)
    return out, getattr(ops, f"{name}_backward")(dout, cache)


def torch_pass(name, x, dout):
    """``(out, dx)`` of the activation ``name`` from PyTorch, as numpy arrays."""
    import torch

    xt = torch.from_numpy(x).requires_grad_(True)
    out = ACTIVATIONS[name](torch, xt)
    out.backward(torch.from_numpy(dout))
    return out.detach().numpy(), xt.grad.numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--size", type=int, default=4 * 1024 * 1024)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args(argv)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    import numba
    import torch

    from course.backend import use
    from course.roofline import median_time

    args.threads = args.threads or numba.get_num_threads()
    numba.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(args.size, dtype=np.float32) * 3
    dout = rng.standard_normal(args.size, dtype=np.float32)

    def reference_pass(name, x, dout):
        with use("reference"):
            return course_pass(name, x, dout)

    versions = {"PyTorch CPU": torch_pass, "course (Numba)": course_pass,
                "plain numpy": reference_pass}
    print(f"activations forward + backward, {args.size} float32 values, {args.threads} threads, "
          f"median of {args.repeats}, {args.clock} clock, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"| {'activation':<10} | {'version':<16} | {'time (ms)':>9} | {'vs PyTorch':>10} |")
    print(f"| {'-' * 10} | {'-' * 16} | {'-' * 9} | {'-' * 10} |")
    for name in ACTIVATIONS:
        theirs = torch_pass(name, x, dout)
        for label, run in versions.items():  # the versions agree before they are timed
            for ours, base in zip(run(name, x, dout), theirs, strict=True):
                assert np.allclose(ours, base, rtol=1e-4, atol=1e-5), \
                    f"{name}: {label} disagrees with PyTorch"
        times = {label: median_time(lambda run=run, name=name: run(name, x, dout),
                                    args.repeats, warmup=1, clock=clock)  # warm-up: the JIT
                 for label, run in versions.items()}
        base = times["PyTorch CPU"]
        for label, t in times.items():
            print(f"| {name:<10} | {label:<16} | {t * 1e3:9.2f} | {t / base:9.2f}x |")


if __name__ == "__main__":
    main()
