"""Reaching inside a trained model: its layers by name, their outputs, and a safe way to look
(lecture 6d, understanding CNNs).

Every function of ``course.interpret`` runs the model inside :func:`inspecting`, which puts it
in evaluation mode and afterwards restores exactly what it found: each module's mode, caches and
any temporary replacement of ``forward`` or ``backward``, and every parameter's ``grad``. So
asking a model for a saliency map never disturbs a training run that uses it.

Layers are named as in ``state_dict``: the dotted path of child names, ``"3"`` for the fourth
layer of a ``Sequential``, ``"4.0.block.0"`` for the first convolution of the first residual
block of ``small_resnet``.
"""

import contextlib

import numpy as np

from course.backend import to_host


def named_layers(model):
    """Yield ``(name, module)`` for every module inside ``model`` (not ``model`` itself),
    parents before their children, named as in ``state_dict`` (lecture 6d)."""
    for name, child in model.named_children():
        yield name, child
        for sub_name, sub in named_layers(child):
            yield f"{name}.{sub_name}", sub


def get_layer(model, layer):
    """The module called ``layer`` in ``model`` (lecture 6d).

    Args:
        layer: a dotted name from :func:`named_layers`, e.g. ``"3"`` or ``"4.0.block.0"``; an
            int ``i`` means ``"i"`` (the i-th layer of a ``Sequential``).

    Raises:
        TypeError: ``layer`` is neither a str nor an int.
        ValueError: no layer has that name; the message lists the names that exist.
    """
    if isinstance(layer, bool) or not isinstance(layer, (str, int)):
        raise TypeError(f"layer must be a layer name (str) or an index (int), "
                        f"got {type(layer).__name__}")
    layers = dict(named_layers(model))
    if str(layer) not in layers:
        known = ", ".join(f"{name} ({type(m).__name__})" for name, m in layers.items())
        raise ValueError(f"layer {str(layer)!r} does not exist in this model; "
                         f"its layers are: {known}")
    return layers[str(layer)]


@contextlib.contextmanager
def inspecting(model):
    """Run ``model`` in evaluation mode inside the block, then restore it exactly (lecture 6d).

    Restored afterwards: every module's attributes (its train/eval mode, the caches of its last
    forward pass, instance-level replacements of ``forward``/``backward``) and every
    parameter's ``grad``. Parameter values and buffers are not copied: evaluation mode never
    changes them, and nothing in ``course.interpret`` writes to them.
    """
    modules = list(model.modules())
    saved = [(module, dict(vars(module))) for module in modules]
    grads = [(p, p.grad) for p in model.parameters()]
    model.eval()
    try:
        yield model
    finally:
        for module, attributes in saved:
            vars(module).clear()
            vars(module).update(attributes)
        for p, grad in grads:
            p.grad = grad


def capture_output(module, store):
    """Make ``module.forward`` also keep its output in ``store["out"]`` (lecture 6d).

    Use inside :func:`inspecting`, which removes the wrapper afterwards.
    """
    forward = module.forward

    def forward_and_keep(x):
        store["out"] = forward(x)
        return store["out"]

    module.forward = forward_and_keep


def layer_output(model, x, layer):
    """The output of layer ``layer`` when ``model`` (in evaluation mode) reads ``x``
    (lecture 6d): for a convolution (N, F, H', W'), its feature maps.

    Args:
        model: any ``course`` model. x: its input batch (numpy or CuPy, the model's device).
        layer: a name from :func:`named_layers` (or an int index of a ``Sequential``).
    """
    module = get_layer(model, layer)
    store = {}
    with inspecting(model):
        capture_output(module, store)
        model.forward(x)
    return store["out"]


def layer_filters(model, layer):
    """The filters (F, C, KH, KW) of the convolution ``layer`` as a numpy array (lecture 6d).

    Raises:
        TypeError: the layer is not a convolution (it has no 4-D ``weight``).
    """
    module = get_layer(model, layer)
    weight = getattr(module, "weight", None)
    if weight is None or weight.data.ndim != 4:
        raise TypeError(f"layer {layer!r} is a {type(module).__name__}, not a convolution "
                        f"with (F, C, KH, KW) filters")
    return np.array(to_host(weight.data))
