"""``summary(model, input_shape)``: every layer's output shape, parameters and multiply-adds
(lecture 6b, architectures), as Keras's ``model.summary()`` and torchinfo print them.

The model runs once, in eval mode, on one example of zeros; each leaf module (one without
children) is watched as it runs. Multiply-adds count the products of convolutions and linear
layers, per example: ``Conv2d`` C_in * KH * KW per output value, ``ConvTranspose2d`` C_out *
KH * KW per input value, ``Linear`` D * M. Element-wise layers, pooling and normalisation are
counted as 0: their few operations per value are small beside the products.
"""

import numpy as np

from course import nn


def _leaves(module, prefix=""):
    """(dotted name, module) for every module without children, in definition order."""
    children = list(module.named_children())
    if not children:
        yield prefix or type(module).__name__, module
    for name, child in children:
        yield from _leaves(child, f"{prefix}.{name}" if prefix else name)


def _mult_adds(layer, x, out):
    if isinstance(layer, (nn.Conv2d, nn.Conv1d)):
        return out[0].size * int(np.prod(layer.weight.shape[1:]))
    if isinstance(layer, nn.ConvTranspose2d):
        return x[0].size * int(np.prod(layer.weight.shape[1:]))
    if isinstance(layer, nn.Linear):
        return layer.in_features * layer.out_features
    return 0


class ModelSummary:
    """The result of :func:`summary` (lecture 6b): ``rows`` (one dict per leaf layer with
    ``name``, ``layer``, ``output_shape``, ``parameters``, ``mult_adds``), ``parameters`` and
    ``mult_adds`` (totals); ``str()`` is a table."""

    def __init__(self, rows, input_shape):
        self.rows, self.input_shape = rows, input_shape
        self.parameters = sum(row["parameters"] for row in rows)
        self.mult_adds = sum(row["mult_adds"] for row in rows)

    def __str__(self):
        header = f"{'layer':<28}{'output shape':>18}{'parameters':>13}{'mult-adds':>14}"
        lines = [header, "-" * len(header)]
        for row in self.rows:
            label = f"{row['name']} ({row['layer']})"
            lines.append(f"{label[:27]:<28}{str(row['output_shape']):>18}"
                         f"{row['parameters']:>13,}{row['mult_adds']:>14,}")
        lines += ["-" * len(header),
                  f"input {self.input_shape}: {self.parameters:,} parameters, "
                  f"{self.mult_adds:,} multiply-adds per example"]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)


def summary(model, input_shape, dtype=None):
    """Per-layer output shape, parameter count and multiply-adds of ``model`` (lecture 6b).

    Args:
        model: any ``nn.Module``.
        input_shape: one example's shape, without the batch axis, e.g. (3, 32, 32).
        dtype: of the zeros fed through; by default that of the model's first parameter.

    Returns:
        a :class:`ModelSummary`; print it for the table. The model's training mode is restored
        afterwards, but the caches of its last forward pass are those of the summary's.
    """
    shape = tuple(input_shape)
    if not shape or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                        for s in shape):
        raise ValueError(f"input_shape must be one example's shape of positive ints, without "
                         f"the batch axis, got {input_shape!r}")
    params = model.parameters()
    if dtype is None:
        dtype = params[0].data.dtype if params else np.float32
    rows, leaves = [], list(_leaves(model))
    modes = {id(m): m.training for m in model.modules()}

    def watch(name, layer):
        def forward(x, *args, **kwargs):
            out = type(layer).forward(layer, x, *args, **kwargs)
            rows.append({"name": name, "layer": type(layer).__name__,
                         "output_shape": tuple(out.shape[1:]),
                         "parameters": sum(p.data.size for p in layer.parameters()),
                         "mult_adds": int(_mult_adds(layer, x, out))})
            return out
        return forward

    model.eval()
    try:
        for name, layer in leaves:
            layer.forward = watch(name, layer)
        model(np.zeros((1,) + shape, dtype=dtype))
    finally:
        for _, layer in leaves:
            vars(layer).pop("forward", None)
        for m in model.modules():
            m.training = modes[id(m)]
    return ModelSummary(rows, shape)
