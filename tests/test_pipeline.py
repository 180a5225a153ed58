"""The grading pipeline end to end: real nbgrader gradebook, real Jupyter kernels, no mocks.

The class of sample submissions in ``autograder/samples/`` is collected from a folder, graded
in parallel, given feedback and exported once per test run (the ``graded`` fixture, shared by
the pytest-xdist workers); each test reads that run.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile

import nbformat
import numpy as np
import pytest

from course.grading.autograde import Limits
from course.grading.judge import OutputError, load_outputs
from course.grading.notebook import (
    SubmissionError,
    looks_like_test,
    parse_test_cell,
    program,
    read_notebook,
    strip_hidden_tests,
)

pytestmark = pytest.mark.grading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSIGNMENT = "a1_backprop"
SAMPLES = os.path.join(ROOT, "autograder", "samples", ASSIGNMENT)
SOURCE = os.path.join(ROOT, "solutions", ASSIGNMENT, f"{ASSIGNMENT}.ipynb")
RELEASE = os.path.join(ROOT, "assignments", ASSIGNMENT, f"{ASSIGNMENT}.ipynb")
LIMITS = Limits(test_timeout=3.0, cell_timeout=60.0)
LIMITS_FOR = {  # a6's first test of each kernel compiles it with Numba (seconds on a busy CI)
    "a6_fast_kernels": Limits(test_timeout=120.0, cell_timeout=60.0, submission_timeout=900.0)}

needs_assignment = pytest.mark.skipif(
    not (os.path.exists(SOURCE) and os.path.exists(RELEASE)),
    reason="solutions/a1_backprop and its release are not in this checkout")


def _expected(assignment=ASSIGNMENT):
    with open(os.path.join(ROOT, "autograder", "samples", assignment, "expected.json")) as f:
        return {k: v for k, v in json.load(f).items() if not k.startswith("_")}


def _course(tmp, assignment=ASSIGNMENT):
    """A fresh course root holding the assignment's source and release."""
    for step in ("solutions", "assignments"):
        shutil.copytree(os.path.join(ROOT, step, assignment), tmp / step / assignment)
    return tmp


def _read_csv(path):
    with open(path, newline="") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def _hidden_lines(assignment=ASSIGNMENT):
    """Every hidden test line of the source notebook."""
    nb = nbformat.read(os.path.join(ROOT, "solutions", assignment, f"{assignment}.ipynb"), 4)
    lines = []
    for cell in nb.cells:
        visible = set(strip_hidden_tests(cell.source).splitlines())
        lines += [line for line in cell.source.splitlines()
                  if line.startswith("check(") and line not in visible]
    return lines


def _grade_samples(root):
    """Collect the samples from a folder into the fresh course ``root``, grade them with two
    workers, export: (summary, log)."""
    from io import StringIO

    from course.grading.pipeline import grade

    log = StringIO()
    summary = grade(ASSIGNMENT, root=str(_course(root)), source=SAMPLES, workers=2,
                    limits=LIMITS, progress=False, out=log)
    return summary, log.getvalue()


@pytest.fixture(scope="module")
def graded(graded_once):
    """(course root, summary, log) of one grading run of the samples, made once per test run
    (``graded_once`` in conftest.py; every worker works on its own copy, since one test regrades
    it): each worker used to grade the samples itself, 150-160 s each in a CI run."""
    if not os.path.exists(SOURCE):
        pytest.skip("solutions/a1_backprop is not in this checkout")
    return graded_once("graded_samples", _grade_samples)


# ------------------------------------------------------------------ end to end


@needs_assignment
def test_every_sample_gets_exactly_its_expected_score(graded):
    root, summary, _ = graded
    rows = _read_csv(summary.csv_path)
    expected = _expected()
    assert sorted(rows) == sorted(expected)
    wrong = {name: (float(rows[name]["score"]), rows[name]["status"])
             for name, want in expected.items()
             if (float(rows[name]["score"]), rows[name]["status"]) != (want["score"],
                                                                          want["status"])}
    assert wrong == {}


