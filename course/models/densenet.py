"""A small DenseNet for 32x32 RGB images, such as the shapes set (lecture 6b, architectures).

DenseNet (Huang et al., 2017) replaces the residual sum with a concatenation: each layer of a
dense block reads every earlier layer's feature maps and adds ``growth_rate`` maps of its own,
so features are reused instead of recomputed and the network needs few channels per layer.
Transition layers (1x1 convolution halving the channels, 2x2 average pooling) join the blocks.
``small_densenet()`` has about 60k parameters.
"""

import numpy as np

from course import nn
from course.ops.checks import check_positive_int


def small_densenet(num_classes=4, growth_rate=12, block_layers=(3, 3, 3), in_channels=3, rng=0,
                   dtype=np.float32):
    """Stem, dense blocks joined by transitions, BN-ReLU, global pooling, a linear classifier
    (lecture 6b).

    Shapes for a (N, 3, 32, 32) input with the defaults (k = growth_rate = 12)::

        stem        conv 3x3 (2k = 24) - max-pool 2         -> (N, 24, 16, 16)
        block 1     3 layers, + 3k channels                 -> (N, 60, 16, 16)
        transition  1x1 conv to half, avg-pool 2            -> (N, 30, 8, 8)
        block 2                                             -> (N, 66, 8, 8)
        transition                                          -> (N, 33, 4, 4)
        block 3                                             -> (N, 69, 4, 4)
        head        BN - ReLU - global average pool - linear -> (N, num_classes)

    Args:
        num_classes: outputs. growth_rate: channels each dense layer adds.
        block_layers: layers in each dense block. in_channels: 3 for RGB.
        rng: seed or Generator for the initial weights. dtype: of the parameters.
    """
    check_positive_int("growth_rate", growth_rate)
    if not block_layers:
        raise ValueError("block_layers must list at least one dense block")
    rng = np.random.default_rng(rng)
    channels = 2 * growth_rate
    layers = [nn.Conv2d(in_channels, channels, 3, padding=1, rng=rng, dtype=dtype),
              nn.MaxPool2d(2)]
    for i, num_layers in enumerate(block_layers):
        block = nn.DenseBlock(channels, growth_rate, num_layers, rng=rng, dtype=dtype)
        layers.append(block)
        channels = block.out_channels
        if i < len(block_layers) - 1:
            layers.append(nn.Transition(channels, channels // 2, rng=rng, dtype=dtype))
            channels //= 2
    layers += [nn.BatchNorm2d(channels, dtype=dtype), nn.ReLU(), nn.GlobalAvgPool2d(),
               nn.Linear(channels, num_classes, init="xavier", rng=rng, dtype=dtype)]
    return nn.Sequential(*layers)
