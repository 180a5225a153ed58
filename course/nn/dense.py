"""DenseNet's building blocks: ``DenseBlock`` and ``Transition`` (lecture 6b, architectures).

In a dense block (Huang et al., 2017) every layer sees the concatenation of the block's input
and of all the earlier layers' outputs, and adds ``growth_rate`` new channels of its own:

    x_0 = x,   x_i = concat(x_{i-1}, layer_i(x_{i-1})),   out = x_L
    (N, C, H, W) -> (N, C + L * growth_rate, H, W)

Each layer is BN-ReLU-conv 3x3 ("pre-activation"). A transition layer between blocks shrinks
the channels with a 1x1 convolution and halves the resolution with 2x2 average pooling.
"""

import numpy as np

from course import ops
from course.nn.conv import Conv2d
from course.nn.layers import ReLU
from course.nn.module import Module, Sequential
from course.nn.norm import BatchNorm2d
from course.nn.pool import AvgPool2d
from course.ops.checks import check_positive_int


def _bn_relu_conv(in_channels, out_channels, kernel_size, rng, dtype):
    return [BatchNorm2d(in_channels, dtype=dtype), ReLU(),
            Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, rng=rng,
                   dtype=dtype)]


class DenseBlock(Module):
    """``num_layers`` BN-ReLU-conv 3x3 layers, each fed all earlier feature maps (lecture 6b).

    Args:
        in_channels: C of the input (N, C, H, W).
        growth_rate: channels each layer adds; the output has
            ``in_channels + num_layers * growth_rate`` channels and the input's H, W.
        num_layers: L. rng: seed or Generator for the weights. dtype: of the parameters.
    """

    def __init__(self, in_channels, growth_rate, num_layers, rng=None, dtype=np.float32):
        super().__init__()
        for name, value in (("in_channels", in_channels), ("growth_rate", growth_rate),
                            ("num_layers", num_layers)):
            check_positive_int(name, value)
        rng = np.random.default_rng(rng)
        self.in_channels, self.growth_rate = in_channels, growth_rate
        self.out_channels = in_channels + num_layers * growth_rate
        self.layers = [Sequential(*_bn_relu_conv(in_channels + i * growth_rate, growth_rate, 3,
                                                 rng, dtype))
                       for i in range(num_layers)]
        self.caches = []

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"DenseBlock expects x of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        self.caches = []
        for layer in self.layers:
            x, cache = ops.concat_forward(x, layer(x))
            self.caches.append(cache)
        return x

    def backward(self, dout):
        if len(self.caches) != len(self.layers):
            raise RuntimeError("DenseBlock.backward called before forward")
        for layer, cache in zip(reversed(self.layers), reversed(self.caches), strict=True):
            dx, dnew = ops.concat_backward(dout, cache)
            dout = dx + layer.backward(dnew)  # x fed both the concatenation and the layer
        return dout

    def extra_repr(self):
        return (f"{self.in_channels}, growth_rate={self.growth_rate}, "
                f"num_layers={len(self.layers)}")


class Transition(Sequential):
    """BN-ReLU-conv 1x1 to ``out_channels``, then 2x2 average pooling (lecture 6b):
    (N, in_channels, H, W) -> (N, out_channels, H // 2, W // 2)."""

    def __init__(self, in_channels, out_channels, rng=None, dtype=np.float32):
        check_positive_int("in_channels", in_channels)
        check_positive_int("out_channels", out_channels)
        super().__init__(*_bn_relu_conv(in_channels, out_channels, 1, rng, dtype),
                         AvgPool2d(2))
        self.in_channels = in_channels

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Transition expects x of shape (N, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        return super().forward(x)
