"""``course grade`` attacked by its students, end to end, with the sandbox on.

A one-exercise assignment of the tests' own (``check("selftest.square", square)``, 10 points,
one hidden check) keeps each grading short and independent of the course's assignments. One
class is graded once (module fixture) with two workers: honest students, an honest student
with stray error cells (20 copies: the same score every time), and one student per attack of
issue 17. Each test reads that run and asserts the attack gained nothing, and that the honest
students lost nothing.
"""

import csv
import inspect
import json
import os
import time

import nbformat
import numpy as np
import pytest

from course.grading import sandbox
from course.grading.autograde import Limits
from course.grading.checks import CHECKS

pytestmark = pytest.mark.grading

ASSIGNMENT = "t0"
CORRECT = "def square(x):\n    return x ** 2"
WRONG = "def square(x):\n    return x"
LIMITS = Limits(test_timeout=5.0, cell_timeout=10.0, submission_timeout=15.0)
HIDDEN_SEED = 7919


def _cell(kind, source, **nbgrader):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    if nbgrader:
        nbgrader = {"schema_version": 3, "locked": False, "solution": False, "grade": False,
                    **nbgrader}
    return make(source, metadata={"nbgrader": nbgrader} if nbgrader else {})


def source_notebook():
    return nbformat.v4.new_notebook(cells=[
        _cell("markdown", "Write `square`."),
        _cell("code", "import numpy as np", grade_id="setup", locked=True),
        _cell("code", CORRECT, grade_id="square", solution=True),
        _cell("code", 'from course.grading import check\ncheck("selftest.square", square)\n'
                      '### BEGIN HIDDEN TESTS\n'
                      f'check("selftest.square", square, seed={HIDDEN_SEED}, n=9)\n'
                      '### END HIDDEN TESTS', grade_id="test_square", grade=True, locked=True,
              points=10),
    ])


def submission(answer=CORRECT, before=(), after=()):
    """A student's notebook: ``answer`` in the answer cell, extra code cells around it."""
    nb = source_notebook()
    nb.cells[2].source = answer
    nb.cells[2:2] = [_cell("code", code) for code in before]
    nb.cells[3 + len(before):3 + len(before)] = [_cell("code", code) for code in after]
    return nb


def make_course(root):
    folder = root / "solutions" / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(source_notebook(), folder / f"{ASSIGNMENT}.ipynb")
    return root


def read_csv(path):
    with open(path, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def hidden_values():
    """The hidden check's inputs, as they would be printed."""
    x = CHECKS["selftest.square"].make_inputs(HIDDEN_SEED, n=9)["x"]
    return [f"{v:.6f}"[:7] for v in x]


def many_entries(count):
    """A ZIP64 archive of ``count`` empty entries (built by hand: zipfile takes a minute)."""
    import struct

    local, central, offset = [], [], 0
    for i in range(count):
        name = b"a%d.npy" % i
        local.append(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, 0, 0, 0,
                                 len(name), 0) + name)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, 0, 0,
                                   0, len(name), 0, 0, 0, 0, 0, offset) + name)
        offset += len(local[-1])
    directory = b"".join(central)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count,
                         len(directory), offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, offset + len(directory), 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory),
                      offset, 0)
    return b"".join(local) + directory + record + locator + end


STRAY_ERRORS = ["raise ValueError('a stray cell')", "1 / 0", "undefined_name"]


def attacks(root):
    gradebook = str(root / "gradebook.db")
    return {
        # a background process that waits for the grader to record the score, then rewrites it
        "background": submission(WRONG, after=[f"""
import subprocess, sys
subprocess.Popen([sys.executable, "-c", '''
import sqlite3, time
for _ in range(100):
    time.sleep(0.1)
    try:
        db = sqlite3.connect({gradebook!r})
        db.execute("update grade set auto_score = 10")
        db.commit()
    except Exception:
        pass
'''], start_new_session=True)"""]),
        # files for the grader (or the next kernel, or the judge) to read or import
        "plants_files": submission(WRONG, after=["""
import os
for folder in (os.getcwd(), os.path.expanduser("~"), "/grader/io", "/grader/lib",
               "/grader/lib/course/grading"):
    for name in ("sitecustomize.py", "usercustomize.py", "checks.py", "judge.py"):
        try:
            with open(os.path.join(folder, name), "w") as f:
                f.write("import numpy; numpy.allclose = lambda *a, **k: True\\n")
        except OSError:
            pass
os.makedirs(os.path.expanduser("~/.ipython/profile_default/startup"), exist_ok=True)
with open(os.path.expanduser("~/.ipython/profile_default/startup/0.py"), "w") as f:
    f.write("def square(x):\\n    return x ** 2\\n")
"""]),
        # kills its parent, its process group, everything it can see
        "kills_parent": submission(CORRECT, before=[
            "import os\nos.kill(os.getppid(), 9)\nos.killpg(0, 9)\nos.kill(-1, 9)"]),
        # looks for the hidden inputs and the solutions, and shows them in its feedback
        "reads_hidden": submission("""
import glob, os
def square(x):
    found = glob.glob("/grader/**", recursive=True) + glob.glob("../*") + glob.glob("../../*")
    raise RuntimeError(str(found) + repr(list(x)))
""", after=["import glob\nraise RuntimeError(str(glob.glob('/**/solutions/**', recursive=True)))"]),
        # prints the grader's environment into its feedback
        "env_leak": submission(CORRECT, after=[
            "import os\nraise RuntimeError(repr(dict(os.environ)))"]),
        # fifteen slow cells: each one times out, and each timeout re-runs the others
        "slow_cells": submission(CORRECT, after=["import time\ntime.sleep(2.5)"] * 15),
        # a result file with 200,001 arrays instead of the outputs
        "huge_result": submission(CORRECT, after=[inspect.getsource(many_entries) + """
import shutil
with open("/tmp/huge.npz", "wb") as f:
    f.write(many_entries(200001))
import course.grading.worker as w
def run_test(request):
    shutil.copyfile("/tmp/huge.npz", request["outputs"])
    open(request["status"], "w").write('{"status": "ok"}')
w.run_test = run_test
"""]),
        # a crafted error message: Markdown and HTML for the feedback page
        "injects": submission(WRONG, after=[
            "raise RuntimeError('` [click](javascript:alert(1)) ![x](http://evil.example/x.png)"
            " <script>alert(1)</script> <a href=\"http://evil.example\">x</a>')"]),
    }


