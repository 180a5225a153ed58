"""Throughput of `course grade` for a class of sample copies, and the cost of the sandbox.

    PYTHONPATH=$PWD python benchmarks/bench_grading.py              # 30 students, 1 and 2 workers
    PYTHONPATH=$PWD python benchmarks/bench_grading.py --students 10 --workers 1 2 4
    PYTHONPATH=$PWD python benchmarks/bench_grading.py --cluster 2   # a 2-worker LocalCluster
    PYTHONPATH=$PWD python benchmarks/bench_grading.py --sandbox-cost 10 --students 0

The class is made of copies of autograder/samples/a1_backprop (every sample, cycled, so the
class has the same mix of good, buggy, crashing and looping submissions), graded in a fresh
course folder. Prints submissions per minute for each number of workers (or Dask workers) and
the speed-up. ``--sandbox-cost N`` starts and stops N grading kernels with and without the
sandbox, alternating, and prints the median cost the sandbox adds to each kernel (a
submission starts one kernel per notebook, more after a timeout or a crash).
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from course.grading.autograde import Limits  # noqa: E402
from course.grading.pipeline import grade  # noqa: E402


def make_class(folder, assignment, students):
    samples = os.path.join(ROOT, "autograder", "samples", assignment)
    names = sorted(n for n in os.listdir(samples) if n.endswith(".ipynb"))
    os.makedirs(folder)
    for i in range(students):
        name = names[i % len(names)]
        shutil.copyfile(os.path.join(samples, name), os.path.join(folder, f"s{i:03d}_{name}"))


def grade_class(args, workers=1, cluster=None):
    """Grade a fresh class; returns (seconds, summary)."""
    with tempfile.TemporaryDirectory() as tmp:
        for step in ("solutions", "assignments"):
            shutil.copytree(os.path.join(ROOT, step, args.assignment),
                            os.path.join(tmp, step, args.assignment))
        make_class(os.path.join(tmp, "class"), args.assignment, args.students)
        start = time.perf_counter()
        summary = grade(args.assignment, root=tmp, source=os.path.join(tmp, "class"),
                        workers=workers, cluster=cluster,
                        limits=Limits(test_timeout=args.timeout, sandbox=not args.no_sandbox),
                        progress=False, out=open(os.devnull, "w"))
        return time.perf_counter() - start, summary


def report(label, seconds, summary, students):
    print(f"{label}: {len(summary.statuses)} submissions in {seconds:.1f} s = "
          f"{60 * students / seconds:.1f} per minute, {seconds / students:.2f} s each "
          f"(graded {summary.graded}, crashed {summary.crashed}, failed {summary.failed})",
          flush=True)


def sandbox_cost(count):
    """Median seconds to start a kernel, run one cell and stop it, with and without the sandbox."""
    from course.grading.worker import Kernel

    times = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o711)
        for i in range(count):
            for sandboxed in (True, False):
                workdir = os.path.join(tmp, f"{i}-{sandboxed}")
                os.makedirs(workdir)
                start = time.perf_counter()
                with Kernel(workdir, 2 * 2**30, 600, 64 * 2**20, sandbox=sandboxed) as kernel:
                    assert kernel.execute("import numpy", 60).status == "ok"
                times[sandboxed].append(time.perf_counter() - start)
    with_, without = statistics.median(times[True]), statistics.median(times[False])
    print(f"kernel start + one cell + stop, median of {count}: {with_:.2f} s sandboxed, "
          f"{without:.2f} s without (which imports the whole library: numba)")
    print(f"bwrap itself (the same Python command in and out of the sandbox, median of "
          f"{count}): {bwrap_cost(count):+.3f} s per kernel")


def bwrap_cost(count):
    """Median extra seconds of one sandboxed ``python -I -c 'import numpy'`` over the same
    command outside, including writing the sandbox's library copy and exchange folder."""
    import subprocess

    from course.grading import sandbox

    extra = []
    argv = [sys.executable, "-I", "-c", "import numpy"]
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(count):
            start = time.perf_counter()
            subprocess.run(argv, check=True)
            plain = time.perf_counter() - start
            start = time.perf_counter()
            library = sandbox.make_library(os.path.join(tmp, f"lib{i}"))
            exchange = sandbox.prepare_exchange(os.path.join(tmp, f"io{i}"))
            subprocess.run(sandbox.command(argv, library, exchange), check=True)
            extra.append(time.perf_counter() - start - plain)
    return statistics.median(extra)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="a1_backprop")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--cluster", type=int, nargs="*", default=[],
                        help="also grade on a LocalCluster with this many worker processes")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--sandbox-cost", type=int, default=0, metavar="N",
                        help="measure the sandbox's cost per kernel over N kernels")
    args = parser.parse_args()
    if args.sandbox_cost:
        sandbox_cost(args.sandbox_cost)
    if not args.students:
        return
    rates = {}
    for workers in args.workers:
        seconds, summary = grade_class(args, workers=workers)
        report(f"workers={workers}", seconds, summary, args.students)
        rates[f"{workers} worker(s)"] = 60 * args.students / seconds
    for count in args.cluster:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            seconds, summary = grade_class(args, cluster=client)
        report(f"cluster of {count}", seconds, summary, args.students)
        rates[f"{count} Dask worker(s)"] = 60 * args.students / seconds
    base = next(iter(rates.values()))
    for label, rate in rates.items():
        print(f"{label}: {rate:.1f} submissions per minute, speed-up x{rate / base:.2f}")
    print(f"load average after the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
