"""Assignment 6's speed grading under load: the solution passes 10 of 10, the slow mutant fails.

    PYTHONPATH=$PWD python benchmarks/bench_a6_grading.py             # 10 runs each, 1 busy loop
    PYTHONPATH=$PWD python benchmarks/bench_a6_grading.py --runs 5 --busy 2

Grades the check ``a6.speed`` (the ratio of each kernel's time to its reference loops) on the
solution notebook's kernels and on the mutant ``bias_relu_not_compiled`` (the right loops
without ``@njit``), each run in a fresh Python process with one Numba thread, as in the grading
sandbox (so each run compiles the kernels again), while ``--busy`` processes spin in busy
loops on the same cores. Prints each run's ratios and verdict, and how many runs of each
passed. The threshold is ``course.grading.a6_fast_kernels.SPEEDUP``.
"""

import argparse
import ast
import json
import multiprocessing
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import nbformat  # noqa: E402

ASSIGNMENT = "a6_fast_kernels"
MUTANT = "bias_relu_not_compiled"

GRADE = """
import json, sys
from course.grading import CHECKS
from course.grading.checks import quiet
namespace = {"__name__": "__student__"}
exec(compile(sys.stdin.read(), "<kernels>", "exec"), namespace)
spec = CHECKS["a6.speed"]
with quiet():
    inputs = spec.make_inputs(0)
    outputs = spec.call([namespace[name] for name in spec.functions], inputs)
    result = spec.judge(inputs, outputs)
print(json.dumps({"passed": result.passed, "ratios": outputs["ratios"].tolist()}))
"""


def kernels(mutant=None):
    """The solution notebook's answer cells (one replaced by the mutant), as one program."""
    notebook = nbformat.read(os.path.join(ROOT, "solutions", ASSIGNMENT, f"{ASSIGNMENT}.ipynb"),
                             4)
    replace = {}
    if mutant:
        with open(os.path.join(ROOT, "autograder", "mutants", ASSIGNMENT, f"{mutant}.py")) as f:
            code = f.read()
        cell = next(line.split(":", 1)[1].strip() for line in code.splitlines()
                    if line.startswith("# cell:"))
        replace[cell] = code
    cells = []
    for cell in notebook.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("solution") or meta.get("grade_id") == "setup"):
            cells.append(replace.get(meta.get("grade_id"), cell.source))
    program = "\n\n".join(cells)
    ast.parse(program)
    return program


def grade_once(program):
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=ROOT)
    done = subprocess.run([sys.executable, "-c", GRADE], input=program, env=env,
                          capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def spin():
    while True:
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--busy", type=int, default=1, help="busy-loop processes meanwhile")
    args = parser.parse_args()
    from course.grading.a6_fast_kernels import SPEED, SPEEDUP

    busy = [multiprocessing.Process(target=spin, daemon=True) for _ in range(args.busy)]
    for process in busy:
        process.start()
    try:
        print(f"threshold: each kernel at least {SPEEDUP:.0f}x faster than its reference loops; "
              f"{args.busy} busy-loop process(es) running; load {os.getloadavg()[0]:.1f}")
        print("ratios in the order " + ", ".join(SPEED))
        for label, mutant in (("solution", None), (MUTANT, MUTANT)):
            program = kernels(mutant)
            passed = 0
            for run in range(args.runs):
                start = time.perf_counter()
                result = grade_once(program)
                passed += result["passed"]
                ratios = " ".join(f"{r:7.1f}" for r in result["ratios"])
                print(f"{label:24s} run {run + 1:2d}: {ratios}  "
                      f"{'pass' if result['passed'] else 'FAIL'}  "
                      f"({time.perf_counter() - start:.1f} s)", flush=True)
            print(f"{label}: speed points in {passed} of {args.runs} runs")
    finally:
        for process in busy:
            process.terminate()


if __name__ == "__main__":
    main()
