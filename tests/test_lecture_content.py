"""What the lectures may and must contain (issue 13): they teach, the assignments build.

1. **No lecture hands out a graded answer.** The graded functions are read at test time from the
   solution notebooks (``solutions/*/*.ipynb``): every top-level ``def`` in a code cell that
   holds ``### BEGIN SOLUTION``. So the list follows the assignments as they change (RMSProp and
   Adam updates included, once an assignment grades them). No lecture code cell may define a
   function (at any depth) or bind a lambda with a graded name, nor define a function whose body
   equals a solution's up to renaming: both are parsed, docstrings dropped, and every
   identifier (function name, arguments, variables) renamed in order of first appearance before
   the two ASTs are compared. Attribute names (``np.maximum``, ``.sum``) are kept.

2. **"Your turn" exercises**, 2 to 4 per lecture, ungraded. The convention (for lecture authors):

   * a markdown cell whose first line starts with ``### Your turn`` states the exercise;
   * then one or more code cells tagged ``starter`` (cell metadata ``"tags": ["starter"]``):
     what the student edits. As committed it holds a placeholder (``None`` or a guess) so that
     the notebook still runs top to bottom;
   * then a code cell tagged ``self-check``: it checks what the student wrote (a gradient check,
     an assertion with a helpful message) and prints ``Not tried yet`` plus a hint while the
     placeholder is still there; it must contain something that can fail: an ``assert``, a
     ``raise``, or a call of a ``check_...`` function (``check_op`` and ``check_loss`` raise
     ``GradientCheckError``);
   * then a markdown cell with a collapsed ``<details>`` block: the worked answer, revealed
     after trying.

   All of it before the next ``### Your turn`` heading or the next section (``## ``).

3. **The last cell names the assignment part the lecture prepares** (``a1_backprop`` ...; lecture
   9 prepares the coming a6, "make it fast").

Parts 2 and 3 apply to the lectures listed in ``PREPARES``; a new lecture joins them by adding
its line there. Part 1 applies to every ``lectures/*.ipynb``.
"""

import ast
import functools
import re
from pathlib import Path

import nbformat
import pytest

from course.grading.similarity import normalise

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))

