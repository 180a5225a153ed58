"""``course grade ASSIGNMENT --similarity``: answers that look alike, for the instructor to review.

Every function defined in a submission's answer cells is parsed with :mod:`ast` and normalised:
docstrings dropped, every argument and variable renamed in order of first appearance
(``v0, v1, ...``), formatting and comments gone. Two functions of the same name are reported
when their normalised forms are identical, or similar (``difflib`` ratio of their token lists at
least :data:`THRESHOLD`). Each student's functions are compared with every other student's and
with the library's own source (``course/`` outside ``course/grading/``): a function copied from
the library with its names changed and its formatting redone is still found.

The report is a CSV for people to read; it changes no score and accuses no one: a short
function written by two students may well come out identical.
"""

import ast
import csv
import difflib
import glob
import os
import re
from dataclasses import dataclass

from course.grading.notebook import SubmissionError, answers, read_notebook

THRESHOLD = 0.9
MIN_TOKENS = 25  # shorter functions are too alike by nature to report
LIBRARY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Rename(ast.NodeTransformer):
    """Rename arguments and variables in order of first appearance; drop docstrings."""

    def __init__(self):
        self.names = {}

    def _new(self, name):
        return self.names.setdefault(name, f"v{len(self.names)}")

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(id=self._new(node.id), ctx=node.ctx), node)

    def visit_arg(self, node):
        return ast.copy_location(ast.arg(arg=self._new(node.arg), annotation=None), node)

    def visit_FunctionDef(self, node):
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        node.body = body
        node.decorator_list, node.returns = [], None
        self.generic_visit(node)
        return node


def normalise(function):
    """The normalised token list of a ``FunctionDef`` node (its own name kept)."""
    tree = _Rename().visit(ast.fix_missing_locations(ast.parse(ast.unparse(function))))
    return re.findall(r"\w+|[^\w\s]", ast.unparse(tree))


def functions(code):
    """``{name: tokens}`` of the top-level functions in ``code`` (nothing if it does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    return {node.name: normalise(node) for node in tree.body
            if isinstance(node, ast.FunctionDef)}


def library_functions(root=LIBRARY):
    """``{name: [(file, tokens)]}`` of the library's functions and methods, outside grading."""
    found = {}
    for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
        if os.path.relpath(path, root).startswith("grading" + os.sep):
            continue
        with open(path, encoding="utf-8") as f:
            try:
                tree = ast.parse(f.read())
            except SyntaxError:
                continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                where = "library:" + os.path.relpath(path, os.path.dirname(root))
                found.setdefault(node.name, []).append((where, normalise(node)))
    return found


@dataclass
class Match:
    student: str
    function: str
    other: str  # another student, or "library:course/ops/linear.py"
    similarity: float


def compare(students, library):
    """Matches among ``students`` ({student: {name: tokens}}) and against ``library``."""
    matches = []
    names = sorted(students)
    for i, student in enumerate(names):
        for name, tokens in sorted(students[student].items()):
            if len(tokens) < MIN_TOKENS:
                continue
            candidates = [(other, students[other][name]) for other in names[i + 1:]
                          if name in students[other]]
            candidates += library.get(name, [])
            for other, theirs in candidates:
                score = _similarity(tokens, theirs)
                if score >= THRESHOLD:
                    matches.append(Match(student, name, other, round(score, 3)))
    return matches


def _similarity(a, b):
    if a == b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < THRESHOLD or matcher.quick_ratio() < THRESHOLD:
        return 0.0
    return matcher.ratio()


def report(assignment, root=".", csv_path=None, out=None):
    """Write the similarity CSV of ``assignment``'s submissions; returns the matches."""
    import sys

    from course.grading.autograde import load_assignment
    from course.grading.pipeline import course_directory, find_submissions

    out = out or sys.stdout
    coursedir = course_directory(root)
    specs = load_assignment(coursedir.format_path(coursedir.source_directory, ".", assignment))
    students = {}
    for submission in find_submissions(coursedir, assignment):
        found = {}
        for spec in specs:
            try:
                nb = read_notebook(os.path.join(submission.path, spec.name + ".ipynb"))
            except SubmissionError:
                continue
            for code in answers(spec.source, nb).values():
                found.update(functions(code))
        students[submission.student] = found
    matches = compare(students, library_functions())
    csv_path = csv_path or os.path.join(coursedir.root, f"similarity_{assignment}.csv")
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "function", "matches", "similarity"])
        for match in matches:
            writer.writerow([match.student, match.function, match.other, match.similarity])
    print(f"{assignment}: {len(students)} submissions, {len(matches)} look-alike functions "
          f"to review (no score changed): {csv_path}", file=out)
    return matches
