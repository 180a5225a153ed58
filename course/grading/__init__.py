"""Checks that the assignments' test cells call (issue 6); the grading pipeline reuses them.

    from course.grading import check
    check("a1.linear_forward", linear_forward)

See :mod:`course.grading.checks` for the three steps each check is made of.
"""

import course.grading.a6_fast_kernels  # noqa: F401 - registers assignment 6's checks
from course.grading.checks import CHECKS, Check, Result, check

__all__ = ["CHECKS", "Check", "Result", "check"]

import course.grading.a5_understanding  # noqa: E402, F401 - registers the "a5." checks
