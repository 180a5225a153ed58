"""Grading one submission: its notebooks, one kernel at a time, test by test (``course grade``).

For each notebook the grader (this process, which never runs student code) parses the test
cells of the SOURCE notebook, makes every check's inputs, and starts a grading kernel
(:class:`course.grading.worker.Kernel`). The kernel runs the submission's code cells (see
:func:`course.grading.notebook.program`), then one driver call per check; each check has its own
timeout, runs under the kernel's memory limit, and its outputs are judged here as data.

A test that times out or kills the kernel fails with that reason; a fresh kernel re-runs the
submission's cells (skipping any cell that itself hung or crashed) and goes on with the next
test, so the tests that already ran keep their scores.
"""

import functools
import glob
import os
from dataclasses import dataclass, field

import nbformat

from course.grading import judge as judging
from course.grading.notebook import (
    SubmissionError,
    answers,
    program,
    read_notebook,
    test_cells,
)
from course.grading.worker import Kernel, default_user


@dataclass
class Limits:
    """Per-cell and per-test limits of a grading run."""

    test_timeout: float = 30.0
    cell_timeout: float = 60.0
    memory: int = 2 * 2**30  # address space of the kernel, bytes
    cpu_seconds: int = 600  # CPU time of one kernel: a backstop for escaped processes
    fsize: int = 64 * 2**20  # largest file the kernel may write
    user: str = field(default_factory=default_user)  # kernels run as 'nobody' under root


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


def grade_submission(specs, submission_dir, workdir, limits):
    """Grade every notebook of one student's submission folder; a list of NotebookResult."""
    present = sorted(os.listdir(submission_dir)) if os.path.isdir(submission_dir) else []
    results = []
    for spec in specs:
        path = os.path.join(submission_dir, spec.name + ".ipynb")
        if os.path.isfile(path):
            results.append(grade_notebook(spec, path, os.path.join(workdir, spec.name), limits))
        else:
            found = ", ".join(n for n in present if n.endswith(".ipynb")) or "no notebook"
            results.append(failed_result(spec, f"{spec.name}.ipynb is missing (found: {found})"))
    return results


@functools.cache
def _inputs(call_key):
    name, seed, options = call_key
    from course.grading.checks import CHECKS

    return CHECKS[name].make_inputs(seed, **dict(options))


def grade_notebook(spec, path, workdir, limits):
    """Grade the submitted notebook at ``path`` against ``spec`` (a NotebookSpec)."""
    try:
        submission = read_notebook(path)
    except SubmissionError as error:
        return failed_result(spec, str(error))
    result = NotebookResult(spec.name, answers=answers(spec.source, submission))
    cells = program(spec.source, submission)
    calls = [(cell, call) for cell in spec.tests for call in cell.calls]
    tests = list({_key(call): (cell, call) for cell, call in calls}.values())  # each once
    os.makedirs(workdir, exist_ok=True)
    requests = []
    for index, (_, call) in enumerate(tests):
        stem = os.path.join(workdir, f"test{index}")
        judging.save_inputs(stem + "-in.npz", _inputs(call.inputs_key))
        requests.append({"check": call.name, "functions": list(call.functions),
                         "inputs": stem + "-in.npz", "outputs": stem + "-out.npz",
                         "status": stem + "-status.json"})
    outcomes = [None] * len(tests)
    skipped = set()
    next_test = 0
    while next_test < len(tests):
        with Kernel(workdir, limits.memory, limits.cpu_seconds, limits.fsize,
                    limits.user) as kernel:
            if not _run_cells(kernel, cells, skipped, limits, result):
                continue  # a cell hung or crashed: it is skipped from now on; start again
            while next_test < len(tests):
                cell, call = tests[next_test]
                outcome, status = kernel.run_test(requests[next_test],
                                                  _time_limit(call, limits))
                outcomes[next_test] = _judge(call, outcome, status, requests[next_test])
                next_test += 1
                if outcome.status in ("timeout", "crashed"):
                    if outcome.status == "crashed":
                        result.status = "crashed"
                    break
    verdicts = {_key(call): outcome for (_, call), outcome in zip(tests, outcomes, strict=True)}
    for cell, call in calls:
        verdict = verdicts[_key(call)]
        result.checks.append(_check_result(cell, call, *verdict))
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


def _run_cells(kernel, cells, skipped, limits, result):
    """Run the submission's cells; False when one hung or crashed the kernel (then skipped)."""
    for index, (label, code) in enumerate(cells):
        if index in skipped:
            continue
        outcome = kernel.execute(code, limits.cell_timeout)
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


def _judge(call, outcome, status, request):
    if outcome.status == "timeout":
        return False, "timeout", outcome.message
    if outcome.status == "crashed":
        return False, "crashed", "the kernel died while this test ran"
    if status is None:
        return False, "error", outcome.message or "the test wrote no result"
    if status.get("status") != "ok":
        reason = status.get("reason") if status.get("reason") in ("memory", "error") else "error"
        return False, reason, str(status.get("message", ""))[:500]
    inputs = {key: value.copy() for key, value in _inputs(call.inputs_key).items()}
    return judging.judge(call, inputs, request["outputs"])


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
