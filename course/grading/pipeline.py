"""``course grade ASSIGNMENT``: collect, autograde, feedback, export, for a whole class.

The course directory is nbgrader's (``nbgrader_config.py`` in the course root is read; source
``solutions/`` and release ``assignments/`` by default). Submissions come from nbgrader's
``submitted/STUDENT/ASSIGNMENT/`` folders, or are first collected there from a zip file or a
folder of notebooks named by student (``alice.ipynb``, or ``alice/NOTEBOOK.ipynb``).

Each submission is graded by :func:`course.grading.autograde.grade_submission` (one kernel per
notebook, limits per test), in parallel with ``workers > 1``; one bad submission never stops the
run. The scores go to nbgrader's gradebook, the instructor's annotated copy to ``autograded/``,
the student's HTML feedback (without hidden tests) to ``feedback/``, and a table to a CSV file.
"""

import csv
import glob
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import nbformat
from tqdm import tqdm

from course.grading import feedback, gradebook
from course.grading.autograde import Limits, failed_result, grade_submission, load_assignment
from course.grading.notebook import MAX_NOTEBOOK_BYTES

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"
UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.@+-]+")


@dataclass
class Submission:
    student: str
    path: str  # folder with the student's notebooks
    timestamp: str


@dataclass
class Summary:
    """What a grading run did; ``statuses`` maps each student to graded/crashed/failed."""

    assignment: str
    graded: int = 0
    crashed: int = 0
    failed: int = 0
    late: int = 0
    seconds: float = 0.0
    statuses: dict = field(default_factory=dict)
    csv_path: str = ""

    def line(self):
        count = len(self.statuses)
        per = self.seconds / count if count else 0.0
        return (f"{self.assignment}: {count} submissions in {self.seconds:.1f} s "
                f"({per:.2f} s each): graded {self.graded}, crashed {self.crashed}, "
                f"failed to run {self.failed}, late {self.late}")


def course_directory(root):
    """nbgrader's CourseDirectory for ``root``, reading ``root/nbgrader_config.py`` if any."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    root = os.path.abspath(root)
    config = Config()
    if os.path.exists(os.path.join(root, "nbgrader_config.py")):
        config = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
    for key, value in (("source_directory", "solutions"), ("release_directory", "assignments")):
        if key not in config.CourseDirectory:
            config.CourseDirectory[key] = value
    return CourseDirectory(config=config, root=root)


def collect(coursedir, assignment, source, notebook_names):
    """Copy notebooks from a zip file or folder into ``submitted/``; returns the student ids.

    A single-notebook assignment accepts ``STUDENT.ipynb``; any assignment accepts
    ``STUDENT/NOTEBOOK.ipynb``. Files are copied as bytes (never parsed here) with a
    ``timestamp.txt`` taken from the file's modification time.
    """
    with tempfile.TemporaryDirectory() as scratch:
        folder = _unzip(source, scratch) if zipfile.is_zipfile(source) else source
        entries = sorted(os.listdir(folder))
        if len(entries) == 1 and os.path.isdir(os.path.join(folder, entries[0])) and not any(
                n + ".ipynb" in os.listdir(os.path.join(folder, entries[0]))
                for n in notebook_names):
            folder = os.path.join(folder, entries[0])  # one top folder, not a student's
        students = []
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            if os.path.isfile(path) and entry.endswith(".ipynb") and len(notebook_names) == 1:
                files = {notebook_names[0] + ".ipynb": path}
                student = entry[: -len(".ipynb")]
            elif os.path.isdir(path):
                files = {name: os.path.join(path, name) for name in os.listdir(path)
                         if name.endswith(".ipynb")}
                student = entry
            else:
                continue
            student = UNSAFE_ID.sub("_", student).strip("._") or "unnamed"
            target = coursedir.format_path(coursedir.submitted_directory, student, assignment)
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(target)
            for name, file_path in files.items():
                shutil.copyfile(file_path, os.path.join(target, name))
            mtime = max(os.path.getmtime(p) for p in files.values()) if files else time.time()
            with open(os.path.join(target, "timestamp.txt"), "w") as f:
                f.write(datetime.fromtimestamp(mtime, timezone.utc).strftime(TIMESTAMP_FORMAT))
            students.append(student)
    return students


def _unzip(path, destination):
    """Extract the notebooks of a zip file safely (no paths outside, no oversized files)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if (info.is_dir() or not name.endswith(".ipynb") or ".." in parts
                    or name.startswith("/") or "__MACOSX" in parts
                    or info.file_size > MAX_NOTEBOOK_BYTES):
                continue
            target = os.path.join(destination, *parts)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            stamp = time.mktime((*info.date_time, 0, 0, -1))
            os.utime(target, (stamp, stamp))
    return destination


