"""The ``course`` command: ``course tour`` (the main job), ``course doctor``, ``course grade``."""

import argparse
import sys


def main(argv=None):
    """Parse ``argv`` and run one ``course`` subcommand (no lecture: the ``course`` command)."""
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    from course.tour import STEPS

    tour = commands.add_parser("tour", help="train the course's models on the bundled data")
    tour.add_argument("--models", default=",".join(STEPS),
                      help=f"comma-separated steps to run (default: all of {','.join(STEPS)})")
    tour.add_argument("--out", default="runs/tour", help="folder for figures and checkpoints")
    tour.add_argument("--device", default="cpu", choices=["cpu", "cuda"])

    commands.add_parser("doctor", help="report Python, numpy, Numba, CuPy and the GPU")

    from course.grading.cli import add_grade_parser

    add_grade_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "tour":
        from course.tour import run_tour

        run_tour([m for m in args.models.split(",") if m], args.out, args.device)
    elif args.command == "doctor":
        from course.doctor import report

        print("\n".join(report()))
    elif args.command == "grade":
        return args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