def grade_the_class(root):
    """Write the class's notebooks into the course ``root`` and grade them with two workers:
    (summary, log)."""
    from io import StringIO

    from course.grading.pipeline import grade

    make_course(root)
    folder = root / "class"
    folder.mkdir()
    notebooks = {"honest_a": submission(), "honest_b": submission(), **attacks(root)}
    for i in range(20):
        notebooks[f"stray_{i:02d}"] = submission(CORRECT, before=STRAY_ERRORS, after=STRAY_ERRORS)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    log = StringIO()
    os.environ["COURSE_GRADER_SECRET"] = "s3cret-token"
    try:
        summary = grade(ASSIGNMENT, root=str(root), source=str(folder), workers=2,
                        limits=LIMITS, progress=False, out=log)
    finally:
        del os.environ["COURSE_GRADER_SECRET"]
    return summary, log.getvalue()


@pytest.fixture(scope="module")
def graded(graded_once):
    """(course root, summary, log) of the class's grading run, made once per test run
    (``graded_once`` in conftest.py)."""
    try:
        with __import__("tempfile").TemporaryDirectory() as scratch:
            os.chmod(scratch, 0o711)
            sandbox.probe(scratch)
    except sandbox.SandboxUnavailable as error:
        pytest.skip(str(error))
    return graded_once("graded_attacks", grade_the_class)


def _score(graded, student):
    root, summary, _ = graded
    return float(read_csv(summary.csv_path)[student]["score"])


def _page(graded, student):
    root, _, _ = graded
    with open(root / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html") as f:
        return f.read()


def _grading(graded, student):
    root, _, _ = graded
    with open(root / "autograded" / student / ASSIGNMENT / "grading.json") as f:
        return json.load(f)


def test_honest_students_get_full_marks_and_the_csv_says_sandboxed(graded):
    root, summary, log = graded
    rows = read_csv(summary.csv_path)
    assert {rows[s]["score"] for s in ("honest_a", "honest_b")} == {"10.0"}
    assert {row["sandbox"] for row in rows.values()} == {"bwrap"}
    assert "WARNING" not in log


def test_stray_error_cells_give_the_same_score_every_time(graded):
    scores = [_score(graded, f"stray_{i:02d}") for i in range(20)]
    assert scores == [10.0] * 20


def test_a_background_process_cannot_change_the_gradebook(graded):
    from nbgrader.api import Gradebook

    from course.grading.pipeline import course_directory

    root, _, _ = graded
    time.sleep(2)  # longer than the background process would wait
    with Gradebook(course_directory(str(root)).db_url) as book:
        assert book.find_submission(ASSIGNMENT, "background").score == 0.0
    assert _score(graded, "background") == 0.0


def test_files_written_by_a_kernel_reach_neither_the_grader_nor_other_students(graded):
    assert _score(graded, "plants_files") == 0.0
    assert [_score(graded, s) for s in ("honest_a", "honest_b")] == [10.0, 10.0]


def test_killing_the_parent_costs_no_one_anything(graded):
    assert _score(graded, "kills_parent") == 10.0  # the cell died; the answer was right
    assert [_score(graded, s) for s in ("honest_a", "honest_b")] == [10.0, 10.0]


def test_hidden_inputs_solutions_and_environment_stay_out_of_the_feedback(graded):
    for student in ("reads_hidden", "env_leak"):
        page = _page(graded, student)
        assert "s3cret-token" not in page
        assert "COURSE_GRADER_SECRET" not in page
        assert "solutions" not in page.replace("solutions/", "")  # no path was found
        for value in hidden_values():
            assert value not in page, (student, value)
        assert f"seed={HIDDEN_SEED}" not in page
    assert _score(graded, "reads_hidden") == 0.0


def test_slow_cells_are_bounded_by_the_submission_budget(graded):
    data = _grading(graded, "slow_cells")
    notes = " ".join(data["notebooks"][0]["log"])
    assert "time budget" in notes
    assert data["notebooks"][0]["checks"][-1]["reason"] == "timeout"


def test_a_result_file_of_200001_arrays_is_refused_unread(graded):
    data = _grading(graded, "huge_result")
    assert _score(graded, "huge_result") == 0.0
    assert any("200001 arrays" in c["message"] for c in data["notebooks"][0]["checks"])


def _markup(page):
    """The tags and attribute names of an HTML page (text is not markup)."""
    from html.parser import HTMLParser

    found = (set(), set())

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found[0].add(tag)
            found[1].update(name for name, _ in attrs)

    Parser().feed(page)
    return found


def test_feedback_is_escaped_text_with_no_link_script_or_remote_resource(graded):
    page = _page(graded, "injects")
    assert "Autograded score: 0 / 10" in page
    tags, attributes = _markup(page)
    assert tags <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b",
                    "pre"}, tags
    assert attributes <= {"charset", "http-equiv", "content", "class"}, attributes
    assert "url(" not in page and "@import" not in page
    assert "javascript:alert(1)" in page  # shown, as text
    assert "&lt;script&gt;" in page
    assert "Content-Security-Policy" in page
    assert "hidden test 1" in page