@needs_assignment
def test_failed_checks_record_their_reason(graded):
    root, _, _ = graded
    for name, want in _expected().items():
        if "reasons" not in want:
            continue
        with open(root / "autograded" / name / ASSIGNMENT / "grading.json") as f:
            data = json.load(f)
        reasons = {c["reason"] for n in data["notebooks"] for c in n["checks"] if not c["passed"]}
        assert set(want["reasons"]) <= reasons, name


@needs_assignment
def test_summary_counts_and_unreadable_notebooks_have_a_reason(graded):
    root, summary, log = graded
    assert (summary.graded, summary.crashed, summary.failed) == (22, 2, 3)
    assert "graded 22, crashed 2, failed to run 3, late 0" in log
    rows = _read_csv(summary.csv_path)
    assert "not UTF-8" in rows["non_utf8"]["reasons"]
    assert "invalid JSON" in rows["malformed"]["reasons"]
    assert "a1_backprop.ipynb is missing" in rows["renamed"]["reasons"]


@needs_assignment
def test_crashed_kernel_keeps_earlier_scores_and_reruns_later_tests(graded):
    root, _, _ = graded
    with open(root / "autograded" / "os_exit" / ASSIGNMENT / "grading.json") as f:
        notebook = json.load(f)["notebooks"][0]
    assert notebook["status"] == "crashed"
    assert notebook["scores"]["test_linear_forward"] == 5  # ran before the crash
    assert notebook["scores"]["test_two_layer_loss"] == 15  # ran after it, in a new kernel
    assert notebook["scores"]["test_svm_loss"] == 0


@needs_assignment
def test_feedback_and_log_never_show_hidden_tests(graded):
    root, _, log = graded
    hidden = _hidden_lines()
    assert hidden, "the source notebook has hidden tests"
    with open(RELEASE) as f:
        release = f.read()
    for name in _expected():
        if name in ("malformed", "non_utf8", "renamed"):
            continue
        with open(root / "feedback" / name / ASSIGNMENT / f"{ASSIGNMENT}.html") as f:
            page = f.read()
        assert "Autograded score" in page
        assert "hidden test 1" in page
        for line in hidden:
            for text in (page, log, release):
                assert line not in text
                assert "seed=101" not in text