def find_submissions(coursedir, assignment, students=None):
    """The submissions of ``assignment`` in ``submitted/``, sorted by student id."""
    pattern = coursedir.format_path(coursedir.submitted_directory, "*", assignment)
    found = []
    for path in sorted(glob.glob(pattern)):
        student = os.path.basename(os.path.dirname(path))
        if students and student not in students or not os.path.isdir(path):
            continue
        found.append(Submission(student, path, _read_timestamp(path)))
    return found


def _read_timestamp(path):
    try:
        with open(os.path.join(path, "timestamp.txt")) as f:
            text = f.read(100).strip()
        datetime.strptime(text.replace(" UTC", ""), "%Y-%m-%d %H:%M:%S.%f")
        return text
    except (OSError, ValueError):
        stamp = os.path.getmtime(path)
        return datetime.fromtimestamp(stamp, timezone.utc).strftime(TIMESTAMP_FORMAT)


def _grade_job(specs, submission, workdir, limits):
    """Runs in a pool process (or in this one with one worker): grade, render the feedback.

    Returns (results, pages): a NotebookResult and the student's feedback HTML per notebook.
    """
    try:
        results = grade_submission(specs, submission.path, workdir, limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    pages = [feedback.to_html(feedback.feedback_notebook(spec, result, submission.student))
             for spec, result in zip(specs, results, strict=True)]
    return results, pages


def grade(assignment, root=".", source=None, db_url=None, workers=1, limits=None,
          students=None, csv_path=None, duedate=None, progress=True, out=sys.stdout):
    """Grade every submission of ``assignment``; returns a :class:`Summary`."""
    start = time.monotonic()
    limits = limits or Limits()
    coursedir = course_directory(root)
    source_dir = coursedir.format_path(coursedir.source_directory, ".", assignment)
    release_dir = coursedir.format_path(coursedir.release_directory, ".", assignment)
    specs = load_assignment(source_dir, release_dir)
    if source is not None:
        collected = collect(coursedir, assignment, source, [s.name for s in specs])
        students = students or collected
    submissions = find_submissions(coursedir, assignment, students)
    db_url = db_url or coursedir.db_url
    summary = Summary(assignment)
    scratch = tempfile.mkdtemp(prefix="course-grade-")
    with gradebook.open_gradebook(db_url) as book:
        gradebook.register_assignment(book, db_url, assignment, specs, duedate)
        bar = tqdm(total=len(submissions), desc=f"grading {assignment}", unit="submission",
                   file=sys.stderr, disable=not progress)
        jobs = [(specs, s, os.path.join(scratch, str(i)), limits)
                for i, s in enumerate(submissions)]
        try:
            for submission, graded, error in _run(jobs, workers):
                try:
                    _store(book, coursedir, assignment, specs, submission, graded, error,
                           summary)
                except Exception as problem:  # noqa: BLE001 - the run goes on
                    book.db.rollback()
                    summary.failed += 1
                    summary.statuses[submission.student] = f"failed (not recorded: {problem})"
                bar.update()
                bar.write(f"  {submission.student}: {summary.statuses[submission.student]}",
                          file=out)
        finally:
            bar.close()
            shutil.rmtree(scratch, ignore_errors=True)
        summary.csv_path = csv_path or os.path.join(coursedir.root, f"grades_{assignment}.csv")
        _write_csv(summary.csv_path, gradebook.submission_rows(book, assignment),
                   _statuses(coursedir, assignment))
    summary.seconds = time.monotonic() - start
    print(summary.line(), file=out)
    print(f"grades: {summary.csv_path}", file=out)
    return summary


def _run(jobs, workers):
    """Yield (submission, results or None, error text or None) as submissions finish."""
    if workers <= 1:
        for job in jobs:
            try:
                yield job[1], _grade_job(*job), None
            except Exception as error:  # noqa: BLE001 - one submission never stops the run
                yield job[1], None, f"{type(error).__name__}: {error}"
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(_grade_job, *job): job[1] for job in jobs}
        for future in as_completed(futures):
            try:
                yield futures[future], future.result(), None
            except Exception as error:  # noqa: BLE001 - one submission never stops the run
                yield futures[future], None, f"{type(error).__name__}: {error}"


