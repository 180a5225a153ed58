"""Deconvnet projections (Zeiler and Fergus, 2014, "Visualizing and understanding
convolutional networks") (lecture 6d): which pixels made a feature map fire.

Zeiler and Fergus take one activation of a layer, set every other activation of that layer to
zero, and run the network backwards to the pixels with three rules:

- a convolution is undone by its **transposed filters**: exactly the backward pass of the
  convolution with respect to its input (a linear layer likewise by its transposed weights);
- a max-pooling is undone by **max-unpooling**: each value goes back to the position that won
  the window in the forward pass (the *switches*), which is the pooling's backward pass;
- a ReLU passes the **rectified signal**, ``max(signal, 0)``, instead of the gradient's
  ``signal * (input > 0)``: the reconstruction must stay a positive "feature".

So the deconvnet is the backward pass with one change at the ReLUs. This module runs the
model's own backward with every ``nn.ReLU`` rectifying, and with the chosen layer's backward
fed the selected activations; the layers above it receive zeros, so residual shortcuts and
other paths that skip the layer carry nothing. Other layers (batch norm in evaluation mode,
average pooling, other activations) pass their ordinary gradient.
"""

import numpy as np

from course import nn
from course.backend import get_array_module
from course.interpret.gradients import check_images
from course.interpret.layers import capture_output, get_layer, inspecting

KEEP = ("max", "map")


def _rectify(dout):
    return get_array_module(dout).maximum(dout, 0)


def deconv_visualize(model, x, layer, channel, keep="max"):
    """Project channel ``channel`` of layer ``layer``'s output back to pixel space (lecture 6d).

    Args:
        model: any ``course`` model of images built from modules (run in evaluation mode).
        x: (N, C, H, W) images.
        layer: a layer name (see :func:`course.interpret.named_layers`) or a ``Sequential``
            index; its output is (N, F, H', W') (or (N, F) for a linear layer).
        channel: which of the F feature maps (or units) to project.
        keep: ``"max"`` keeps only the strongest activation of the map in each image, as
            Zeiler and Fergus; ``"map"`` projects the whole map.

    Returns:
        (N, C, H, W) projections, on x's device (the signal has no bias: it shows structure,
        not brightness).
    """
    check_images("x", x)
    if keep not in KEEP:
        raise ValueError(f"keep must be one of {KEEP}, got {keep!r}")
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)):
        raise TypeError(f"channel must be an int, got {type(channel).__name__}")
    channel = int(channel)
    module = get_layer(model, layer)
    xp = get_array_module(x)
    store = {}
    with inspecting(model):
        for relu in model.modules():
            if isinstance(relu, nn.ReLU):
                relu.backward = _rectify
        capture_output(module, store)
        scores = model.forward(x)
        maps = store["out"]
        if not 0 <= channel < maps.shape[1]:
            raise ValueError(f"channel must be in [0, {maps.shape[1]}) for layer {layer!r} "
                             f"with output {tuple(maps.shape)}, got {channel}")
        selected = maps[:, channel].reshape(len(x), -1)
        if keep == "max":
            strongest = selected.argmax(axis=1)
            only = xp.zeros_like(selected)
            only[xp.arange(len(x)), strongest] = selected[xp.arange(len(x)), strongest]
            selected = only
        signal = xp.zeros_like(maps)
        signal[:, channel] = selected.reshape(maps[:, channel].shape)
        backward = module.backward
        module.backward = lambda dout: backward(signal)
        projection = model.backward(xp.zeros_like(scores))
    return projection