PREPARES = {  # lecture -> words its last cell must contain
    "01_neurons": ["a1_backprop"],
    "02_backprop": ["a1_backprop"],
    "03_convolution": ["a2_convnets"],
    "04_pooling": ["a2_convnets"],
    "05_dropout": ["a3_regularization"],
    "06_batchnorm": ["a3_regularization"],
    "07_lstm": ["a4_captioning"],
    "08_captioning": ["a4_captioning"],
    "09_gpu": ["a6_fast_kernels"],
    "02b_autograd": ["a1_backprop"],
    "06b_architectures": ["a2_convnets", "coming"],
    "06c_dense_prediction": ["a2_convnets", "coming"],
    "06d_understanding": ["a5_understanding"],
    "06e_transfer": ["a5_understanding"],
}
YOUR_TURN = re.compile(r"^###\s+Your turn", re.IGNORECASE)
MAGIC = re.compile(r"^\s*[%!]", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# Reading code out of notebooks


def _parse(source):
    """The AST of a code cell, IPython magics (``%time``, ``!ls``) blanked out; None if the
    cell is not Python."""
    try:
        return ast.parse(MAGIC.sub(lambda match: match.group(0)[:-1] + "#", source))
    except SyntaxError:
        return None


def code_cells(path):
    """(index, AST) of every code cell of a notebook that parses."""
    notebook = nbformat.read(path, as_version=4)
    cells = ((index, _parse(cell.source)) for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code")
    return [(index, tree) for index, tree in cells if tree is not None]


@functools.cache
def graded_functions(paths=tuple(SOLUTIONS)):
    """{name: FunctionDef} of the top-level functions in the solution cells of ``paths``.
    (Cached: callers must not change the nodes; ``normalise`` works on a copy.)"""
    graded = {}
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source:
                tree = _parse(cell.source)
                assert tree is not None, f"{path.name}: a solution cell does not parse"
                for node in tree.body:
                    if isinstance(node, ast.FunctionDef):
                        graded[node.name] = node
    return graded


def fingerprint(function):
    """Tokens that two functions share exactly when they are equal up to renaming: the grading
    similarity report's normalisation, with ``def NAME`` dropped."""
    return tuple(normalise(function)[2:])


def answers_handed_out(path, graded):
    """Messages naming each function in the lecture at ``path`` that is a graded one."""
    prints = {fingerprint(node): name for name, node in graded.items()}
    found = []
    for index, tree in code_cells(path):
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                if node.name in graded:
                    found.append(f"cell {index} defines {node.name}, which an assignment grades")
                elif fingerprint(node) in prints:
                    found.append(f"cell {index}: {node.name} is the solution's "
                                 f"{prints[fingerprint(node)]} with other names")
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in graded:
                        found.append(f"cell {index} binds {target.id}, which an assignment grades")
    return found


# ---------------------------------------------------------------------------------------------
# Exercises


def exercises(path):
    """[(heading, [cells up to the next exercise or section])] of a notebook's exercises."""
    cells = nbformat.read(path, as_version=4).cells
    found = []
    for index, cell in enumerate(cells):
        if cell.cell_type == "markdown" and YOUR_TURN.match(cell.source):
            body = []
            for after in cells[index + 1:]:
                if after.cell_type == "markdown" and (
                        YOUR_TURN.match(after.source) or after.source.startswith("## ")):
                    break
                body.append(after)
            found.append((cell.source.splitlines()[0], body))
    return found


def _tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def _can_fail(node):
    """An assert, a raise, or a call of a check_... function (which raises when it fails)."""
    if isinstance(node, (ast.Assert, ast.Raise)):
        return True
    if isinstance(node, ast.Call):
        function = node.func
        name = function.id if isinstance(function, ast.Name) else getattr(function, "attr", "")
        return name.startswith("check_")
    return False


def exercise_problems(heading, body):
    """What is missing from one exercise (an empty list when it follows the convention)."""
    kinds = []
    for cell in body:
        if cell.cell_type == "code" and "starter" in _tags(cell):
            kinds.append("starter")
        elif cell.cell_type == "code" and "self-check" in _tags(cell):
            kinds.append("self-check")
        elif cell.cell_type == "markdown" and "<details>" in cell.source:
            kinds.append("answer")
    problems = []
    for kind in ("starter", "self-check", "answer"):
        if kind not in kinds:
            problems.append(f"{heading!r} has no {kind} cell")
    if not problems:
        order = [kinds.index("starter"), kinds.index("self-check"), kinds.index("answer")]
        if order != sorted(order):
            problems.append(f"{heading!r}: expected starter, then self-check, then answer")
        for cell in body:
            if "self-check" in _tags(cell):
                tree = _parse(cell.source)
                if tree is None or not any(_can_fail(node) for node in ast.walk(tree)):
                    problems.append(f"{heading!r}: its self-check has no assert that can fail")
                if "Not tried yet" not in cell.source:
                    problems.append(f"{heading!r}: its self-check never says 'Not tried yet'")
    return problems


# ---------------------------------------------------------------------------------------------
# The tests


def test_graded_functions_are_read_from_the_solutions():
    graded = graded_functions()
    for name in ["linear_backward", "softmax_loss", "sgd_momentum", "conv2d_forward",
                 "max_pool2d_backward", "dropout_forward", "batchnorm_backward",
                 "spatial_batchnorm_forward", "lstm_step_backward", "temporal_softmax_loss"]:
        assert name in graded, f"{name} not found among the solutions' graded functions"


@pytest.mark.parametrize("path", LECTURES, ids=[path.stem for path in LECTURES])
def test_lecture_hands_out_no_graded_function(path):
    found = answers_handed_out(path, graded_functions())
    assert not found, f"{path.name} writes what an assignment grades:\n" + "\n".join(found)


def _fake_lecture(tmp_path, source):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    path = tmp_path / "fake.ipynb"
    nbformat.write(notebook, path)
    return path


def test_a_lecture_defining_a_graded_name_is_caught(tmp_path):
    graded = graded_functions()
    path = _fake_lecture(tmp_path, "def relu_forward(x):\n    return x, None\n")
    assert answers_handed_out(path, graded) == [
        "cell 0 defines relu_forward, which an assignment grades"]
    path = _fake_lecture(tmp_path, "def outer():\n    def softmax_loss(s, y):\n        pass\n")
    assert len(answers_handed_out(path, graded)) == 1
    path = _fake_lecture(tmp_path, "sgd_momentum = lambda w, dw, config: (w, config)\n")
    assert len(answers_handed_out(path, graded)) == 1


def test_a_renamed_copy_of_a_solution_is_caught(tmp_path):
    graded = graded_functions()
    for name in ["relu_forward", "linear_backward", "batchnorm_backward"]:
        renamed = ast.unparse(graded[name])
        for old, new in [(name, "my_" + name), ("dout", "upstream"), ("cache", "saved"),
                         ("x", "inputs")]:
            renamed = re.sub(rf"\b{old}\b", new, renamed)
        renamed = renamed.replace('"""', '"""Lecture version. ', 1)
        assert "my_" + name in renamed
        found = answers_handed_out(_fake_lecture(tmp_path, renamed), graded)
        assert found == [f"cell 0: my_{name} is the solution's {name} with other names"], renamed


def test_a_different_function_is_not_flagged(tmp_path):
    source = ("def my_relu(x):\n    return np.maximum(x, 0), x\n\n"
              "def leaky(x, alpha=0.01):\n    return np.where(x > 0, x, alpha * x)\n")
    assert answers_handed_out(_fake_lecture(tmp_path, source), graded_functions()) == []


NINE = [path for path in LECTURES if path.stem in PREPARES]


@pytest.mark.parametrize("path", NINE, ids=[path.stem for path in NINE])
def test_lecture_has_two_to_four_exercises_with_self_checks(path):
    found = exercises(path)
    assert 2 <= len(found) <= 4, f"{path.name} has {len(found)} 'Your turn' exercises, not 2-4"
    problems = [problem for heading, body in found for problem in exercise_problems(heading, body)]
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


def test_an_exercise_without_a_self_check_is_caught():
    cell, markdown = nbformat.v4.new_code_cell, nbformat.v4.new_markdown_cell
    starter = cell("guess = None", metadata={"tags": ["starter"]})
    check = cell("if guess is None:\n    print('Not tried yet')\nelse:\n    assert guess == 2",
                 metadata={"tags": ["self-check"]})
    answer = markdown("<details><summary>Answer</summary>2</details>")
    assert exercise_problems("x", [starter, check, answer]) == []
    assert exercise_problems("x", [starter, answer]) == ["'x' has no self-check cell"]
    assert exercise_problems("x", [check, starter, answer]) == [
        "'x': expected starter, then self-check, then answer"]
    gradcheck = cell("if guess is None:\n    print('Not tried yet')\nelse:\n"
                     "    check_op(f, g, [x])", metadata={"tags": ["self-check"]})
    assert exercise_problems("x", [starter, gradcheck, answer]) == []
    silent = cell("print(guess)", metadata={"tags": ["self-check"]})
    assert exercise_problems("x", [starter, silent, answer]) == [
        "'x': its self-check has no assert that can fail",
        "'x': its self-check never says 'Not tried yet'"]


@pytest.mark.parametrize("path", NINE, ids=[path.stem for path in NINE])
def test_lecture_ends_by_naming_the_assignment_it_prepares(path):
    last = nbformat.read(path, as_version=4).cells[-1]
    assert last.cell_type == "markdown", f"{path.name}: the last cell is not text"
    missing = [word for word in PREPARES[path.stem] if word not in last.source]
    assert not missing, f"{path.name}: the last cell does not name {missing}"
