"""Time per submission of `course grade` for a class of sample copies, with 1 and 2 workers.

    PYTHONPATH=$PWD python benchmarks/bench_grading.py              # 30 students
    PYTHONPATH=$PWD python benchmarks/bench_grading.py --students 10 --workers 1 2 4

The class is made of copies of autograder/samples/a1_backprop (every sample, cycled, so the
class has the same mix of good, buggy, crashing and looping submissions), graded in a fresh
course folder with the default limits. Prints seconds per submission and the speed-up.
"""

import argparse
import os
import shutil
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assignment", default="a1_backprop")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    args = parser.parse_args()
    times = {}
    for workers in args.workers:
        with tempfile.TemporaryDirectory() as tmp:
            for step in ("solutions", "assignments"):
                shutil.copytree(os.path.join(ROOT, step, args.assignment),
                                os.path.join(tmp, step, args.assignment))
            make_class(os.path.join(tmp, "class"), args.assignment, args.students)
            start = time.perf_counter()
            summary = grade(args.assignment, root=tmp, source=os.path.join(tmp, "class"),
                            workers=workers, limits=Limits(test_timeout=args.timeout),
                            progress=False, out=open(os.devnull, "w"))
            times[workers] = time.perf_counter() - start
            print(f"workers={workers}: {len(summary.statuses)} submissions in "
                  f"{times[workers]:.1f} s = {times[workers] / args.students:.2f} s each "
                  f"(graded {summary.graded}, crashed {summary.crashed}, "
                  f"failed {summary.failed})", flush=True)
    base = times[args.workers[0]]
    for workers, seconds in times.items():
        print(f"{workers} worker(s): {seconds / args.students:.2f} s per submission, "
              f"speed-up x{base / seconds:.2f}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
