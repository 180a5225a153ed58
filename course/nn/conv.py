"""Convolution layers as modules: ``Conv2d`` and ``ConvTranspose2d`` (lecture 3).

Each module calls its op's forward, keeps the cache, and in ``backward`` fills the gradients
of its weight and bias and returns the gradient of its input.
"""

import numpy as np

from course import ops
from course.nn.init import init_weight
from course.nn.layers import AffineOpModule
from course.nn.module import Parameter
from course.ops.checks import check_int_pair, check_nonnegative_int, check_positive_int


class _ConvBase(AffineOpModule):
    def __init__(self, in_channels, out_channels, kernel_size, stride, padding):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = check_int_pair("kernel_size", kernel_size, 1)
        self.stride = check_int_pair("stride", stride, 1)
        self.padding = check_int_pair("padding", padding, 0)

    def op_params(self):
        return {"stride": self.stride, "padding": self.padding}

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class Conv2d(_ConvBase):
    """2-D convolution (lecture 3): x (N, in_channels, H, W) -> (N, out_channels, Ho, Wo).

    Args:
        in_channels, out_channels: C and F; ``weight`` is (F, C, KH, KW), ``bias`` (F,).
        kernel_size, stride, padding: an int or a pair (height, width).
        init: ``"he"`` (ReLU networks) or ``"xavier"``; fan_in = C * KH * KW.
        rng: seed or ``numpy.random.Generator`` for the initial weights.
    """

    forward_op = staticmethod(ops.conv2d_forward)
    backward_op = staticmethod(ops.conv2d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he",
                 rng=None, dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding)
        kh, kw = self.kernel_size
        self.weight = Parameter(init_weight((out_channels, in_channels, kh, kw),
                                            in_channels * kh * kw, out_channels * kh * kw,
                                            init, rng, dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype))


class ConvTranspose2d(_ConvBase):
    """2-D transposed convolution (PyTorch's) (lecture 3): x (N, in_channels, H, W) ->
    (N, out_channels, (H - 1) * SH - 2 * PH + KH, ...), used to upsample.

    Args:
        in_channels, out_channels: C_in and C_out; ``weight`` is (C_in, C_out, KH, KW) as in
            PyTorch, ``bias`` (C_out,).
        kernel_size, stride, padding: an int or a pair (height, width).
        init: ``"he"`` or ``"xavier"``; each output pixel sums about
            C_in * KH * KW / (SH * SW) products, which is the fan_in used.
        rng: seed or ``numpy.random.Generator`` for the initial weights.
    """

    forward_op = staticmethod(ops.conv_transpose2d_forward)
    backward_op = staticmethod(ops.conv_transpose2d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he",
                 rng=None, dtype=np.float32):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding)
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        fan_in = max(1.0, in_channels * kh * kw / (sh * sw))
        self.weight = Parameter(init_weight((in_channels, out_channels, kh, kw), fan_in,
                                            out_channels * kh * kw, init, rng, dtype))
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype))


class Conv1d(AffineOpModule):
    """1-D convolution over sequences (lecture 6c): x (N, in_channels, L) -> (N, out_channels, Lo).

    Args:
        in_channels, out_channels: C and F; ``weight`` is (F, C, K), ``bias`` (F,).
        kernel_size, stride, padding: ints.
        init: ``"he"`` or ``"xavier"``; fan_in = C * K.
        rng: seed or ``numpy.random.Generator`` for the initial weights.
    """

    forward_op = staticmethod(ops.conv1d_forward)
    backward_op = staticmethod(ops.conv1d_backward)

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, init="he",
                 rng=None, dtype=np.float32):
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
        self.bias = Parameter(np.zeros(out_channels, dtype=dtype))

    def op_params(self):
        return {"stride": self.stride, "padding": self.padding}

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
