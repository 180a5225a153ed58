"""A small ResNet for 32x32 RGB images, such as the shapes set (lecture 6, deeper networks).

Residual blocks (He et al., 2016) let gradients flow through the identity shortcuts, and batch
norm after every convolution keeps each layer's inputs well scaled, so the network trains
quickly with a plain optimiser. ``small_resnet()`` has about 80k parameters.
"""

import numpy as np

from course import nn


def conv_bn(in_channels, out_channels, kernel_size, stride, rng, dtype):
    """Convolution with "same" padding followed by batch norm (no activation) (lecture 6)."""
    return [nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2, rng=rng, dtype=dtype),
            nn.BatchNorm2d(out_channels, dtype=dtype)]


def basic_block(in_channels, out_channels, stride=1, rng=None, dtype=np.float32):
    """``relu(block(x) + shortcut(x))`` with block = conv-BN-ReLU-conv-BN, all 3x3 (lecture 6).

    The shortcut is the identity when the shape is kept, else a strided 1x1 convolution with
    batch norm that matches the block's output shape.
    """
    block = nn.Sequential(*conv_bn(in_channels, out_channels, 3, stride, rng, dtype), nn.ReLU(),
                          *conv_bn(out_channels, out_channels, 3, 1, rng, dtype))
    shortcut = None
    if stride != 1 or in_channels != out_channels:
        shortcut = nn.Sequential(*conv_bn(in_channels, out_channels, 1, stride, rng, dtype))
    return nn.Sequential(nn.Residual(block, shortcut), nn.ReLU())


def small_resnet(num_classes=4, widths=(16, 32, 64), in_channels=3, rng=0, dtype=np.float32):
    """Stem, three residual stages, global average pooling, a linear classifier (lecture 6).

    Shapes for a (N, 3, 32, 32) input with the default widths::

        stem     conv 3x3 (16) - BN - ReLU - max-pool 2   -> (N, 16, 16, 16)
        stage 1  basic block, 16 channels                 -> (N, 16, 16, 16)
        stage 2  basic block, 32 channels, stride 2       -> (N, 32, 8, 8)
        stage 3  basic block, 64 channels, stride 2       -> (N, 64, 4, 4)
        head     global average pool - linear             -> (N, num_classes)

    Args:
        num_classes: outputs. widths: channels of the three stages.
        in_channels: 3 for RGB. rng: seed or Generator for the initial weights.
    """
    rng = np.random.default_rng(rng)
    first, second, third = widths
    return nn.Sequential(
        *conv_bn(in_channels, first, 3, 1, rng, dtype), nn.ReLU(), nn.MaxPool2d(2),
        basic_block(first, first, 1, rng, dtype),
        basic_block(first, second, 2, rng, dtype),
        basic_block(second, third, 2, rng, dtype),
        nn.GlobalAvgPool2d(),
        nn.Linear(third, num_classes, init="xavier", rng=rng, dtype=dtype),
    )
