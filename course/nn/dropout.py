"""``Dropout`` as a module (lecture 5, dropout): active in training, the identity in eval mode."""

from course import ops
from course.nn.init import make_rng
from course.nn.module import Module
from course.ops.checks import check_number


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` (lecture 5).

    Args:
        p: probability of dropping each value, in [0, 1).
        rng: None, a seed or a ``numpy.random.Generator``; turned into one Generator here, so
            each forward pass draws a new mask and a seed makes the sequence of masks
            reproducible. None draws it from ``course.manual_seed``'s source.
    """

    def __init__(self, p=0.5, rng=None):
        super().__init__()
        check_number("p", p, low=0, high=1, high_inclusive=False)
        self.p = p
        self.rng = make_rng(rng)

    def forward(self, x):
        return self.call_op(ops.dropout_forward, ops.dropout_backward, x, p=self.p,
                            train=self.training, rng=self.rng)

    def backward(self, dout):
        return ops.dropout_backward(dout, self.recall())

    def extra_repr(self):
        return f"p={self.p}"
