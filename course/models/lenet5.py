"""LeNet-5 (LeCun et al., 1998) with ReLU and max-pooling, for 28x28 or 32x32 images (lecture 4).

    conv 5x5, 6 filters -> ReLU -> max-pool 2
    conv 5x5, 16 filters -> ReLU -> max-pool 2
    flatten -> linear 120 -> ReLU -> linear 84 -> ReLU -> linear num_classes

A 32x32 input reaches the classifier as 16 maps of 5x5, as in the paper. Smaller inputs get 2
pixels of zero padding in the first convolution, so a 28x28 image (MNIST's size) follows the
same path. Other sizes work too, down to 12x12; the classifier's input size follows.
"""

from course import nn
from course.kernels.shapes import conv_output_size
from course.nn.init import make_rng
from course.ops.checks import check_positive_int


def lenet5(in_channels=1, num_classes=10, rng=0, input_size=32):
    """A LeNet-5 ``Sequential`` for (N, in_channels, input_size, input_size) images (lecture 4).

    Args:
        in_channels: 1 for grey images, 3 for colour.
        num_classes: size of the output scores.
        rng: seed or ``numpy.random.Generator`` for the initial weights.
        input_size: height and width of the (square) images; below 32 the first
            convolution pads by 2.

    Returns:
        ``nn.Sequential`` mapping (N, in_channels, input_size, input_size) to (N, num_classes).
    """
    check_positive_int("input_size", input_size)
    padding = 2 if input_size < 32 else 0
    side = conv_output_size(input_size, 5, 1, padding) // 2
    side = conv_output_size(side, 5, 1, 0) // 2
    if side < 1:
        raise ValueError(f"input_size must be at least 12 for LeNet-5, got {input_size}")
    rng = make_rng(rng)
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, 5, padding=padding, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * side * side, 120, rng=rng), nn.ReLU(),
        nn.Linear(120, 84, rng=rng), nn.ReLU(),
        nn.Linear(84, num_classes, rng=rng),
    )
