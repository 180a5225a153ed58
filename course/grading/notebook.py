"""Reading submissions robustly and deciding what of them is graded (used by ``course grade``).

Nothing here executes a notebook. A submission is a file written by a student, so reading it
never trusts it: size, encoding, JSON and structure are checked and a problem becomes a
:class:`SubmissionError` with a reason (the submission then scores zero with that reason).

What runs when a submission is graded is decided by the SOURCE notebook (``solutions/``):

- answer cells (nbgrader ``solution`` cells) come from the submission, matched by ``grade_id``;
- locked cells come from the source, whatever the submission did to them (edit, delete,
  duplicate, retype);
- test cells are never executed in the student's kernel: their ``check(...)`` calls are parsed
  from the source with :mod:`ast` and run by the grading driver;
- other code cells the student added or changed run as they are, unless they only repeat
  ``check`` calls; the source's own unmarked cells left unchanged (demos such as "train your
  network") do not run: nothing graded depends on them.
"""

import ast
import json
from dataclasses import dataclass, field

import nbformat

MAX_NOTEBOOK_BYTES = 16 * 2**20
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
CHECK_IMPORT = "course.grading"


class SubmissionError(Exception):
    """A submitted notebook that cannot be graded; ``str(error)`` is the reason shown to people."""


@dataclass(frozen=True)
class CheckCall:
    """One ``check("name", f, g, seed=3, n=2)`` line of a test cell."""

    name: str
    functions: tuple
    seed: int = 0
    options: tuple = ()  # sorted (key, value) pairs, hashable
    hidden: bool = False

    @property
    def inputs_key(self):
        """Calls with equal keys use the same inputs (``make_inputs`` is deterministic)."""
        return (self.name, self.seed, self.options)


@dataclass
class TestCell:
    """A graded test cell of the source notebook: its points are split evenly over its checks."""

    grade_id: str
    points: float
    calls: list = field(default_factory=list)


def read_notebook(path):
    """Read a submitted notebook without trusting it; raise SubmissionError with the reason."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_NOTEBOOK_BYTES + 1)
    except OSError as error:
        raise SubmissionError(f"cannot read the file: {error.strerror}") from None
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SubmissionError(f"the file is not UTF-8 text (byte {error.start})") from None
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise SubmissionError(f"the file is not a notebook (invalid JSON: {error})") from None
    return _normalize(raw)


def _normalize(raw):
    """A v4 notebook node with only the parts grading reads, each checked for its type."""
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        raise SubmissionError("the file is not a notebook (no list of cells)")
    if raw.get("nbformat") != 4:
        raise SubmissionError(f"unsupported notebook format {raw.get('nbformat')!r} (expected 4)")
    cells = []
    for index, cell in enumerate(raw["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise SubmissionError(f"cell {index} is not a notebook cell")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise SubmissionError(f"cell {index} has no text source")
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                 "raw": nbformat.v4.new_raw_cell}[cell["cell_type"]]
        cells.append(maker(source=source, metadata={"nbgrader": nbgrader} if nbgrader else {}))
    return nbformat.v4.new_notebook(cells=cells)


def grade_id(cell):
    """The cell's nbgrader ``grade_id``, or None."""
    value = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    return value if isinstance(value, str) and value else None


