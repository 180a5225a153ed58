"""Grading one submission: its notebooks, one kernel at a time, test by test (``course grade``).

For each notebook the grader (a process that never runs student code) parses the test cells of
the SOURCE notebook, makes every check's inputs, and starts a grading kernel in its sandbox
(:class:`course.grading.worker.Kernel`). The kernel runs the submission's code cells (see
:func:`course.grading.notebook.program`), then one driver call per check, visible checks first;
each call sees only its own inputs, has its own timeout and runs under the kernel's limits.
The whole submission has a wall-clock budget (:attr:`Limits.submission_timeout`).

A test that times out or kills the kernel fails with that reason; a fresh kernel re-runs the
submission's cells (skipping any cell that itself hung or crashed) and goes on with the next
test, so the tests that already ran keep their scores. When every kernel of the notebook is
gone, the outputs the grader copied out are judged by a separate interpreter
(:class:`course.grading.judge.Judge`).
"""

import functools
import glob
import os
import time
from dataclasses import dataclass, field

import nbformat

from course.grading.judge import Judge
from course.grading.notebook import (
    SubmissionError,
    answers,
    program,
    read_notebook,
    test_cells,
)
from course.grading.worker import Kernel


@dataclass
class Limits:
    """Limits of a grading run: per cell, per test and per submission."""

    test_timeout: float = 30.0
    cell_timeout: float = 60.0
    submission_timeout: float = 300.0  # wall-clock seconds for all of one submission
    memory: int = 2 * 2**30  # address space of each process of the kernel, bytes
    cpu_seconds: int = 600  # CPU time of one kernel: a backstop for escaped processes
    fsize: int = 64 * 2**20  # largest file the kernel may write
    sandbox: bool = True  # False: ``--no-sandbox``, the kernel is not isolated


@dataclass
class CheckResult:
    """One check call of a test cell, after grading."""

    cell: str
    name: str
    hidden: bool
    passed: bool
    reason: str  # "ok", "wrong value", "wrong gradient", "wrong shape", "error",
    # "timeout", "memory", "crashed"
    message: str


@dataclass
class NotebookResult:
    """Scores of one notebook; status is 'graded', 'crashed' or 'failed' (not gradable)."""

    notebook: str
    status: str = "graded"
    reason: str = ""
    scores: dict = field(default_factory=dict)  # test cell grade_id -> points earned
    checks: list = field(default_factory=list)  # CheckResult, in source order
    log: list = field(default_factory=list)  # instructor-facing notes (cells that failed, ...)
    answers: dict = field(default_factory=dict)  # answer cell grade_id -> submitted source


@dataclass
class NotebookSpec:
    """One notebook of an assignment: its source (with hidden tests), release and test cells."""

    name: str  # file name without .ipynb
    source: object
    release: object
    tests: list


def load_assignment(source_dir, release_dir=None):
    """The NotebookSpecs of an assignment from its source (and release) directory."""
    specs = []
    for path in sorted(glob.glob(os.path.join(source_dir, "*.ipynb"))):
        name = os.path.splitext(os.path.basename(path))[0]
        source = nbformat.read(path, as_version=4)
        release_path = os.path.join(release_dir or "", name + ".ipynb")
        release = nbformat.read(release_path, as_version=4) if release_dir and os.path.exists(
            release_path) else None
        specs.append(NotebookSpec(name, source, release, test_cells(source)))
    if not specs:
        raise FileNotFoundError(f"no notebooks in {source_dir}")
    return specs


def grade_submission(specs, submission_dir, workdir, limits, judge=None):
    """Grade every notebook of one student's submission folder; a list of NotebookResult.

    ``workdir`` is a folder private to the grader; ``judge`` a :class:`Judge` (one is started
    and closed here when None).
    """
    present = sorted(os.listdir(submission_dir)) if os.path.isdir(submission_dir) else []
    deadline = time.monotonic() + limits.submission_timeout
    own_judge = judge is None
    judge = judge or Judge()
    results = []
    try:
        for spec in specs:
            path = os.path.join(submission_dir, spec.name + ".ipynb")
            if os.path.isfile(path):
                results.append(grade_notebook(spec, path, os.path.join(workdir, spec.name),
                                              limits, judge, deadline))
            else:
                found = ", ".join(n for n in present if n.endswith(".ipynb")) or "no notebook"
                results.append(failed_result(
                    spec, f"{spec.name}.ipynb is missing (found: {found})"))
    finally:
        if own_judge:
            judge.close()
    return results


@functools.cache
def _inputs(call_key):
    name, seed, options = call_key
    from course.grading.checks import CHECKS

    return CHECKS[name].make_inputs(seed, **dict(options))