@needs_assignment
def test_instructor_copy_is_a_notebook_with_everything(graded):
    root, _, _ = graded
    nb = nbformat.read(root / "autograded" / "bias_axis" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    text = nbformat.writes(nb)
    assert "BEGIN HIDDEN TESTS" in text
    assert "db = dout.sum(axis=1)" in text


@needs_assignment
def test_rerun_keeps_manual_grades_and_comments_and_nbgrader_exports_them(graded):
    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    from course.grading.pipeline import course_directory, grade

    root, summary, _ = graded
    db_url = course_directory(str(root)).db_url
    with Gradebook(db_url) as book:
        grade_ = book.find_grade("test_linear_backward", ASSIGNMENT, ASSIGNMENT, "bias_axis")
        grade_.manual_score = 6.0
        comment = book.find_comment("linear_backward", ASSIGNMENT, ASSIGNMENT, "bias_axis")
        comment.manual_comment = "db sums over the batch axis"
        book.db.commit()
    grade(ASSIGNMENT, root=str(root), workers=1, limits=LIMITS, students=["bias_axis"],
          progress=False, out=open(os.devnull, "w"))
    with Gradebook(db_url) as book:
        grade_ = book.find_grade("test_linear_backward", ASSIGNMENT, ASSIGNMENT, "bias_axis")
        assert (grade_.auto_score, grade_.manual_score, grade_.score) == (0.0, 6.0, 6.0)
        assert book.find_comment("linear_backward", ASSIGNMENT, ASSIGNMENT,
                                 "bias_axis").manual_comment == "db sums over the batch axis"
        assert book.find_submission(ASSIGNMENT, "bias_axis").score == 80.0
        export = root / "nbgrader_export.csv"
        CsvExportPlugin(to=str(export)).export(book)
    rows = _read_csv(summary.csv_path)
    assert float(rows["bias_axis"]["score"]) == 80.0
    assert float(rows["solution"]["score"]) == 92.0  # other students are still there
    assert float(_read_csv(export)["bias_axis"]["score"]) == 80.0


@needs_assignment
def test_collect_from_a_zip_and_the_command_line(tmp_path):
    root = _course(tmp_path / "course")
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(os.path.join(SAMPLES, "solution.ipynb"), "export/alice.ipynb")
        z.write(os.path.join(SAMPLES, "blank.ipynb"), "export/bob.ipynb")
        z.writestr("export/../../evil.ipynb", "{}")
        z.writestr("export/notes.txt", "not a notebook")
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "course.grading", ASSIGNMENT, "--root", str(root), "--from",
         str(archive), "--quiet", "--timeout", "10", "--csv", str(tmp_path / "grades.csv"),
         "--duedate", "2020-01-01 00:00:00 UTC"],
        capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    rows = _read_csv(tmp_path / "grades.csv")
    assert {k: float(v["score"]) for k, v in rows.items()} == {"alice": 92.0, "bob": 0.0}
    assert "graded 2, crashed 0, failed to run 0, late 2" in result.stdout
    assert float(rows["alice"]["seconds_late"]) > 0
    assert (root / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").exists()
    assert not (tmp_path / "evil.ipynb").exists()


def test_grade_parser_plugs_into_a_cli():
    import argparse

    from course.grading.cli import add_grade_parser

    parser = argparse.ArgumentParser(prog="course")
    add_grade_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["grade", "a1_backprop", "--workers", "2", "--memory", "512"])
    assert (args.assignment, args.workers, args.memory) == ("a1_backprop", 2, 512)
    assert args.func.__name__ == "run_grade"


@pytest.mark.parametrize("assignment", ["a2_convnets", "a3_regularization", "a4_captioning",
                                        "a5_understanding", "a6_fast_kernels"])
def test_samples_get_their_scores_and_feedback_hides_hidden_tests(tmp_path, assignment):
    """Collect, grade (two workers), feedback and nbgrader's export for one assignment's
    samples: every sample gets exactly the score in its expected.json."""
    from io import StringIO

    from nbgrader.api import Gradebook
    from nbgrader.plugins.export import CsvExportPlugin

    from course.grading.pipeline import course_directory, grade

    if not os.path.exists(os.path.join(ROOT, "solutions", assignment)):
        pytest.skip(f"solutions/{assignment} is not in this checkout")
    root = _course(tmp_path, assignment)
    log = StringIO()
    summary = grade(assignment, root=str(root),
                    source=os.path.join(ROOT, "autograder", "samples", assignment),
                    workers=2, limits=LIMITS_FOR.get(assignment, LIMITS), progress=False,
                    out=log)
    expected = _expected(assignment)
    scores = {k: (float(v["score"]), v["status"]) for k, v in _read_csv(summary.csv_path).items()}
    assert scores == {k: (v["score"], v["status"]) for k, v in expected.items()}
    for name, want in expected.items():
        with open(root / "autograded" / name / assignment / "grading.json") as f:
            checks = [c for n in json.load(f)["notebooks"] for c in n["checks"]]
        assert set(want.get("reasons", [])) <= {c["reason"] for c in checks if not c["passed"]}
    hidden = _hidden_lines(assignment)
    assert hidden
    with open(os.path.join(ROOT, "assignments", assignment, f"{assignment}.ipynb")) as f:
        release = f.read()
    for name in expected:
        with open(root / "feedback" / name / assignment / f"{assignment}.html") as f:
            page = f.read()
        assert "Autograded score" in page
        assert not [line for line in hidden if line in page or line in log.getvalue()
                    or line in release]
    export = root / "nbgrader_export.csv"
    with Gradebook(course_directory(str(root)).db_url) as book:
        CsvExportPlugin(to=str(export)).export(book)
    assert {k: float(v["score"]) for k, v in _read_csv(export).items()} == {
        k: v["score"] for k, v in expected.items()}


