"""A check that belongs to no assignment: the grading pipeline's own tests use it.

``check("selftest.square", square, n=5)`` asks for ``square(x) -> x ** 2`` on a float64 vector.
It lets ``tests/test_grading_*.py`` grade small notebooks of their own in seconds, whatever
the course's assignments hold.
"""


from course.grading.checks import VALUE_TOL, Check, as_output, compare, copies, register


class SquareCheck(Check):
    """``square(x)`` against ``x ** 2``."""

    def __init__(self):
        super().__init__("selftest.square", ("square",), (), {"n": 5})

    def make(self, rng, n):
        return {"x": rng.standard_normal(n)}

    def call(self, functions, inputs):
        (square,) = functions
        (x,) = copies(inputs, ("x",))
        return {"y": as_output(square(x), "square's result")}

    def judge(self, inputs, outputs, **options):
        return compare([("y", outputs["y"], inputs["x"] ** 2, "the reference")], VALUE_TOL,
                       self.label, "wrong value")


register(SquareCheck())