def _store(book, coursedir, assignment, specs, submission, graded, error, summary):
    """Record one graded submission: gradebook, instructor copy, feedback, summary."""
    student = submission.student
    if graded is None:
        results = [failed_result(spec, f"grading failed: {error}") for spec in specs]
        pages = [feedback.to_html(feedback.feedback_notebook(spec, result, student))
                 for spec, result in zip(specs, results, strict=True)]
    else:
        results, pages = graded
    gradebook.record(book, assignment, student, submission.timestamp, specs, results)
    statuses = [r.status for r in results]
    status = "failed" if "failed" in statuses else "crashed" if "crashed" in statuses else \
        "graded"
    setattr(summary, status, getattr(summary, status) + 1)
    if book.find_submission(assignment, student).total_seconds_late > 0:
        summary.late += 1
    earned = sum(sum(r.scores.values()) for r in results)
    possible = sum(cell.points for spec in specs for cell in spec.tests)
    reasons = "; ".join(f"{r.notebook}: {r.reason}" for r in results if r.reason)
    summary.statuses[student] = f"{status} {earned:g}/{possible:g}" + (
        f" ({reasons})" if reasons else "")
    autograded = coursedir.format_path(coursedir.autograded_directory, student, assignment)
    feedback_dir = coursedir.format_path(coursedir.feedback_directory, student, assignment)
    os.makedirs(autograded, exist_ok=True)
    os.makedirs(feedback_dir, exist_ok=True)
    with open(os.path.join(autograded, "timestamp.txt"), "w") as f:
        f.write(submission.timestamp)
    with open(os.path.join(autograded, "grading.json"), "w") as f:
        json.dump({"status": status, "notebooks": [asdict(r) for r in results]}, f, indent=1)
    for spec, result, page in zip(specs, results, pages, strict=True):
        nbformat.write(feedback.feedback_notebook(spec, result, student, hidden=True),
                       os.path.join(autograded, spec.name + ".ipynb"))
        with open(os.path.join(feedback_dir, spec.name + ".html"), "w") as f:
            f.write(page)


def _statuses(coursedir, assignment):
    """{student: (status, reasons)} from the grading.json files of every graded submission."""
    statuses = {}
    pattern = coursedir.format_path(coursedir.autograded_directory, "*", assignment)
    for path in glob.glob(os.path.join(pattern, "grading.json")):
        student = os.path.basename(os.path.dirname(os.path.dirname(path)))
        with open(path) as f:
            data = json.load(f)
        reasons = "; ".join(n["reason"] for n in data["notebooks"] if n["reason"])
        failed = sorted({c["reason"] for n in data["notebooks"] for c in n["checks"]
                         if not c["passed"]})
        statuses[student] = (data["status"], reasons or ", ".join(failed))
    return statuses


def _write_csv(path, rows, statuses):
    columns = ["student_id", "timestamp", "seconds_late", "score", "max_score", "status",
               "reasons"]
    for row in rows:
        columns += [key for key in row if key not in columns]
        row["status"], row["reasons"] = statuses.get(row["student_id"], ("", ""))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
