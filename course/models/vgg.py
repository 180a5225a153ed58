"""A small VGG-style network for 32x32 RGB images (lecture 6, deeper networks).

VGG (Simonyan and Zisserman, 2014) stacks 3x3 convolutions and halves the resolution with
max-pooling between stages; batch norm after each convolution lets such a plain stack train
without careful initialisation. ``small_vgg()`` has about 70k parameters.
"""

import numpy as np

from course import nn


def conv_bn_relu(in_channels, out_channels, rng, dtype):
    """3x3 convolution with "same" padding, batch norm, ReLU (lecture 6)."""
    return [nn.Conv2d(in_channels, out_channels, 3, padding=1, rng=rng, dtype=dtype),
            nn.BatchNorm2d(out_channels, dtype=dtype), nn.ReLU()]


def small_vgg(num_classes=4, widths=(16, 32, 64), in_channels=3, rng=0, dtype=np.float32):
    """Three stages of [conv-BN-ReLU] x 2 and a 2x2 max-pool, then global pooling and a linear
    classifier (lecture 6).

    Shapes for a (N, 3, 32, 32) input with the default widths: (N, 16, 16, 16) after stage 1,
    (N, 32, 8, 8) after stage 2, (N, 64, 4, 4) after stage 3, then (N, num_classes).

    Args:
        num_classes: outputs. widths: channels of the three stages.
        in_channels: 3 for RGB. rng: seed or Generator for the initial weights.
    """
    rng = np.random.default_rng(rng)
    layers, channels = [], in_channels
    for width in widths:
        layers += conv_bn_relu(channels, width, rng, dtype)
        layers += conv_bn_relu(width, width, rng, dtype)
        layers.append(nn.MaxPool2d(2))
        channels = width
    layers += [nn.GlobalAvgPool2d(),
               nn.Linear(channels, num_classes, init="xavier", rng=rng, dtype=dtype)]
    return nn.Sequential(*layers)