# ------------------------------------------------------------------ reading submissions


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


@pytest.mark.parametrize("data, reason", [
    (b"\xff\xfe{}", "not UTF-8"),
    (b'{"cells": [', "invalid JSON"),
    (b"[1, 2]", "no list of cells"),
    (b'{"cells": [], "nbformat": 3}', "unsupported notebook format"),
    (b'{"cells": [{"cell_type": "code", "source": 5}], "nbformat": 4}', "no text source"),
    (b'{"cells": [42], "nbformat": 4}', "not a notebook cell"),
    (b"[" * 100000 + b"]" * 100000, "invalid JSON"),
])
def test_unreadable_notebooks_raise_a_reason(tmp_path, data, reason):
    with pytest.raises(SubmissionError, match=reason):
        read_notebook(_write(tmp_path / "nb.ipynb", data))


def test_lenient_reading_keeps_cells_and_metadata(tmp_path):
    raw = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "source": ["def f():\n", "    return 1"],
         "metadata": {"nbgrader": {"grade_id": "f", "solution": True}}},
        {"cell_type": "markdown", "source": "text", "metadata": "junk"}]}
    nb = read_notebook(_write(tmp_path / "nb.ipynb", json.dumps(raw).encode()))
    assert nb.cells[0].source == "def f():\n    return 1"
    assert nb.cells[0].metadata.nbgrader.grade_id == "f"
    assert nb.cells[1].metadata == {}


def test_parse_test_cell_reads_checks_and_marks_hidden_ones():
    calls = parse_test_cell('from course.grading import check\n'
                            'check("a1.f", f)\n### BEGIN HIDDEN TESTS\n'
                            'check("a1.g", f, g, seed=3, d=(2, 3), first=True)\n'
                            '### END HIDDEN TESTS\n')
    assert [(c.name, c.functions, c.seed, c.options, c.hidden) for c in calls] == [
        ("a1.f", ("f",), 0, (), False),
        ("a1.g", ("f", "g"), 3, (("d", (2, 3)), ("first", True)), True)]
    with pytest.raises(ValueError, match="not check"):
        parse_test_cell("assert f(1) == 2")
    with pytest.raises(ValueError):
        parse_test_cell('check("a1.f", lambda x: x)')


def _cell(kind, source, **nbgrader):
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    return make(source, metadata={"nbgrader": nbgrader} if nbgrader else {})


def test_program_takes_answers_from_the_submission_and_the_rest_from_the_source():
    source = nbformat.v4.new_notebook(cells=[
        _cell("code", "import numpy as np", grade_id="setup", locked=True),
        _cell("code", "def f(): return 1", grade_id="f", solution=True),
        _cell("code", 'check("a1.f", f)', grade_id="test_f", grade=True, points=1),
        _cell("code", "HELPER = 2", grade_id="helper", locked=True),
        _cell("code", "def g(): return HELPER", grade_id="g", solution=True),
        _cell("code", "train_for_an_hour()"),  # an ungraded demo
    ])
    submission = nbformat.v4.new_notebook(cells=[
        _cell("code", "def f(): return 2", grade_id="f", solution=True),
        _cell("code", "import numpy as np; np.allclose = None", grade_id="setup", locked=True),
        _cell("code", "print('I pass')", grade_id="test_f", grade=True, points=1),
        _cell("code", 'check("a1.f", f)'),  # a retyped test cell
        _cell("code", "x = 1"),  # the student's own cell
        _cell("code", "def g(): return 3", grade_id="g", solution=True),
        _cell("code", "import numpy as np; np.allclose = None", grade_id="setup", locked=True),
        _cell("code", "train_for_an_hour()"),
        _cell("code", "train_for_an_hour(epochs=2)"),
    ])
    assert program(source, submission) == [
        ("f", "def f(): return 2"),
        ("setup", "import numpy as np"),
        ("cell 5", "x = 1"),
        ("helper", "HELPER = 2"),  # deleted by the student: restored before the next cell
        ("g", "def g(): return 3"),
        ("cell 9", "train_for_an_hour(epochs=2)"),  # changed by the student: it runs
    ]


