"""Feedback notebooks and HTML for one graded submission (``course grade``).

The feedback notebook is the released notebook with the student's answers in it and, under
every test cell, what each check found. For students (``hidden=False``) hidden tests never
appear: their lines are cut from the test cells and their results say only pass or fail and
why ("timeout", "wrong gradient", ...), never the message, seed or shapes. The instructor's copy
(``hidden=True``, written to ``autograded/``) keeps everything, with nbgrader's metadata so the
formgrader can show it.

A student's markdown answers are shown escaped, as text, so no HTML or script a student wrote is
rendered in a page an instructor may open.
"""

import copy
import html

import nbformat
from nbconvert import HTMLExporter

from course.grading.notebook import cell_kind, grade_id, strip_hidden_tests


def feedback_notebook(spec, result, student, hidden=False):
    """The notebook a student (or, with ``hidden=True``, an instructor) reads after grading."""
    base = spec.source if hidden or spec.release is None else spec.release
    nb = copy.deepcopy(base)
    for cell in nb.cells:
        kind, gid = cell_kind(cell), grade_id(cell)
        if kind == "answer":
            cell.source = result.answers.get(gid, "(this answer cell is missing)")
            if cell.cell_type == "markdown":  # shown as text: no HTML from a student is rendered
                cell.source = f"<pre>{html.escape(cell.source)}</pre>"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        if kind == "test":
            if not hidden:
                cell.source = strip_hidden_tests(cell.source)
            cell.outputs = [nbformat.v4.new_output(
                "stream", name="stdout", text=_test_report(spec, result, gid, hidden))]
    nb.cells.insert(0, nbformat.v4.new_markdown_cell(_header(spec, result, student)))
    return nb


def _header(spec, result, student):
    earned = sum(result.scores.values())
    possible = sum(cell.points for cell in spec.tests)
    lines = [f"# Feedback: {html.escape(spec.name)} ({html.escape(student)})", "",
             f"**Autograded score: {earned:g} / {possible:g}**", ""]
    if result.status == "failed":
        lines.append(f"This notebook could not be graded: {html.escape(result.reason)}.")
    elif result.status == "crashed":
        lines.append("The kernel died while grading this notebook (for example `os._exit` or a "
                     "segfault). Tests that ran before keep their scores; the rest ran again in "
                     "a fresh kernel.")
    for line in result.log:
        lines.append(f"- `{html.escape(line)}`")
    return "\n".join(lines)


def _test_report(spec, result, gid, hidden):
    cell = next(c for c in spec.tests if c.grade_id == gid)
    checks = [c for c in result.checks if c.cell == gid]
    lines = [f"Score: {result.scores.get(gid, 0.0):g} / {cell.points:g}"]
    hidden_count = 0
    for check in checks:
        mark = "PASS" if check.passed else "FAIL"
        if check.hidden and not hidden:
            hidden_count += 1
            why = "" if check.passed else f" ({check.reason})"
            lines.append(f"{mark}  hidden test {hidden_count}{why}")
        else:
            label = check.name + (" [hidden]" if check.hidden else "")
            lines.append(f"{mark}  {label}: {check.message or check.reason}")
    return "\n".join(lines) + "\n"


def to_html(nb):
    """Render a feedback notebook as a standalone HTML page."""
    body, _ = HTMLExporter(template_name="classic").from_notebook_node(nb)
    return body