def cell_kind(cell):
    """'answer', 'test', 'locked' or 'other' for a SOURCE notebook cell (nbgrader's rules)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    if meta.get("solution"):
        return "answer"
    if meta.get("grade") and cell.cell_type == "code":
        return "test"
    if meta.get("grade") or meta.get("locked") or meta.get("task"):
        return "locked"
    return "other"


def test_cells(source_nb):
    """The graded test cells of a source notebook with their parsed ``check`` calls."""
    cells = []
    for cell in source_nb.cells:
        if cell_kind(cell) == "test":
            points = float(cell.metadata["nbgrader"].get("points", 0))
            cells.append(TestCell(grade_id(cell), points, parse_test_cell(cell.source)))
    return cells


def parse_test_cell(source):
    """The ``check(...)`` calls of a test cell, read with ast (never executed).

    Each line must be ``check("name", f, g, key=literal, ...)`` or the import of ``check``;
    calls between the HIDDEN TESTS markers are marked hidden. Raises ValueError otherwise:
    that is a mistake in the source notebook, not in a submission.
    """
    hidden_lines = _hidden_lines(source)
    calls = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module == CHECK_IMPORT:
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "check" and call.args
                and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)
                and all(isinstance(arg, ast.Name) for arg in call.args[1:])):
            raise ValueError(f"test cell line {node.lineno} is not check(\"name\", functions...)")
        options = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        seed = options.pop("seed", 0)
        calls.append(CheckCall(
            name=call.args[0].value,
            functions=tuple(arg.id for arg in call.args[1:]),
            seed=seed,
            options=tuple(sorted(options.items())),
            hidden=node.lineno in hidden_lines,
        ))
    return calls


def _hidden_lines(source):
    lines, hidden = set(), False
    for number, line in enumerate(source.splitlines(), start=1):
        if line.strip() == HIDDEN_BEGIN:
            hidden = True
        elif line.strip() == HIDDEN_END:
            hidden = False
        elif hidden:
            lines.add(number)
    return lines


def strip_hidden_tests(source):
    """The source of a test cell without its hidden part (what students may see)."""
    kept, hidden = [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_BEGIN:
            hidden = True
        elif line.strip() == HIDDEN_END:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept).rstrip()


def looks_like_test(source):
    """True when a code cell only imports or calls ``check``: a copied or retyped test cell."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    for node in body:
        if isinstance(node, ast.ImportFrom) and node.module == CHECK_IMPORT:
            continue
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Name) and node.value.func.id == "check"):
            continue
        return False
    return bool(body)


def answers(source_nb, submission_nb):
    """``{grade_id: source}`` of the submission's answer cells (the last copy of a duplicate)."""
    answer_ids = {grade_id(c) for c in source_nb.cells if cell_kind(c) == "answer"}
    found = {}
    for cell in submission_nb.cells:
        if grade_id(cell) in answer_ids:
            found[grade_id(cell)] = cell.source
    return found


def program(source_nb, submission_nb):
    """The code cells the grading kernel runs, in order: a list of (label, code).

    Walks the submission in its own order (the order the student ran it), replacing every
    locked cell by the pristine source one and dropping test cells and unchanged demo cells;
    locked code cells the submission lost are put back before the next cell that follows them
    in the source.
    """
    kinds = {grade_id(c): (i, c) for i, c in enumerate(source_nb.cells) if grade_id(c)}
    demos = {c.source.strip() for c in source_nb.cells
             if c.cell_type == "code" and cell_kind(c) == "other"}
    items, seen = [], set()  # items: (source index or None, label, code)
    for position, cell in enumerate(submission_nb.cells):
        gid = grade_id(cell)
        if gid in kinds:
            index, source_cell = kinds[gid]
            kind = cell_kind(source_cell)
            if kind == "answer" and cell.cell_type == "code":
                items.append((index, gid, cell.source))
            elif kind == "locked" and source_cell.cell_type == "code" and gid not in seen:
                items.append((index, gid, source_cell.source))
            seen.add(gid)
        elif (cell.cell_type == "code" and cell.source.strip() not in demos
              and not looks_like_test(cell.source)):
            items.append((None, f"cell {position + 1}", cell.source))
    for index, source_cell in enumerate(source_nb.cells):
        gid = grade_id(source_cell)
        if (cell_kind(source_cell) == "locked" and source_cell.cell_type == "code"
                and gid not in seen):
            later = [k for k, item in enumerate(items) if item[0] is not None and item[0] > index]
            items.insert(later[0] if later else len(items), (index, gid, source_cell.source))
    return [(label, code) for _, label, code in items if code.strip()]