@pytest.mark.parametrize("source, expected", [
    ('check("a1.f", f)\ncheck("a1.g", g, seed=2)', True),
    ("from course.grading import check\ncheck('x', f)", True),
    ("check('x', f)\nnp.allclose = None", False),
    ("def broken(:", False),
    ("", False),
])
def test_looks_like_test(source, expected):
    assert looks_like_test(source) is expected


# ------------------------------------------------------------------ outputs as plain data


def test_outputs_are_loaded_without_pickles(tmp_path):
    good = tmp_path / "good.npz"
    np.savez(good, out=np.ones(3), flags=np.zeros(2, dtype=np.int64))
    assert set(load_outputs(good)) == {"out", "flags"}
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, out=np.array([object()], dtype=object))
    with pytest.raises(OutputError, match="not plain arrays"):
        load_outputs(pickled)
    text = tmp_path / "text.npz"
    np.savez(text, out=np.array(["1.0"]))
    with pytest.raises(OutputError, match="not numeric"):
        load_outputs(text)
    with pytest.raises(OutputError, match="no readable outputs"):
        load_outputs(_write(tmp_path / "junk.npz", b"not a zip"))


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture
def postgres_url():
    """A throwaway PostgreSQL server on a private Unix socket; yields its SQLAlchemy URL.

    Skips without the server programs (initdb, pg_ctl) or the psycopg driver. PostgreSQL
    refuses to run as root, so under root the server runs as 'nobody'.
    """
    import tempfile

    pytest.importorskip("psycopg")
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        pytest.skip("no PostgreSQL server programs (initdb, pg_ctl)")
    folder = tempfile.mkdtemp(prefix="course-pg-")
    prefix = []
    if os.geteuid() == 0:
        import pwd

        if not shutil.which("runuser"):
            pytest.skip("running as root without runuser")
        nobody = pwd.getpwnam("nobody")
        os.chmod(folder, 0o755)
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
        prefix = ["runuser", "-u", "nobody", "--"]
    data = os.path.join(folder, "data")
    run = dict(capture_output=True, timeout=120, check=True)
    subprocess.run(prefix + ["initdb", "-D", data, "-A", "trust", "-U", "grader"], **run)
    subprocess.run(prefix + ["pg_ctl", "-D", data, "-l", os.path.join(folder, "log"), "-w",
                             "-o", f"-p 5432 -k {folder} -c listen_addresses=''", "start"],
                   **run)
    try:
        import psycopg

        with psycopg.connect(f"host={folder} port=5432 user=grader dbname=postgres",
                             autocommit=True) as connection:
            connection.execute("CREATE DATABASE course")
        yield f"postgresql+psycopg://grader@/course?host={folder}&port=5432"
    finally:
        subprocess.run(prefix + ["pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@needs_assignment
def test_postgresql_gradebook(tmp_path, postgres_url):
    from nbgrader.api import Gradebook

    from course.grading.pipeline import grade

    root = _course(tmp_path / "course")
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("solution", "bias_axis", "malformed"):
        shutil.copyfile(os.path.join(SAMPLES, f"{name}.ipynb"), folder / f"{name}.ipynb")
    summary = grade(ASSIGNMENT, root=str(root), source=str(folder), db_url=postgres_url,
                    workers=2, limits=LIMITS, progress=False, out=open(os.devnull, "w"))
    assert {k: float(v["score"]) for k, v in _read_csv(summary.csv_path).items()} == {
        "solution": 92.0, "bias_axis": 74.0, "malformed": 0.0}
    with Gradebook(postgres_url) as book:
        assert book.find_submission(ASSIGNMENT, "bias_axis").score == 74.0
    assert not (root / "gradebook.db").exists()
