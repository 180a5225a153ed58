"""The ``course grade`` subcommand (wired into ``course/cli.py``; or ``python -m course.grading``).

    course grade a1_backprop                       # everything in submitted/, sandboxed
    course grade a1_backprop --from class.zip      # collect a zip of STUDENT.ipynb first
    course grade a1_backprop --workers 2 --timeout 30 --memory 2048
    course grade a1_backprop --cluster tcp://scheduler:8786    # a Dask cluster's workers
    course grade a1_backprop --similarity          # report look-alike answers (no grading)
"""

import argparse
import sys

from course.grading.autograde import Limits


def add_grade_parser(subparsers):
    """Add ``grade`` to an argparse subparsers object; returns its parser."""
    parser = subparsers.add_parser(
        "grade", help="autograde an assignment: collect, grade, feedback, grades CSV",
        description="Autograde every submission of ASSIGNMENT with nbgrader's gradebook. "
                    "Student code runs in a bubblewrap sandbox with limits; scores are "
                    "computed by a separate interpreter from plain data.")
    _add_arguments(parser)
    parser.set_defaults(func=run_grade)
    return parser


def _add_arguments(parser):
    parser.add_argument("assignment", help="assignment name, e.g. a1_backprop")
    parser.add_argument("--root", default=".", help="course root (default: current folder)")
    parser.add_argument("--from", dest="source", metavar="PATH",
                        help="zip file or folder of notebooks named by student to collect first")
    parser.add_argument("--student", action="append", dest="students", metavar="ID",
                        help="grade only this student (repeatable)")
    parser.add_argument("--workers", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="grade on a Dask distributed cluster (scheduler address, e.g. "
                             "tcp://host:8786); needs `pip install distributed`")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per test")
    parser.add_argument("--cell-timeout", type=float, default=60.0,
                        help="seconds per submitted code cell")
    parser.add_argument("--submission-timeout", type=float, default=300.0,
                        help="wall-clock seconds for everything of one submission")
    parser.add_argument("--memory", type=int, default=2048,
                        help="memory limit of each process of a grading kernel, MiB "
                             "(address space)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run submissions WITHOUT the bubblewrap sandbox (unsafe: they can "
                             "read and change anything the grader can); marked in the CSV")
    parser.add_argument("--similarity", action="store_true",
                        help="do not grade: write similarity_ASSIGNMENT.csv, the submissions "
                             "whose graded functions match the library's or another's")
    parser.add_argument("--db", dest="db_url", help="gradebook URL (default: nbgrader's "
                        "sqlite:///gradebook.db; e.g. postgresql://user@host/course)")
    parser.add_argument("--csv", dest="csv_path", help="grades CSV (default: "
                        "grades_ASSIGNMENT.csv in the course root)")
    parser.add_argument("--duedate", help="due date to record, e.g. '2026-11-30 23:59:00 UTC'")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_grade(args):
    """Run ``course grade`` for parsed arguments; returns the exit status."""
    from course.grading.sandbox import SandboxUnavailable

    if args.similarity:
        from course.grading.similarity import report

        report(args.assignment, root=args.root, csv_path=args.csv_path)
        return 0
    from course.grading.pipeline import grade

    limits = Limits(test_timeout=args.timeout, cell_timeout=args.cell_timeout,
                    submission_timeout=args.submission_timeout, memory=args.memory * 2**20,
                    sandbox=not args.no_sandbox)
    try:
        summary = grade(args.assignment, root=args.root, source=args.source,
                        db_url=args.db_url, workers=args.workers, limits=limits,
                        students=args.students, csv_path=args.csv_path, duedate=args.duedate,
                        progress=not args.quiet, cluster=args.cluster)
    except SandboxUnavailable as error:
        print(f"course grade: {error}", file=sys.stderr)
        return 2
    return 0 if summary.statuses else 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m course.grading")
    _add_arguments(parser)
    return run_grade(parser.parse_args(argv))
