"""Ready-made networks built from ``course.nn``."""

from course.models.captioning import CaptioningModel
from course.models.mlp import mlp
