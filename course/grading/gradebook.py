"""Autograded scores into nbgrader's gradebook, keeping what graders typed (``course grade``).

The gradebook is nbgrader's own database (:class:`nbgrader.api.Gradebook`), so the formgrader,
``nbgrader export`` and manual grading all see these scores. SQLite is the default
(``sqlite:///gradebook.db`` in the course root); any SQLAlchemy URL works, for example
``postgresql://user:password@host/course`` for a large class (install ``psycopg2``).

Only ``auto_score`` and ``auto_comment`` are written: a grader's ``manual_score`` and
``manual_comment`` survive any number of re-runs, and a cell whose automatic score changed
under a manual grade is marked for review.
"""

import copy
import os
import sys
import warnings

from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ComputeChecksums, SaveCells
from sqlalchemy.exc import SAWarning

from course.grading.notebook import cell_kind, grade_id


def open_gradebook(db_url):
    """Open (creating if needed) the gradebook at ``db_url``."""
    # nbgrader runs the `alembic` command of its own environment to stamp a new database
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return Gradebook(db_url)


def register_assignment(gradebook, db_url, assignment, specs, duedate=None):
    """Make sure the assignment, its notebooks and cells are in the gradebook.

    An assignment released with ``nbgrader generate_assignment`` is there already; otherwise
    its cells are saved from the release notebook (or the source) by nbgrader's SaveCells.
    """
    kwargs = {"duedate": utils.parse_utc(duedate)} if duedate else {}
    record = gradebook.update_or_create_assignment(assignment, **kwargs)
    known = {notebook.name for notebook in record.notebooks}
    for spec in specs:
        if spec.name in known:
            continue
        nb = copy.deepcopy(spec.release if spec.release is not None else spec.source)
        resources = {"nbgrader": {"notebook": spec.name, "assignment": assignment,
                                  "db_url": db_url}}
        nb, resources = ComputeChecksums().preprocess(nb, resources)
        SaveCells().preprocess(nb, resources)
    gradebook.db.expire_all()


def record(gradebook, assignment, student, timestamp, specs, results):
    """Write one submission's automatic scores and comments; manual ones are left alone."""
    gradebook.update_or_create_student(student)
    with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy 2 warnings
        warnings.simplefilter("ignore", SAWarning)
        gradebook.update_or_create_submission(assignment, student, timestamp=timestamp)
    for spec, result in zip(specs, results, strict=True):
        notebook = gradebook.find_submission_notebook(spec.name, assignment, student)
        if result.status != "graded":
            notebook.flagged = True
        for gid, score in result.scores.items():
            grade = gradebook.find_grade(gid, spec.name, assignment, student)
            changed = grade.auto_score is not None and grade.auto_score != score
            grade.auto_score = score
            grade.needs_manual_grade = grade.manual_score is not None and (
                changed or grade.needs_manual_grade)
        _record_answers(gradebook, assignment, student, spec, result)
    gradebook.db.commit()


def _record_answers(gradebook, assignment, student, spec, result):
    """Answer cells: "No response." when left as released; written answers await a grader."""
    template = spec.release if spec.release is not None else spec.source
    for cell in template.cells:
        if cell_kind(cell) != "answer":
            continue
        gid = grade_id(cell)
        answered = copy.deepcopy(cell)
        answered.source = result.answers.get(gid, cell.source)
        checksum = cell.metadata.nbgrader.get("checksum")
        unchanged = gid not in result.answers or (
            checksum is not None and checksum == utils.compute_checksum(answered))
        try:
            comment = gradebook.find_comment(gid, spec.name, assignment, student)
        except MissingEntry:
            comment = None
        if comment is not None:
            comment.auto_comment = "No response." if unchanged else None
        if utils.is_grade(cell):
            grade = gradebook.find_grade(gid, spec.name, assignment, student)
            grade.auto_score = 0.0 if unchanged else None
            grade.needs_manual_grade = grade.auto_score is None and grade.manual_score is None


def submission_rows(gradebook, assignment):
    """One dict per submission of ``assignment`` with total and per-cell scores (for the CSV)."""
    rows = []
    for submission in gradebook.find_assignment(assignment).submissions:
        row = {"student_id": submission.student.id, "timestamp": submission.timestamp or "",
               "seconds_late": round(submission.total_seconds_late, 1),
               "score": round(submission.score, 4), "max_score": submission.max_score}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                row[f"{notebook.name}:{grade.name}"] = round(grade.score, 4)
        rows.append(row)
    return sorted(rows, key=lambda row: row["student_id"])
