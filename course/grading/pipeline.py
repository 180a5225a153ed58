"""``course grade ASSIGNMENT``: collect, autograde, feedback, export, for a whole class.

The course directory is nbgrader's (``nbgrader_config.py`` in the course root is read; source
``solutions/`` and release ``assignments/`` by default). Submissions come from nbgrader's
``submitted/STUDENT/ASSIGNMENT/`` folders, or are first collected there from a zip file or a
folder of notebooks named by student (``alice.ipynb``, or ``alice/NOTEBOOK.ipynb``).

Each submission is graded by :func:`course.grading.autograde.grade_submission` (one sandboxed
kernel per notebook, limits per test and per submission) in a worker process: ``workers`` of
them on this machine, or tasks on a Dask cluster (``cluster``). A worker gets the notebooks'
bytes and returns plain results; a worker that dies is replaced and its submission retried once,
alone, then recorded as failed with the reason. Only this process writes: the scores to
nbgrader's gradebook, the instructor's annotated copy to ``autograded/``, the student's HTML
feedback (without hidden tests) to ``feedback/``, and a table to a CSV file.
"""

import collections
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
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

import nbformat
from tqdm import tqdm

from course.grading import feedback, gradebook, sandbox
from course.grading.autograde import Limits, failed_result, grade_submission, load_assignment
from course.grading.notebook import MAX_NOTEBOOK_BYTES
from course.grading.worker import read_limited

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
    problems: list = field(default_factory=list)  # collection errors and warnings
    csv_path: str = ""
    sandbox: bool = True

    def line(self):
        count = len(self.statuses)
        per = self.seconds / count if count else 0.0
        rate = 60 * count / self.seconds if self.seconds else 0.0
        return (f"{self.assignment}: {count} submissions in {self.seconds:.1f} s "
                f"({per:.2f} s each, {rate:.1f} per minute): graded {self.graded}, crashed "
                f"{self.crashed}, failed to run {self.failed}, late {self.late}")


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


def collect(coursedir, assignment, source, notebook_names, problems=None):
    """Copy notebooks from a zip file or folder into ``submitted/``; returns the student ids.

    A single-notebook assignment accepts ``STUDENT.ipynb``; any assignment accepts
    ``STUDENT/NOTEBOOK.ipynb``. Files are copied as bytes (never parsed here) with a
    ``timestamp.txt`` taken from the file's modification time. Each entry maps to one student
    unambiguously: two entries that map to one ID are an error naming both (neither is
    collected), and directories or other files where a notebook is expected are skipped; each
    problem is a line appended to ``problems``. Nothing here stops the run.
    """
    problems = [] if problems is None else problems
    with tempfile.TemporaryDirectory() as scratch:
        folder = _unzip(source, scratch, problems) if zipfile.is_zipfile(source) else source
        entries = sorted(os.listdir(folder))
        if len(entries) == 1 and os.path.isdir(os.path.join(folder, entries[0])) and not any(
                n + ".ipynb" in os.listdir(os.path.join(folder, entries[0]))
                for n in notebook_names):
            folder = os.path.join(folder, entries[0])  # one top folder, not a student's
        claims = collections.defaultdict(list)  # student id -> [(entry, {name: path})]
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            if os.path.islink(path):
                problems.append(f"warning: skipped {entry}: a link")
            elif os.path.isfile(path) and entry.endswith(".ipynb") and len(notebook_names) == 1:
                student = entry[: -len(".ipynb")]
                claims[_student_id(student)].append((entry, {notebook_names[0] + ".ipynb":
                                                             path}))
            elif os.path.isdir(path):
                files = {}
                for name in sorted(os.listdir(path)):
                    inner = os.path.join(path, name)
                    if name.endswith(".ipynb") and os.path.isfile(inner) \
                            and not os.path.islink(inner):
                        files[name] = inner
                    else:
                        problems.append(f"warning: skipped {entry}/{name}: not a notebook file")
                claims[_student_id(entry)].append((entry + "/", files))
            else:
                problems.append(f"warning: skipped {entry}: not a notebook or a student folder")
        students = []
        for student, found in sorted(claims.items()):
            if len(found) > 1:
                names = " and ".join(entry for entry, _ in found)
                problems.append(f"error: {names} all map to student ID '{student}': none of "
                                f"them was collected (rename them and collect again)")
                continue
            try:
                _store_submission(coursedir, assignment, student, found[0][1])
                students.append(student)
            except OSError as error:
                problems.append(f"error: {found[0][0]} was not collected: {error}")
    return students


def _student_id(name):
    return UNSAFE_ID.sub("_", name).strip("._") or "unnamed"


