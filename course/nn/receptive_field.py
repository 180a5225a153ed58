"""Receptive fields of a stack of convolution and pooling layers (lecture 4).

Walking a ``Sequential`` from the input, each layer with a window of ``k`` pixels, stride ``s``
and padding ``p`` (per axis) updates four numbers:

    output size   n_out = (n_in + 2p - k) // s + 1
    jump          j_out = j_in * s                 input pixels between neighbouring units
    field         r_out = r_in + (k - 1) * j_in    input pixels one unit sees
    start         c_out = c_in + ((k - 1) / 2 - p) * j_in   input coordinate of unit 0's centre

Layers that see a whole feature map (``GlobalAvgPool2d``, ``Flatten`` and the ``Linear`` layers
after it) act as one window covering it. Element-wise layers (activations, dropout,
normalisation) change nothing.
"""

from course.kernels.shapes import conv_output_size
from course.nn.conv import Conv2d, ConvTranspose2d
from course.nn.layers import Flatten
from course.nn.module import Sequential
from course.nn.pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from course.ops.checks import check_int_pair


def _layers(model, prefix=""):
    """(name, layer) for every leaf layer of nested ``Sequential`` containers, in order."""
    if not isinstance(model, Sequential):
        yield prefix or type(model).__name__, model
        return
    for i, layer in enumerate(model):
        yield from _layers(layer, f"{prefix}{i}." if isinstance(layer, Sequential) else
                           f"{prefix}{i}")


def _window(layer, size):
    """(kernel, stride, padding) pairs of a layer, or None for an element-wise layer."""
    if isinstance(layer, Conv2d):  # a dilated kernel spans (k - 1) * d + 1 pixels
        span = tuple((k - 1) * d + 1 for k, d in zip(layer.kernel_size, layer.dilation,
                                                     strict=True))
        return span, layer.stride, layer.padding
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        return layer.params["size"], layer.params["stride"], layer.params["padding"]
    if isinstance(layer, (GlobalAvgPool2d, Flatten)):
        return size, (1, 1), (0, 0)
    if isinstance(layer, ConvTranspose2d):
        raise ValueError("receptive_field does not handle ConvTranspose2d layers")
    return None


def receptive_field(model, input_size):
    """Receptive field, jump and output size after every layer of ``model`` (lecture 4).

    Args:
        model: a ``Sequential`` (nested ones are walked too) or a single layer.
        input_size: (H, W) of the input, or an int for a square input.

    Returns:
        A list with one dict per layer: ``name``, ``layer`` (its repr), ``output_size`` (h, w),
        ``jump`` (jh, jw), ``receptive_field`` (rh, rw) and ``start`` (ch, cw), the input
        coordinates of the centre of the first unit's field (negative inside the padding).
    """
    size = check_int_pair("input_size", input_size, 1)
    jump, field, start = (1, 1), (1, 1), (0.0, 0.0)
    rows = []
    for name, layer in _layers(model):
        window = _window(layer, size)
        if window is not None:
            kernel, stride, padding = window
            out = tuple(conv_output_size(size[a], kernel[a], stride[a], padding[a])
                        for a in (0, 1))
            if min(out) < 1:
                raise ValueError(f"layer {name} ({layer!r}) gets a {size} input and would "
                                 f"give output size {out}")
            start = tuple(start[a] + ((kernel[a] - 1) / 2 - padding[a]) * jump[a]
                          for a in (0, 1))
            field = tuple(field[a] + (kernel[a] - 1) * jump[a] for a in (0, 1))
            jump = tuple(jump[a] * stride[a] for a in (0, 1))
            size = out
        rows.append({"name": name, "layer": repr(layer), "output_size": size, "jump": jump,
                     "receptive_field": field, "start": start})
    return rows
