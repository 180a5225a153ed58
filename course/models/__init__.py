"""Ready-made networks."""

from course.models.lenet5 import lenet5
