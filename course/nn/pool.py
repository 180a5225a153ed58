"""Pooling layers as modules: ``MaxPool2d``, ``AvgPool2d``, ``GlobalAvgPool2d`` (lecture 4).

Arguments follow PyTorch: ``MaxPool2d(kernel_size, stride=None, padding=0)``. The ops pool
without padding; a padded layer pads its input first (with -inf for the maximum, zeros for the
mean, as PyTorch's default ``count_include_pad=True``) and crops the padding off the gradient.
"""

from course import ops
from course.backend import get_array_module
from course.nn.layers import OpModule
from course.ops.checks import check_float_array, check_int_pair


def _pad(x, padding, fill):
    (ph, pw), xp = padding, get_array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)


def _crop(dx, padding, shape):
    (ph, pw) = padding
    return dx[:, :, ph:ph + shape[2], pw:pw + shape[3]]


def _padded_pair(forward_op, backward_op, fill):
    """A pooling op pair that takes ``padding``: pad, pool; on the way back, crop."""
    def forward(x, size, stride, padding):
        if padding == (0, 0):
            out, cache = forward_op(x, size, stride)
        else:
            check_float_array("x", x, ndim=4)
            out, cache = forward_op(_pad(x, padding, fill), size, stride)
        return out, (cache, padding, x.shape)

    def backward(dout, cache):
        inner, padding, shape = cache
        dx = backward_op(dout, inner)
        return dx if padding == (0, 0) else _crop(dx, padding, shape).copy()
    forward.__name__ = forward_op.__name__
    return staticmethod(forward), staticmethod(backward)


class _Pool2d(OpModule):
    def __init__(self, kernel_size=None, stride=None, padding=0, *, size=None):
        # ``size`` is the name the course used before PyTorch's ``kernel_size``: either works
        if (kernel_size is None) == (size is None):
            raise TypeError("give the window as kernel_size (or its older name size), once")
        kernel_size = check_int_pair("kernel_size", size if kernel_size is None else kernel_size,
                                     1)
        stride = kernel_size if stride is None else check_int_pair("stride", stride, 1)
        padding = check_int_pair("padding", padding, 0)
        if padding[0] * 2 > kernel_size[0] or padding[1] * 2 > kernel_size[1]:
            raise ValueError(f"padding must be at most half the kernel size {kernel_size}, "
                             f"got {padding}")
        super().__init__(size=kernel_size, stride=stride, padding=padding)

    @property
    def kernel_size(self):
        return self.params["size"]


class MaxPool2d(_Pool2d):
    """Maximum over windows of ``kernel_size`` (an int or a pair) moved by ``stride`` (default
    kernel_size), after ``padding`` with -inf on each side (lecture 4)."""

    forward_op, backward_op = _padded_pair(ops.max_pool2d_forward, ops.max_pool2d_backward,
                                           float("-inf"))


class AvgPool2d(_Pool2d):
    """Mean over windows of ``kernel_size`` (an int or a pair) moved by ``stride`` (default
    kernel_size), after ``padding`` with zeros (counted in the mean) (lecture 4)."""

    forward_op, backward_op = _padded_pair(ops.avg_pool2d_forward, ops.avg_pool2d_backward, 0)


class GlobalAvgPool2d(OpModule):
    """Mean of each channel over all pixels (lecture 4): (N, C, H, W) -> (N, C)."""

    forward_op = staticmethod(ops.global_avg_pool2d_forward)
    backward_op = staticmethod(ops.global_avg_pool2d_backward)
