"""The nbgrader assignments: releases up to date, solutions pass every check, bugs lose points.

Three layers, fastest first:

* the checks run in-process on the solution cells' code (extracted from ``solutions/``) over 20
  seeds (the training checks on the notebook's seeds only), and on every mutant in
  ``autograder/mutants/<assignment>/`` (a classic bug swapped in for one solution cell), which
  must fail at least one check; a bug in one function costs that function's points only (and
  the training test's, where the function trains the model);
* ``nbgrader generate_assignment`` in a temporary course reproduces the committed
  ``assignments/`` (the release is generated, never hand-edited);
* stock ``nbgrader autograde`` with a real gradebook grades, in one call per assignment, the
  solution (full autograded marks, the written answers pending a grader), the blank release
  (zero) and one mutant (fewer points): the one of :data:`ISOLATED` where the assignment has
  one. Each notebook runs the assignment's training test, so grading every mutant this way
  would cost minutes each; the in-process layer above already fails every mutant.
"""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course.grading import CHECKS
from course.grading.checks import quiet
from course.grading.training import TrainingCheck

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
SEEDS = 20


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def source_notebook(assignment):
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def grade_cells(notebook):
    return [c for c in notebook.cells if nbgrader_meta(c).get("grade") and c.cell_type == "code"]


def manual_cells(notebook):
    """Written answers graded by hand: markdown cells that are graded solution cells."""
    return [c for c in notebook.cells if c.cell_type == "markdown"
            and nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("solution")]


def is_training(name):
    """True for an end-to-end training check (seconds to run, judged on held-out data)."""
    return isinstance(CHECKS[name], TrainingCheck)


def auto_points(notebook):
    return sum(nbgrader_meta(c).get("points", 0) for c in grade_cells(notebook))


def parse_checks(source):
    """The ``check("name", fn, ..., key=literal)`` calls of a test cell, without running it."""
    calls = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module == "course.grading":
            continue
        assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Call), \
            f"a test cell may hold only check(...) calls, got: {ast.unparse(node)}"
        call = node.value
        assert isinstance(call.func, ast.Name) and call.func.id == "check"
        name = ast.literal_eval(call.args[0])
        functions = [arg.id for arg in call.args[1:]]
        options = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        calls.append((name, functions, options))
    return calls


def all_checks(notebook):
    return [call for cell in grade_cells(notebook) for call in parse_checks(cell.source)]


def strip_solution_markers(source):
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def load_mutants(assignment):
    """(name, grade_id of the cell it replaces, code) for each mutant of the assignment."""
    mutants = []
    for path in sorted((ROOT / "autograder" / "mutants" / assignment).glob("*.py")):
        code = path.read_text()
        cell = next(line.split(":", 1)[1].strip() for line in code.splitlines()
                    if line.startswith("# cell:"))
        mutants.append((path.stem, cell, code))
    return mutants


def student_namespace(notebook, replace=None):
    """Run the setup and solution cells (one of them replaced by ``replace = (grade_id, code)``)
    in a fresh namespace, as a student's kernel would, and return it."""
    namespace = {"__name__": "__student__"}
    for cell in notebook.cells:
        meta = nbgrader_meta(cell)
        runs = meta.get("solution") or meta.get("grade_id") == "setup"
        if cell.cell_type != "code" or not runs:
            continue
        source = cell.source
        if replace and meta.get("grade_id") == replace[0]:
            source = replace[1]
        exec(compile(source, f"<cell {meta.get('grade_id')}>", "exec"), namespace)
    return namespace


def run_check(name, functions, seed, options):
    """The three steps of a check, as the grading pipeline runs them; a crash is a failure."""
    spec = CHECKS[name]
    with quiet():
        inputs = spec.make_inputs(seed, **options)
        try:
            outputs = spec.call(functions, inputs)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}", np.inf
        result = spec.judge(inputs, outputs, **options)
    return result.message, (result.margin if result.passed else np.inf)


