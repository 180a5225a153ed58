"""Convolution layers as modules: ``Conv2d`` and ``ConvTranspose2d`` (lecture 3).

Each module calls its op pair, keeps the cache, and in ``backward`` adds the gradients of its
weight and bias and returns the gradient of its input. PyTorch's extra options (``dilation``,
``groups``, ``output_padding``) are ops of their own (``course/ops/conv_general.py``); a plain
convolution runs ``ops.conv2d_forward``, the op of assignment a2 (so that ``use("mine")``
runs the student's).
"""

import numpy as np

from course import ops
from course.nn.init import init_weight
from course.nn.layers import AffineOpModule
from course.nn.module import Parameter
from course.ops.checks import (
    check_bool,
    check_int_pair,
    check_nonnegative_int,
    check_positive_int,
)


def _conv2d_forward(x, w, b, stride, padding, dilation, groups):
    """``ops.conv2d_forward`` for a plain convolution, ``ops.conv2d_general_forward`` for one
    with dilation or groups; the cache records which."""
    if dilation == (1, 1) and groups == 1:
        out, cache = ops.conv2d_forward(x, w, b, stride, padding)
        return out, (ops.conv2d_backward, cache)
    out, cache = ops.conv2d_general_forward(x, w, b, stride, padding, dilation, groups)
    return out, (ops.conv2d_general_backward, cache)


def _conv2d_backward(dout, cache, *, need_dx=True, need_dw=True, need_db=True):
    """The backward of the op that :func:`_conv2d_forward` ran: dx, dw, db (None where
    ``need_*`` is False)."""
    backward, cache = cache
    if need_dx and need_dw and need_db:  # use("mine")'s conv2d_backward takes (dout, cache)
        return backward(dout, cache)
    return backward(dout, cache, need_dx=need_dx, need_dw=need_dw, need_db=need_db)


class _ConvBase(AffineOpModule):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, bias):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        check_bool("bias", bias)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = check_int_pair("kernel_size", kernel_size, 1)
        self.stride = check_int_pair("stride", stride, 1)
        self.padding = self._padding(padding)

    def _padding(self, padding):
        return check_int_pair("padding", padding, 0)

    def op_params(self):
        return {"stride": self.stride, "padding": self.padding}

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}"
                + ("" if self.bias is not None else ", bias=False"))


class Conv2d(_ConvBase):
    """2-D convolution (lecture 3): x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo).

    Args:
        in_channels, out_channels: C and F; ``weight`` is (F, C, KH, KW), ``bias`` (F,).
        kernel_size, stride: an int or a pair (height, width).
        padding: an int, a pair, or ``"same"`` (stride 1 and odd kernel sizes: the output
            keeps the input's height and width), as in PyTorch.
        dilation: spacing of the kernel's taps (an int or a pair), as in PyTorch.
        groups: split the channels into this many independent convolutions; ``weight`` is
            then (F, C / groups, KH, KW).
        bias: False for a convolution without bias.
        init: ``"he"`` (ReLU networks) or ``"xavier"``; fan_in = C * KH * KW.
        rng: seed or ``numpy.random.Generator`` for the initial weights.
    """

    forward_op = staticmethod(_conv2d_forward)
    backward_op = staticmethod(_conv2d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, init="he", rng=None, dtype=np.float32):
        self.dilation = check_int_pair("dilation", dilation, 1)
        check_positive_int("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups ({groups}) must divide in_channels ({in_channels}) and "
                             f"out_channels ({out_channels})")
        self.groups = groups
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias)
        kh, kw = self.kernel_size
        c_group = in_channels // groups
        self.weight = Parameter(init_weight((out_channels, c_group, kh, kw), c_group * kh * kw,
                                            out_channels * kh * kw, init, rng, dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None

    def op_params(self):
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation,
                "groups": self.groups}

    def extra_repr(self):
        extra = "" if self.dilation == (1, 1) else f", dilation={self.dilation}"
        extra += "" if self.groups == 1 else f", groups={self.groups}"
        return super().extra_repr() + extra

    def _padding(self, padding):
        if not (isinstance(padding, str) and padding == "same"):
            if isinstance(padding, str):
                raise ValueError(f"padding must be an int, a pair or 'same', got {padding!r}")
            return check_int_pair("padding", padding, 0)
        spans = [(k - 1) * d for k, d in zip(self.kernel_size, self.dilation, strict=True)]
        if self.stride != (1, 1) or any(span % 2 for span in spans):
            raise ValueError(f"padding='same' needs stride 1 and an even (kernel_size - 1) * "
                             f"dilation (the ops pad both sides equally), got kernel_size "
                             f"{self.kernel_size}, dilation {self.dilation} and stride "
                             f"{self.stride}")
        return spans[0] // 2, spans[1] // 2

    def bias_size(self):
        return self.out_channels


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution (PyTorch's) (lecture 3): x (N, in_channels, H, W) ->
    (N, out_channels, (H - 1) * SH - 2 * PH + KH, ...), used to upsample.

    Args:
        in_channels, out_channels: C_in and C_out; ``weight`` is (C_in, C_out, KH, KW) as in
            PyTorch, ``bias`` (C_out,).
        kernel_size, stride, padding: an int or a pair (height, width).
        output_padding: rows and columns added at the bottom and right (each below the
            stride), as in PyTorch, to reach an exact output size.
        bias: False for a layer without bias.
        init: ``"he"`` or ``"xavier"``; each output pixel sums about
            C_in * KH * KW / (SH * SW) products, which is the fan_in used.
        rng: seed or ``numpy.random.Generator`` for the initial weights.
    """

    forward_op = staticmethod(ops.conv_transpose2d_general_forward)
    backward_op = staticmethod(ops.conv_transpose2d_general_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, bias=True, init="he", rng=None, dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, bias)
        self.output_padding = check_int_pair("output_padding", output_padding, 0)
        if any(o >= s for o, s in zip(self.output_padding, self.stride, strict=True)):
            raise ValueError(f"output_padding must be smaller than the stride {self.stride}, "
                             f"got {self.output_padding}")
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        fan_in = max(1.0, in_channels * kh * kw / (sh * sw))
        self.weight = Parameter(init_weight((in_channels, out_channels, kh, kw), fan_in,
                                            out_channels * kh * kw, init, rng, dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None

    def op_params(self):
        return {"stride": self.stride, "padding": self.padding,
                "output_padding": self.output_padding}

    def bias_size(self):
        return self.out_channels


class Conv1d(AffineOpModule):
    """1-D convolution over sequences (lecture 6c): x (N, in_channels, L) -> (N, out_channels, Lo).

    Args:
        in_channels, out_channels: C and F; ``weight`` is (F, C, K), ``bias`` (F,).
        kernel_size, stride, padding: ints.
        bias: False for a layer without bias (the op gets zeros).
        init: ``"he"`` or ``"xavier"``; fan_in = C * K.
        rng: seed or ``numpy.random.Generator`` for the initial weights.
    """

    forward_op = staticmethod(ops.conv1d_forward)
    backward_op = staticmethod(ops.conv1d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True,
                 init="he", rng=None, dtype=np.float32):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels),
                            ("kernel_size", kernel_size), ("stride", stride)):
            check_positive_int(name, value)
        check_nonnegative_int("padding", padding)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.weight = Parameter(init_weight((out_channels, in_channels, kernel_size),
                                            in_channels * kernel_size,
                                            out_channels * kernel_size, init, rng, dtype))
        check_bool("bias", bias)
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype)) if bias else None

    def op_params(self):
        return {"stride": self.stride, "padding": self.padding}

    def bias_size(self):
        return self.out_channels

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