def _store_submission(coursedir, assignment, student, files):
    target = coursedir.format_path(coursedir.submitted_directory, student, assignment)
    shutil.rmtree(target, ignore_errors=True)
    os.makedirs(target)
    for name, file_path in files.items():
        shutil.copyfile(file_path, os.path.join(target, name))
    mtime = max(os.path.getmtime(p) for p in files.values()) if files else time.time()
    with open(os.path.join(target, "timestamp.txt"), "w") as f:
        f.write(datetime.fromtimestamp(mtime, timezone.utc).strftime(TIMESTAMP_FORMAT))


def _unzip(path, destination, problems):
    """Extract the notebooks of a zip file safely (no paths outside, no oversized files)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if info.is_dir() or "__MACOSX" in parts:
                continue
            if (not name.endswith(".ipynb") or ".." in parts or name.startswith("/")
                    or info.file_size > MAX_NOTEBOOK_BYTES or len(parts) > 3):
                problems.append(f"warning: skipped {name!r} in the zip file: not a notebook "
                                f"of a student (or too large)")
                continue
            target = os.path.join(destination, *parts)
            if any(os.path.isfile(os.path.join(destination, *parts[:i]))
                   for i in range(1, len(parts))) or os.path.isdir(target):
                problems.append(f"warning: skipped {name!r} in the zip file: a notebook "
                                f"inside a notebook")
                continue
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


def _read_submission(submission, specs):
    """``{file name: bytes}`` of the submission's notebooks (None for one that cannot be read:
    not a regular file, or too large) and the names of the other files in its folder."""
    names = sorted(os.listdir(submission.path)) if os.path.isdir(submission.path) else []
    wanted = {spec.name + ".ipynb" for spec in specs}
    notebooks = {name: read_limited(os.path.join(submission.path, name), MAX_NOTEBOOK_BYTES)
                 for name in names if name in wanted}
    return notebooks, [n for n in names if n not in wanted]


def _grade_job(specs, student, notebooks, others, limits):
    """Runs in a worker process (local or on a Dask worker): grade, render the feedback.

    Gets the notebooks as bytes; returns (results, pages): a NotebookResult and the student's
    feedback HTML per notebook.
    """
    from course.grading.notebook import MAX_NOTEBOOK_BYTES as limit

    workdir = tempfile.mkdtemp(prefix="course-grade-")
    os.chmod(workdir, 0o711)  # the sandbox's user passes through to its own folder only
    try:
        folder = os.path.join(workdir, "submission")
        os.makedirs(folder)
        for name in others:
            open(os.path.join(folder, name), "wb").close()  # named in "missing (found: ...)"
        for name, data in notebooks.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data if data is not None else b"x" * (limit + 1))
        results = grade_submission(specs, folder, os.path.join(workdir, "grading"), limits,
                                   _judge())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    pages = [feedback.page(spec, result, student)
             for spec, result in zip(specs, results, strict=True)]
    return results, pages


_JUDGE = None


def _judge():
    """This worker process's judge (a separate ``python -I`` process), started once."""
    global _JUDGE
    if _JUDGE is None:
        from course.grading.judge import Judge

        _JUDGE = Judge()
    return _JUDGE


def grade(assignment, root=".", source=None, db_url=None, workers=1, limits=None,
          students=None, csv_path=None, duedate=None, progress=True, out=sys.stdout,
          cluster=None):
    """Grade every submission of ``assignment``; returns a :class:`Summary`.

    ``cluster``: the address of a Dask distributed scheduler (or a ``distributed.Client``);
    submissions then run as tasks on its workers, each of which must be able to run the
    sandbox. Raises :class:`~course.grading.sandbox.SandboxUnavailable` when the sandbox cannot
    run here and ``limits.sandbox`` is True.
    """
    start = time.monotonic()
    limits = limits or Limits()
    coursedir = course_directory(root)
    source_dir = coursedir.format_path(coursedir.source_directory, ".", assignment)
    release_dir = coursedir.format_path(coursedir.release_directory, ".", assignment)
    specs = load_assignment(source_dir, release_dir)
    summary = Summary(assignment, sandbox=limits.sandbox)
    client = _client(cluster) if cluster is not None else None
    if limits.sandbox and client is None:
        probe_sandbox()
    elif limits.sandbox:
        client.run(probe_sandbox)  # on every worker: raises SandboxUnavailable if one cannot
    else:
        print("WARNING: grading WITHOUT a sandbox (--no-sandbox): submissions run as the "
              "grader's user and can read or change anything it can, including the "
              "gradebook and other students' grades.", file=out)
    if source is not None:
        collected = collect(coursedir, assignment, source, [s.name for s in specs],
                            summary.problems)
        for line in summary.problems:
            print(line, file=out)
        students = students or collected
    submissions = find_submissions(coursedir, assignment, students)
    db_url = db_url or coursedir.db_url
    with gradebook.open_gradebook(db_url) as book:
        gradebook.register_assignment(book, db_url, assignment, specs, duedate)
        bar = tqdm(total=len(submissions), desc=f"grading {assignment}", unit="submission",
                   file=sys.stderr, disable=not progress)
        jobs = []
        for submission in submissions:
            notebooks, others = _read_submission(submission, specs)
            jobs.append((submission, (specs, submission.student, notebooks, others, limits)))
        runner = _run_cluster(jobs, client) if client is not None else _run(jobs, workers)
        try:
            for submission, graded, error in runner:
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
            if client is not None and client is not cluster:
                client.close()
        summary.csv_path = csv_path or os.path.join(coursedir.root, f"grades_{assignment}.csv")
        _write_csv(summary.csv_path, gradebook.submission_rows(book, assignment),
                   _statuses(coursedir, assignment), limits.sandbox)
    summary.seconds = time.monotonic() - start
    print(summary.line(), file=out)
    if not limits.sandbox:
        print("WARNING: graded without a sandbox (the CSV's sandbox column says 'none')",
              file=out)
    print(f"grades: {summary.csv_path}", file=out)
    return summary


