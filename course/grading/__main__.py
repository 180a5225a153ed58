"""``python -m course.grading ASSIGNMENT ...``: the same as ``course grade``."""

import sys

from course.grading.cli import main

sys.exit(main())