# ---------------------------------------------------------------------------------------------
# The notebooks' structure


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_structure(assignment):
    notebook = source_notebook(assignment)
    manual = manual_cells(notebook)
    assert len(manual) >= 2, "every assignment has at least two written questions"
    for cell in manual:  # the model answer and the rubric stay in solutions/
        assert nbgrader_meta(cell)["points"] > 0
        assert "### BEGIN SOLUTION" in cell.source and "**Rubric" in cell.source
    points = auto_points(notebook) + sum(nbgrader_meta(c)["points"] for c in manual)
    assert points == 100
    training = [cell for cell in grade_cells(notebook) if nbgrader_meta(cell)["points"] > 0
                and any(is_training(name) for name, _, _ in parse_checks(cell.source))]
    assert training, "every assignment ends with a graded end-to-end training test"
    assert notebook.cells[0].cell_type == "markdown"
    solutions = [c for c in notebook.cells if nbgrader_meta(c).get("solution")]
    assert solutions and all("### BEGIN SOLUTION" in c.source for c in solutions)
    for cell in grade_cells(notebook):
        assert nbgrader_meta(cell)["locked"]
        calls = parse_checks(cell.source)
        assert calls, f"test cell {nbgrader_meta(cell)['grade_id']} checks nothing"
        for name, functions, _ in calls:
            assert name in CHECKS, f"unknown check {name!r}"
            assert len(functions) == len(CHECKS[name].functions)
        trains = any(is_training(name) for name, _, _ in calls)
        if nbgrader_meta(cell)["points"] > 0 and not trains:  # hidden tests: other arguments
            visible, _, hidden = cell.source.partition("### BEGIN HIDDEN TESTS")
            assert "### END HIDDEN TESTS" in hidden
            shown = {(n, repr(sorted(o.items()))) for n, _, o in parse_checks(visible)}
            assert all((n, repr(sorted(o.items()))) not in shown
                       for n, _, o in parse_checks(hidden.replace("### END HIDDEN TESTS", "")))
    # the final test cell runs every visible check at once (training is already held-out
    # data and takes seconds: it runs once, in its own cell)
    last = grade_cells(notebook)[-1]
    visible = {line for cell in grade_cells(notebook)[:-1]
               for line in cell.source.partition("### BEGIN HIDDEN TESTS")[0].splitlines()
               if not any(is_training(name) for name, _, _ in parse_checks(line))}
    assert visible == set(last.source.splitlines())


