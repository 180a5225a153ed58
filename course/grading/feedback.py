"""Feedback pages and notebooks for one graded submission (``course grade``).

Two products:

- :func:`page`: the HTML page a student gets. It is built here from fixed markup and escaped
  text only: every cell and every message is shown inside ``<pre>`` as text, student-controlled
  text (error messages, answers) is capped in length, and the page has no script, no link, no
  style sheet or image from elsewhere (a Content-Security-Policy forbids them too). Hidden tests
  never appear: their lines are cut from the test cells and their results say only pass or
  fail and why, from a fixed list of reasons ("timeout", "wrong gradient", ...), never the
  check's name, message, seed, shapes or values.
- :func:`feedback_notebook` with ``hidden=True``: the instructor's copy written to
  ``autograded/``, with every check's result and nbgrader's metadata so the formgrader can show
  it. Student-controlled text goes only into stream outputs (plain text), never into Markdown.
"""

import copy
import html

import nbformat

from course.grading.notebook import cell_kind, grade_id, strip_hidden_tests

MESSAGE_CHARS = 300  # longest student-controlled message shown
ANSWER_CHARS = 20000  # longest answer cell shown
LOG_LINES = 20
REASONS = ("ok", "wrong value", "wrong gradient", "wrong shape", "error", "timeout", "memory",
           "crashed")
STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}"
         "pre{background:#f6f6f6;padding:.5em;white-space:pre-wrap;overflow-wrap:anywhere}"
         "pre.result{background:#eef4ff}.fail{color:#a00}")
POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'"


def cap(text, limit=MESSAGE_CHARS):
    """Student-controlled text, cut to ``limit`` characters."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + " [...]"


def feedback_notebook(spec, result, student, hidden=False):
    """The notebook a student (or, with ``hidden=True``, an instructor) reads after grading."""
    base = spec.source if hidden or spec.release is None else spec.release
    nb = copy.deepcopy(base)
    for cell in nb.cells:
        kind, gid = cell_kind(cell), grade_id(cell)
        if kind == "answer":
            cell.source = cap(result.answers.get(gid, "(this answer cell is missing)"),
                              ANSWER_CHARS)
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
    header = nbformat.v4.new_markdown_cell(_header(spec, result, student))
    notes = nbformat.v4.new_code_cell("# grading notes", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text=_notes(result) or "(none)\n")])
    nb.cells[:0] = [header, notes]
    return nb


def _score(spec, result):
    earned = sum(result.scores.values())
    possible = sum(cell.points for cell in spec.tests)
    return f"Autograded score: {earned:g} / {possible:g}"


def _summary(result):
    """What happened, in fixed words (the reason of a failed notebook is the grader's)."""
    if result.status == "failed":
        return f"This notebook could not be graded: {cap(result.reason)}."
    if result.status == "crashed":
        return ("The kernel died while grading this notebook (for example os._exit or a "
                "segfault). Tests that ran before keep their scores; the rest ran again in a "
                "fresh kernel.")
    return ""


def _header(spec, result, student):
    lines = [f"# Feedback: {html.escape(spec.name)} ({html.escape(student)})", "",
             f"**{_score(spec, result)}**", ""]
    if result.status != "graded":
        lines.append(html.escape(_summary(result)).replace("_", "\\_"))
    return "\n".join(lines)


def _notes(result):
    """The grading notes (cells that raised, timed out...), capped: student-controlled text."""
    lines = [cap(line) for line in result.log[:LOG_LINES]]
    if len(result.log) > LOG_LINES:
        lines.append(f"... and {len(result.log) - LOG_LINES} more")
    return "".join(f"- {line}\n" for line in lines)


def _test_report(spec, result, gid, hidden):
    cell = next(c for c in spec.tests if c.grade_id == gid)
    checks = [c for c in result.checks if c.cell == gid]
    lines = [f"Score: {result.scores.get(gid, 0.0):g} / {cell.points:g}"]
    hidden_count = 0
    for check in checks:
        mark = "PASS" if check.passed else "FAIL"
        if check.hidden and not hidden:
            hidden_count += 1
            reason = check.reason if check.reason in REASONS else "error"
            why = "" if check.passed else f" ({reason})"
            lines.append(f"{mark}  hidden test {hidden_count}{why}")
        else:
            label = check.name + (" [hidden]" if check.hidden else "")
            text = check.message or check.reason
            lines.append(f"{mark}  {label}: {text if hidden else cap(text)}")
    return "\n".join(lines) + "\n"


def page(spec, result, student):
    """The student's feedback page: fixed markup, escaped and capped text, nothing remote."""
    nb = feedback_notebook(spec, result, student)
    parts = [f"<h1>Feedback: {html.escape(spec.name)} ({html.escape(student)})</h1>",
             f"<p><b>{html.escape(_score(spec, result))}</b></p>"]
    if result.status != "graded":
        parts.append(f"<p>{html.escape(_summary(result))}</p>")
    notes = _notes(result)
    if notes:
        parts.append(f"<h2>Grading notes</h2>\n<pre>{html.escape(notes)}</pre>")
    parts.append("<h2>Your notebook, with the tests' results</h2>")
    for cell in nb.cells[2:]:
        parts.append(f'<pre class="{cell.cell_type}">{html.escape(cell.source)}</pre>')
        for output in cell.get("outputs", []):
            parts.append(f'<pre class="result">{html.escape(output.get("text", ""))}</pre>')
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">\n"
            f"<title>Feedback: {html.escape(spec.name)}</title>\n<style>{STYLE}</style>\n"
            "</head><body>\n" + "\n".join(parts) + "\n</body></html>\n")
