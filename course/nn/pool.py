"""Pooling layers as modules: ``MaxPool2d``, ``AvgPool2d``, ``GlobalAvgPool2d`` (lecture 4)."""

from course import ops
from course.nn.layers import OpModule
from course.ops.checks import check_int_pair


class _Pool2d(OpModule):
    def __init__(self, size, stride=None):
        size = check_int_pair("size", size, 1)
        stride = size if stride is None else check_int_pair("stride", stride, 1)
        super().__init__(size=size, stride=stride)


class MaxPool2d(_Pool2d):
    """Maximum over windows of ``size`` (an int or a pair) moved by ``stride`` (default size)
    (lecture 4)."""

    forward_op = staticmethod(ops.max_pool2d_forward)
    backward_op = staticmethod(ops.max_pool2d_backward)


class AvgPool2d(_Pool2d):
    """Mean over windows of ``size`` (an int or a pair) moved by ``stride`` (default size)
    (lecture 4)."""

    forward_op = staticmethod(ops.avg_pool2d_forward)
    backward_op = staticmethod(ops.avg_pool2d_backward)


class GlobalAvgPool2d(OpModule):
    """Mean of each channel over all pixels (lecture 4): (N, C, H, W) -> (N, C)."""

    forward_op = staticmethod(ops.global_avg_pool2d_forward)
    backward_op = staticmethod(ops.global_avg_pool2d_backward)