DIED = "the grading worker process died while grading it ({}): retried once, alone, and it " \
       "died again"


def _run(jobs, workers, function=None):
    """Yield (submission, results or None, error text or None) as submissions finish.

    ``jobs``: (submission, arguments of ``function``) pairs; ``function`` is
    :func:`_grade_job` unless given. Each submission runs in a worker process (never in this
    one). When a worker dies, every
    submission it may have held is retried once, alone; one that kills its worker again is
    failed with the reason, and the others are not affected.
    """
    function = function or _grade_job
    context = multiprocessing.get_context("spawn")
    workers = max(1, workers)
    pending, suspects = collections.deque(jobs), collections.deque()
    retried = set()
    running = {}  # future -> job
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        while pending or suspects or running:
            if suspects and not running:
                job = suspects.popleft()
                running[pool.submit(function, *job[1])] = job
            while not suspects and pending and len(running) < workers:
                job = pending.popleft()
                running[pool.submit(function, *job[1])] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = []
            for future in done:
                job = running.pop(future)
                try:
                    yield job[0], future.result(), None
                except BrokenProcessPool as error:
                    broken.append((job, error))
                except Exception as error:  # noqa: BLE001 - one submission never stops the run
                    yield job[0], None, f"{type(error).__name__}: {error}"
            if broken:  # the pool is dead: every submission still running was on it
                wait(running, timeout=10)
                for future, job in running.items():
                    if future.done() and future.exception() is None:
                        yield job[0], future.result(), None  # finished before the break
                    else:
                        broken.append((job, None))
                running.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
                for job, error in broken:
                    student = job[0].student
                    if student in retried:
                        yield job[0], None, DIED.format(error or "worker killed")
                    else:
                        retried.add(student)
                        suspects.append(job)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def probe_sandbox():
    """Raise SandboxUnavailable unless a sandbox can run on this machine."""
    with tempfile.TemporaryDirectory() as scratch:
        os.chmod(scratch, 0o711)
        sandbox.probe(scratch)


def _client(cluster):
    """A ``distributed.Client`` for ``cluster`` (an address, or a Client already)."""
    from distributed import Client

    return cluster if isinstance(cluster, Client) else Client(cluster)


def _run_cluster(jobs, client):
    """Like :func:`_run`, with each submission a task on a Dask distributed cluster.

    The scheduler retries a task whose worker died (``distributed.scheduler.allowed-failures``
    decides how often); a task that keeps killing workers ends as ``KilledWorker``, recorded as
    failed. Results come back to this process, which alone writes them.
    """
    from distributed import as_completed

    futures = {client.submit(_grade_job, *job[1], pure=False, retries=1): job for job in jobs}
    for future in as_completed(futures):
        job = futures[future]
        try:
            yield job[0], future.result(), None
        except Exception as error:  # noqa: BLE001 - one submission never stops the run
            yield job[0], None, f"{type(error).__name__}: {error}"
        future.release()


def _store(book, coursedir, assignment, specs, submission, graded, error, summary):
    """Record one graded submission: gradebook, instructor copy, feedback, summary."""
    student = submission.student
    if graded is None:
        results = [failed_result(spec, f"grading failed: {error}") for spec in specs]
        pages = [feedback.page(spec, result, student)
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


def _write_csv(path, rows, statuses, sandboxed=True):
    columns = ["student_id", "timestamp", "seconds_late", "score", "max_score", "status",
               "reasons", "sandbox"]
    for row in rows:
        columns += [key for key in row if key not in columns]
        row["status"], row["reasons"] = statuses.get(row["student_id"], ("", ""))
        row["reasons"] = _cell(row["reasons"])
        row["sandbox"] = "bwrap" if sandboxed else "none (--no-sandbox)"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _cell(text, limit=300):
    """Student-controlled text for a CSV cell: capped, and never read as a spreadsheet formula."""
    text = " ".join(str(text).split())[:limit]
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
