"""Ready-made networks built from ``course.nn``."""

from course.models.mlp import mlp
