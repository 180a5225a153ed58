"""Networks for semantic segmentation: a fully convolutional net and U-Net (lecture 6c).

Both map images (N, C, H, W) to class scores for every pixel, (N, num_classes, H, W), and train
with ``ops.pixel_softmax_loss``.

- ``fcn`` (Long et al., 2015): a classifier's convolutions down to 1/2^k of the resolution,
  1x1 convolution to class scores, and one transposed convolution (kernel = stride = 2^k, so
  no checkerboard) that upsamples the coarse scores back to the input size.
- ``unet`` (Ronneberger et al., 2015): the same encoder, then a decoder that climbs back one
  level at a time, each time upsampling by 2 and concatenating the encoder's feature maps of
  that size (the skip connections), so fine detail lost by pooling comes back.
"""

import numpy as np

from course import nn, ops
from course.ops.checks import check_positive_int


def conv_block(in_channels, out_channels, convs, rng, dtype):
    """``convs`` times conv 3x3 ("same" padding) - BN - ReLU (lecture 6c)."""
    layers = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3,
                             padding=1, rng=rng, dtype=dtype),
                   nn.BatchNorm2d(out_channels, dtype=dtype), nn.ReLU()]
    return nn.Sequential(*layers)


def _check_input(name, x, in_channels, factor):
    """Raise unless x is (N, in_channels, H, W) with H and W divisible by ``factor``."""
    if x.ndim != 4 or x.shape[1] != in_channels:
        raise ValueError(f"{name} expects x of shape (N, {in_channels}, H, W), "
                         f"got {tuple(x.shape)}")
    if x.shape[2] % factor or x.shape[3] % factor:
        raise ValueError(f"{name} needs H and W divisible by {factor} (its pooling divides them "
                         f"by {factor}), got {tuple(x.shape[2:])}")


def _check_widths(widths):
    if len(widths) < 2:
        raise ValueError(f"widths must give at least two levels, got {widths!r}")
    for k, width in enumerate(widths):
        check_positive_int(f"widths[{k}]", width)


def fcn(in_channels=3, num_classes=5, widths=(16, 32, 64), rng=0, dtype=np.float32):
    """A fully convolutional network with one learned upsampling (lecture 6c).

    A conv block per width with a 2x2 max-pool between them (resolution / 2^(levels - 1)),
    a 1x1 convolution to ``num_classes`` scores, and ``ConvTranspose2d`` with kernel = stride =
    2^(levels - 1) back to (N, num_classes, H, W). H and W must be divisible by that factor.
    """
    return FCN(in_channels, num_classes, widths, rng, dtype)


class FCN(nn.Sequential):
    """The layers of :func:`fcn` in a ``Sequential`` that checks its input's shape (lecture 6c)."""

    def __init__(self, in_channels=3, num_classes=5, widths=(16, 32, 64), rng=0,
                 dtype=np.float32):
        _check_widths(widths)
        rng = np.random.default_rng(rng)
        layers, channels = [], in_channels
        for i, width in enumerate(widths):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers.append(conv_block(channels, width, 1, rng, dtype))
            channels = width
        factor = 2 ** (len(widths) - 1)
        layers += [nn.Conv2d(channels, num_classes, 1, init="xavier", rng=rng, dtype=dtype),
                   nn.ConvTranspose2d(num_classes, num_classes, factor, stride=factor,
                                      init="xavier", rng=rng, dtype=dtype)]
        super().__init__(*layers)
        self.in_channels, self.factor = in_channels, factor

    def forward(self, x):
        _check_input("FCN", x, self.in_channels, self.factor)
        return super().forward(x)


class UNet(nn.Module):
    """Encoder, bottleneck, decoder with skip connections by concatenation (lecture 6c).

    For ``widths=(16, 32, 64)`` and a (N, 3, 32, 32) input::

        encoder 1   conv block (16)                          -> (N, 16, 32, 32)  = skip 1
        encoder 2   max-pool 2, conv block (32)              -> (N, 32, 16, 16)  = skip 2
        bottleneck  max-pool 2, conv block (64)              -> (N, 64, 8, 8)
        decoder 2   up 2x (64 -> 32), concat skip 2, block   -> (N, 32, 16, 16)
        decoder 1   up 2x (32 -> 16), concat skip 1, block   -> (N, 16, 32, 32)
        head        conv 1x1                                  -> (N, num_classes, 32, 32)

    Upsampling is ``ConvTranspose2d(kernel_size=2, stride=2)``: its kernel size is divisible
    by its stride, so it makes no checkerboard pattern. H and W must be divisible by
    2^(levels - 1).
    """

    def __init__(self, in_channels=3, num_classes=5, widths=(16, 32, 64), convs=2, rng=0,
                 dtype=np.float32):
        super().__init__()
        _check_widths(widths)
        check_positive_int("convs", convs)
        rng = np.random.default_rng(rng)
        self.in_channels, self.factor = in_channels, 2 ** (len(widths) - 1)
        channels, self.encoders, self.pools = in_channels, [], []
        for width in widths[:-1]:
            self.encoders.append(conv_block(channels, width, convs, rng, dtype))
            self.pools.append(nn.MaxPool2d(2))
            channels = width
        self.bottleneck = conv_block(channels, widths[-1], convs, rng, dtype)
        channels, self.ups, self.decoders = widths[-1], [], []
        for width in reversed(widths[:-1]):
            self.ups.append(nn.ConvTranspose2d(channels, width, 2, stride=2, rng=rng,
                                               dtype=dtype))
            self.decoders.append(conv_block(2 * width, width, convs, rng, dtype))
            channels = width
        self.head = nn.Conv2d(channels, num_classes, 1, init="xavier", rng=rng, dtype=dtype)
        self.concat_caches = []

    def forward(self, x):
        _check_input("UNet", x, self.in_channels, self.factor)
        skips = []
        for encoder, pool in zip(self.encoders, self.pools, strict=True):
            x = encoder(x)
            skips.append(x)
            x = pool(x)
        x = self.bottleneck(x)
        self.concat_caches = []
        for up, decoder, skip in zip(self.ups, self.decoders, reversed(skips), strict=True):
            x, cache = ops.concat_forward(up(x), skip)
            self.concat_caches.append(cache)
            x = decoder(x)
        return self.head(x)

    def backward(self, dout):
        if len(self.concat_caches) != len(self.ups):
            raise RuntimeError("UNet.backward called before forward")
        d = self.head.backward(dout)
        dskips = []  # from the finest level to the coarsest
        for up, decoder, cache in zip(reversed(self.ups), reversed(self.decoders),
                                      reversed(self.concat_caches), strict=True):
            dup, dskip = ops.concat_backward(decoder.backward(d), cache)
            dskips.append(dskip)
            d = up.backward(dup)
        d = self.bottleneck.backward(d)
        for encoder, pool, dskip in zip(reversed(self.encoders), reversed(self.pools),
                                        reversed(dskips), strict=True):
            d = encoder.backward(pool.backward(d) + dskip)  # the encoder's output fed both
        return d


def unet(in_channels=3, num_classes=5, widths=(16, 32, 64), convs=2, rng=0, dtype=np.float32):
    """A :class:`UNet` (lecture 6c): ``widths`` are the channels of each level, ``convs`` the
    conv-BN-ReLU layers per block; (N, in_channels, H, W) -> (N, num_classes, H, W)."""
    return UNet(in_channels, num_classes, widths, convs, rng, dtype)