def grade_notebook(spec, path, workdir, limits, judge, deadline=None):
    """Grade the submitted notebook at ``path`` against ``spec`` (a NotebookSpec)."""
    import numpy as np

    deadline = deadline or time.monotonic() + limits.submission_timeout
    try:
        submission = read_notebook(path)
    except SubmissionError as error:
        return failed_result(spec, str(error))
    result = NotebookResult(spec.name, answers=answers(spec.source, submission))
    cells = program(spec.source, submission)
    calls = [(cell, call) for cell in spec.tests for call in cell.calls]
    tests = list({_key(call): (cell, call) for cell, call in calls}.values())  # each once
    tests.sort(key=lambda test: test[1].hidden)  # visible first: no hidden input reaches
    # a message the student sees
    private = os.path.join(workdir, "grader")  # never visible in a sandbox
    os.makedirs(private, exist_ok=True)
    os.chmod(workdir, 0o711)
    requests, inputs_paths = [], []
    for index, (_, call) in enumerate(tests):
        inputs_paths.append(os.path.join(private, f"test{index}-in.npz"))
        np.savez(inputs_paths[-1], **_inputs(call.inputs_key))
        requests.append({"check": call.name, "functions": list(call.functions)})
    outcomes = [None] * len(tests)
    skipped = set()
    next_test = 0
    while next_test < len(tests):
        if time.monotonic() >= deadline:
            break
        with Kernel(workdir, limits.memory, limits.cpu_seconds, limits.fsize,
                    limits.sandbox) as kernel:
            if not _run_cells(kernel, cells, skipped, limits, result, deadline):
                continue  # a cell hung or crashed: it is skipped from now on; start again
            while next_test < len(tests):
                _, call = tests[next_test]
                timeout = min(_time_limit(call, limits), deadline - time.monotonic())
                if timeout <= 0:
                    break
                outcome, status, outputs = kernel.run_test(
                    requests[next_test], inputs_paths[next_test], timeout)
                outputs_path = None
                if outputs is not None:
                    outputs_path = os.path.join(private, f"test{next_test}-out.npz")
                    with open(outputs_path, "wb") as f:
                        f.write(outputs)
                outcomes[next_test] = (outcome, status, outputs_path)
                next_test += 1
                if outcome.status in ("timeout", "crashed"):
                    if outcome.status == "crashed":
                        result.status = "crashed"
                    break
    # every kernel of this notebook is gone: judge what they left, as data
    budget = f"the submission's time budget ({limits.submission_timeout:g} s) was used up"
    verdicts = {}
    for (_, call), outcome in zip(tests, outcomes, strict=True):
        verdicts[_key(call)] = (False, "timeout", budget) if outcome is None else \
            _judge(call, *outcome, judge)
    if any(outcome is None for outcome in outcomes):
        _note(result, budget)
    for cell, call in calls:
        result.checks.append(_check_result(cell, call, *verdicts[_key(call)]))
    for cell in spec.tests:
        mine = [c for c in result.checks if c.cell == cell.grade_id]
        passed = sum(c.passed for c in mine)
        result.scores[cell.grade_id] = cell.points * passed / len(mine) if mine else 0.0
    return result


def _time_limit(call, limits):
    """The per-test timeout, or a training check's own longer limit (its ``seconds``)."""
    from course.grading.checks import CHECKS

    return max(limits.test_timeout, getattr(CHECKS[call.name], "seconds", 0))


def _key(call):
    """Calls with equal keys give equal results (a test repeated in another cell runs once)."""
    return call.name, call.functions, call.inputs_key


def _run_cells(kernel, cells, skipped, limits, result, deadline):
    """Run the submission's cells; False when one hung or crashed the kernel (then skipped)."""
    for index, (label, code) in enumerate(cells):
        if index in skipped:
            continue
        timeout = min(limits.cell_timeout, deadline - time.monotonic())
        if timeout <= 0:
            return True  # the budget is spent: the tests will say so
        outcome = kernel.execute(code, timeout)
        if outcome.status == "error":
            _note(result, f"{label}: {outcome.message}")
        elif outcome.status in ("timeout", "crashed"):
            _note(result, f"{label}: {outcome.status} ({outcome.message}); skipped from now on")
            if outcome.status == "crashed":
                result.status = "crashed"
            skipped.add(index)
            return False
    return True


def _note(result, line):
    if line not in result.log:
        result.log.append(line)


def _judge(call, outcome, status, outputs_path, judge):
    if outcome.status == "timeout":
        return False, "timeout", outcome.message
    if outcome.status == "crashed":
        return False, "crashed", "the kernel died while this test ran"
    if status is None:
        return False, "error", outcome.message or "the test wrote no result"
    if status.get("status") != "ok":
        reason = status.get("reason") if status.get("reason") in ("memory", "error") else "error"
        return False, reason, str(status.get("message", ""))[:500]
    if outputs_path is None:
        return False, "error", "the test wrote no readable outputs (missing, too large, or "\
            "not a file)"
    return judge(call, outputs_path)


def _check_result(cell, call, passed, reason, message):
    return CheckResult(cell.grade_id, call.name, call.hidden, passed, reason, message)


def failed_result(spec, reason):
    """The result of a notebook that could not be graded: every test fails with ``reason``."""
    result = NotebookResult(spec.name, status="failed", reason=reason)
    for cell in spec.tests:
        result.scores[cell.grade_id] = 0.0
        for call in cell.calls:
            result.checks.append(_check_result(cell, call, False, "error", reason))
    return result
