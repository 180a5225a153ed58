"""The ``course`` command: ``course tour`` (the main job), ``course doctor``, ``course grade``,
``course site``."""

import argparse
import sys


def main(argv=None):
    """Parse ``argv`` and run one ``course`` subcommand (no lecture: the ``course`` command)."""
    parser = argparse.ArgumentParser(prog="course", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    tour = commands.add_parser("tour", help="train the course's models on the bundled data")
    tour.add_argument("--models", default=None,
                      help="comma-separated steps to run: mlp, lenet5, resnet, captioning, "
                           "unet (default: all)")
    tour.add_argument("--out", default="runs/tour", help="folder for figures and checkpoints")
    tour.add_argument("--device", default="cpu", choices=["cpu", "cuda"])

    commands.add_parser("doctor", help="report Python, numpy, Numba, CuPy and the GPU")

    site = commands.add_parser("site", help="build the course website (lectures, assignments, "
                                            "API, instructor guide) into build/site/")
    site.add_argument("--out", default=None, help="folder for the HTML (default: build/site)")
    site.add_argument("--jobs", type=int, default=1, help="Sphinx's parallel jobs")

    from course.grading.cli import add_grade_parser

    add_grade_parser(commands)

    args = parser.parse_args(argv)
    if args.command == "tour":
        try:
            from course.tour import STEPS, run_tour
        except ModuleNotFoundError as error:  # a library-only install (pip install course)
            parser.error(f"course tour draws its figures with {error.name}, which is not "
                         "installed: pip install 'course[lectures]'")
        models = list(STEPS) if args.models is None else [m for m in args.models.split(",") if m]
        run_tour(models, args.out, args.device)
    elif args.command == "doctor":
        from course.doctor import report

        print("\n".join(report()))
    elif args.command == "site":
        try:
            from course.site import build_site

            build_site(args.out, jobs=args.jobs)
        except ModuleNotFoundError as error:  # installed without the site extra
            parser.error(f"course site needs {error.name}, which is not installed: "
                         "pip install 'course[site]'")
    elif args.command == "grade":
        return args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