def test_judge_limits_on_result_files(tmp_path):
    import zipfile

    from course.grading.judge import OutputError, load_outputs

    small = many_entries(70)
    assert len(zipfile.ZipFile(__import__("io").BytesIO(small)).infolist()) == 70  # a real zip
    with pytest.raises(OutputError, match="70 arrays"):
        load_outputs(small)
    with pytest.raises(OutputError, match="200001 arrays"):
        load_outputs(many_entries(200001))

    path = tmp_path / "many.npz"
    np.savez(path, **{f"a{i}": np.zeros(1) for i in range(65)})
    with pytest.raises(OutputError, match="65 arrays"):
        load_outputs(str(path))
    deep = tmp_path / "deep.npz"
    np.savez(deep, a=np.zeros((1,) * 9))
    with pytest.raises(OutputError, match="dimensions"):
        load_outputs(deep.read_bytes())


def test_grading_on_a_local_cluster_with_two_workers(tmp_path):
    """``--cluster``: a LocalCluster with 2 worker processes stands in for a Dask cluster; each
    worker runs the same sandbox, and the results come back to this process, which alone
    writes the gradebook and the CSV."""
    distributed = pytest.importorskip("distributed")
    from io import StringIO

    from course.grading import sandbox
    from course.grading.pipeline import grade, probe_sandbox

    try:
        probe_sandbox()
    except sandbox.SandboxUnavailable as error:
        pytest.skip(str(error))
    root = make_course(tmp_path / "course")
    folder = tmp_path / "class"
    folder.mkdir()
    notebooks = {"ann": submission(), "ben": submission(WRONG),
                 "cal": submission(CORRECT, before=STRAY_ERRORS),
                 "dee": submission(CORRECT, before=["import os\nos.kill(-1, 9)"])}
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    log = StringIO()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        summary = grade(ASSIGNMENT, root=str(root), source=str(folder), cluster=client,
                        limits=LIMITS, progress=False, out=log)
        workers = len(client.scheduler_info()["workers"])
    assert workers == 2
    rows = read_csv(summary.csv_path)
    assert {k: float(v["score"]) for k, v in rows.items()} == {
        "ann": 10.0, "ben": 0.0, "cal": 10.0, "dee": 10.0}
    assert {row["sandbox"] for row in rows.values()} == {"bwrap"}
    assert "per minute" in log.getvalue()
    assert os.path.exists(root / "feedback" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.html")


def test_course_grade_refuses_without_a_sandbox_unless_told(tmp_path, monkeypatch, capsys):
    from io import StringIO

    from course.grading.cli import main

    root = make_course(tmp_path / "course")
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(submission(), folder / "ann.ipynb")
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    assert main([ASSIGNMENT, "--root", str(root), "--from", str(folder), "--quiet"]) == 2
    assert "--no-sandbox" in capsys.readouterr().err
    assert not (root / "grades_t0.csv").exists()

    from course.grading.pipeline import grade

    log = StringIO()
    no_sandbox = Limits(test_timeout=5.0, cell_timeout=10.0, sandbox=False)
    summary = grade(ASSIGNMENT, root=str(root), source=str(folder), limits=no_sandbox,
                    progress=False, out=log)
    assert log.getvalue().count("WITHOUT a sandbox") == 1
    assert "graded without a sandbox" in log.getvalue()
    row = read_csv(summary.csv_path)["ann"]
    assert (row["score"], row["sandbox"]) == ("10.0", "none (--no-sandbox)")