# ---------------------------------------------------------------------------------------------
# In-process: the solution passes everything, every mutant fails something


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_passes_every_check_over_many_seeds(assignment):
    """Every check, over at least 20 seeds spread across the option sets the notebook uses,
    with errors below 1% of the tolerance."""
    notebook = source_notebook(assignment)
    namespace = student_namespace(notebook)
    uses = {}
    for name, functions, options in all_checks(notebook):
        options = dict(options)
        first = options.pop("seed", 0)
        uses.setdefault(name, {})[repr(sorted(options.items()))] = (functions, first, options)
    for name, variants in uses.items():
        per_variant = 1 if getattr(CHECKS[name], "slow", False) else -(-SEEDS // len(variants))
        for functions, first, options in variants.values():
            for seed in range(first, first + per_variant):
                message, margin = run_check(name, [namespace[f] for f in functions], seed,
                                            options)
                assert margin < 1e-2, f"{name} seed={seed} {options}: {message}"


def mutant_cases():
    return [pytest.param(a, m, id=f"{a}-{m[0]}") for a in ASSIGNMENTS for m in load_mutants(a)]


@pytest.mark.parametrize(("assignment", "mutant"), mutant_cases())
def test_mutant_fails_a_check(assignment, mutant):
    name, cell, code = mutant
    notebook = source_notebook(assignment)
    assert cell in {nbgrader_meta(c).get("grade_id") for c in notebook.cells}
    namespace = student_namespace(notebook, replace=(cell, code))
    calls = {repr((n, f, sorted(o.items()))): (n, f, o) for n, f, o in all_checks(notebook)}
    for check_name, functions, options in calls.values():  # stop at the first failure
        options = dict(options)
        seed = options.pop("seed", 0)
        _, margin = run_check(check_name, [namespace[f] for f in functions], seed, options)
        if not margin < 1:
            return
    pytest.fail(f"mutant {name} passes every check")


ISOLATED = {  # a bug in one function: the test cells that may lose points, and no others
    "a1_backprop": ("linear_backward_missing_transpose", "test_linear_backward",
                    "test_train_two_layer"),
    "a2_convnets": ("conv2d_backward_wrong_dw", "test_conv2d_backward", "test_train_convnet"),
    "a4_captioning": ("lstm_step_backward_forgets_dnext_c", "test_lstm_step_backward",
                      "test_train_captioner"),
    "a5_understanding": ("saliency_signed_gradient", "test_saliency", "test_fine_tune"),
}


@pytest.mark.parametrize("assignment", sorted(ISOLATED))
def test_a_bug_in_one_function_costs_only_its_points(assignment):
    """Composite checks (the network's loss) replay the reference layers, so the mutant fails
    its own test cell and the training test (which trains on the student's functions), and
    every other cell keeps its points."""
    mutant, own, training = ISOLATED[assignment]
    notebook = source_notebook(assignment)
    _, cell, code = next(m for m in load_mutants(assignment) if m[0] == mutant)
    namespace = student_namespace(notebook, replace=(cell, code))
    failed = set()
    for test_cell in grade_cells(notebook):
        if not nbgrader_meta(test_cell)["points"]:
            continue
        for name, functions, options in parse_checks(test_cell.source):
            options = dict(options)
            seed = options.pop("seed", 0)
            _, margin = run_check(name, [namespace[f] for f in functions], seed, options)
            if not margin < 1:
                failed.add(nbgrader_meta(test_cell)["grade_id"])
                break
    assert own in failed, f"mutant {mutant} passes {own}"
    assert failed <= {own, training}, f"mutant {mutant} also costs {sorted(failed - {own})}"


# ---------------------------------------------------------------------------------------------
# Real nbgrader: generate_assignment and autograde in a temporary course


def nbgrader(course, *args):
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def submission(release, notebook, replace=None):
    """The release notebook with the solution cells filled in (one replaced by a mutant)."""
    solutions = {nbgrader_meta(c)["grade_id"]: strip_solution_markers(c.source)
                 for c in notebook.cells if nbgrader_meta(c).get("solution")}
    if replace:
        solutions[replace[0]] = replace[1]
    submitted = nbformat.from_dict(release)
    for cell in submitted.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution"):
            cell.source = solutions[grade_id]
    return submitted


def cells_of(notebook):
    return [(c.cell_type, c.source, nbgrader_meta(c)) for c in notebook.cells]


def generate_releases(course):
    """Make ``course`` a course: the repository's config and solutions, every release generated."""
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    for assignment in ASSIGNMENTS:
        nbgrader(course, "generate_assignment", assignment, "--force")


@pytest.fixture(scope="module")
def course(made_once):
    """A temporary course of this worker's own (``generate_releases``, made once per test run by
    ``made_once`` in conftest.py)."""
    course, _ = made_once("course", generate_releases)
    with open(course / "nbgrader_config.py", "a") as config:
        # kernels talk over unix sockets in this course's folder (an absolute path: a kernel
        # runs in its notebook's folder), not over TCP ports: two test workers once took the
        # same free port, and the kernel never answered
        config.write(f'\nc.KernelManager.transport = "ipc"\n'
                     f'c.KernelManager.ip = "{course / "kernel"}"\n')
    return course


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_generated_from_solutions(course, assignment):
    committed = ROOT / "assignments" / assignment / f"{assignment}.ipynb"
    generated = course / "assignments" / assignment / f"{assignment}.ipynb"
    assert committed.exists(), f"run `nbgrader generate_assignment {assignment}`"
    assert cells_of(nbformat.read(committed, 4)) == cells_of(nbformat.read(generated, 4)), (
        f"assignments/{assignment} is stale: run `nbgrader generate_assignment {assignment} "
        f"--force` at the repository root and commit the result")


@pytest.mark.notebooks
@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_autograde_scores(course, assignment):
    from nbgrader.api import Gradebook

    notebook = source_notebook(assignment)
    release = nbformat.read(course / "assignments" / assignment / f"{assignment}.ipynb", 4)
    students = {"solution": submission(release, notebook), "blank": release}
    mutants = load_mutants(assignment)
    name, cell, code = next((m for m in mutants if m[0] == ISOLATED.get(assignment, ("",))[0]),
                            mutants[0])
    students[f"mutant_{name}"] = submission(release, notebook, replace=(cell, code))
    for student, nb in students.items():
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
    nbgrader(course, "autograde", assignment, "--force")

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        scores = {student: gradebook.find_submission(assignment, student).score
                  for student in students}
        max_score = gradebook.find_assignment(assignment).max_score
        pending = [grade.needs_manual_grade for grade in
                   gradebook.find_submission(assignment, "solution").notebooks[0].grades
                   if grade.cell.name in {nbgrader_meta(c)["grade_id"]
                                          for c in manual_cells(notebook)}]
    full = auto_points(notebook)
    assert max_score == 100
    assert scores.pop("solution") == full  # every autograded point; the written answers:
    assert pending and all(pending)        # pending, waiting for a grader
    assert scores.pop("blank") == 0
    assert all(score < full for score in scores.values()), scores


def test_self_check_refuses_the_library_op_handed_in_directly():
    # `from course.ops import relu_forward` as the "answer" must fail the self-check, as it
    # scores zero in grading (where course.ops cannot be imported).
    from course import ops
    from course.grading import check

    with pytest.raises(AssertionError, match="library's own solution"):
        check("a1.relu_forward", ops.relu_forward)
    assert ops.relu_forward.__name__ == "relu_forward"  # restored afterwards

    def my_relu(x):
        return ops.relu_forward(x)  # calling through it is refused the same way

    with pytest.raises(AssertionError, match="library's own solution"):
        check("a1.relu_forward", my_relu)
