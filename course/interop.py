"""State dicts to and from PyTorch (after the course).

A course model and the PyTorch model built the same way (the same attribute names and
``Sequential`` positions) name their parameters alike. ``Linear`` and ``TemporalLinear`` (a
PyTorch ``Linear`` at every step), the convolutions, the norms and ``Embedding`` keep PyTorch's
layouts; the others differ in two places, which these converters handle:

- ``RNN`` and ``LSTM``: course has ``Wx`` (D, G*H), ``Wh`` (H, G*H) and one bias ``b`` with the
  gates in the order i, f, o, g; PyTorch has ``weight_ih_l0`` (G*H, D), ``weight_hh_l0``
  (G*H, H), two biases, and the gates in the order i, f, g, o. The layers k > 0 of an LSTM
  with ``num_layers`` are ``Wx_l{k}``, ``Wh_l{k}``, ``b_l{k}`` (PyTorch: ``weight_ih_l{k}``...).
- batch norm: PyTorch's ``num_batches_tracked`` counter has no course counterpart.

    torch_model.load_state_dict(interop.to_torch_state_dict(model))
    model.load_state_dict(interop.from_torch_state_dict(model, torch_model.state_dict()))

Anything else (a module with parameters of an unknown kind, a missing or extra name, a shape
that does not fit) is a ``ValueError`` naming it: never a model that loads and computes
something else. PyTorch is imported only by :func:`to_torch_state_dict`.
"""

import numpy as np

from course import nn

_SAME = (nn.Linear, nn.TemporalLinear, nn.Conv2d, nn.ConvTranspose2d, nn.LayerNorm,
         nn.Embedding)


def _swap_gates(array, gates, axis):
    """i, f, o, g <-> i, f, g, o along ``axis`` (its own inverse); RNNs have one gate."""
    if gates == 1:
        return array
    i, f, a, b = np.split(array, 4, axis=axis)
    return np.concatenate([i, f, b, a], axis=axis)


def _own_parameters(module):
    return [name for name, value in vars(module).items() if isinstance(value, nn.Parameter)]


def _torch_layout(module):
    """``[(torch name, course name or None, to_torch, from_torch)]`` for one module's own
    arrays; None for the course name marks an array PyTorch has and course does not need."""
    def same(a):
        return a

    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        names = _own_parameters(module) + ["running_mean", "running_var"]
        return [(n, n, same, same) for n in names] + [("num_batches_tracked", None, None, None)]
    if isinstance(module, _SAME):
        return [(n, n, same, same) for n in _own_parameters(module)]
    if isinstance(module, nn.RNN | nn.LSTM):
        gates = module.gates

        def to_weight(a):
            return _swap_gates(a, gates, 1).T

        def from_weight(a):
            return _swap_gates(a.T, gates, 1)

        def to_bias(a):
            return _swap_gates(a, gates, 0)
        layout = []
        for k in range(getattr(module, "num_layers", 1)):
            suffix = f"_l{k}" if k else ""
            layout += [(f"weight_ih_l{k}", "Wx" + suffix, to_weight, from_weight),
                       (f"weight_hh_l{k}", "Wh" + suffix, to_weight, from_weight),
                       (f"bias_ih_l{k}", "b" + suffix, to_bias, to_bias),
                       (f"bias_hh_l{k}", "b" + suffix, None, to_bias)]
        return layout
    if _own_parameters(module) or module._buffers:
        raise ValueError(f"no PyTorch layout is known for {type(module).__name__} (it holds "
                         f"{_own_parameters(module) + list(module._buffers)}); convert it by hand")
    return []


def _layouts(model):
    for prefix, module in model.named_modules():
        dot = prefix + "." if prefix else ""
        for torch_name, name, to_torch, from_torch in _torch_layout(module):
            yield dot + torch_name, (dot + name if name else None), to_torch, from_torch


def to_torch_state_dict(model):
    """A PyTorch state dict (``torch.Tensor`` values) for the same model built with
    ``torch.nn``."""
    import torch

    state = model.state_dict()
    out = {}
    for torch_name, name, to_torch, _ in _layouts(model):
        if name is None:
            out[torch_name] = torch.tensor(0, dtype=torch.long)
        elif to_torch is None:  # PyTorch's second RNN bias: course folds it into the first
            out[torch_name] = torch.zeros(state[name].shape, dtype=_torch_dtype(state[name]))
        else:
            out[torch_name] = torch.tensor(np.ascontiguousarray(to_torch(state[name])))
    return out


def _torch_dtype(array):
    import torch
    return torch.float64 if array.dtype == np.float64 else torch.float32


def _to_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def from_torch_state_dict(model, state):
    """The course state dict (numpy arrays) that makes ``model`` compute what the PyTorch
    model with ``state`` computes; load it with ``model.load_state_dict``.

    Raises:
        ValueError: a name is missing or unexpected, or a converted shape does not fit.
    """
    layouts = list(_layouts(model))
    expected = {torch_name for torch_name, *_ in layouts}
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(f"the PyTorch state does not fit this model: missing {missing}, "
                         f"unexpected {unexpected}")
    ours = model.state_dict()
    out = {}
    for torch_name, name, _, from_torch in layouts:
        if name is None:
            continue
        value = from_torch(_to_numpy(state[torch_name]))
        out[name] = value if name not in out else out[name] + value  # the two RNN biases
        if out[name].shape != ours[name].shape:
            raise ValueError(f"{torch_name} gives {name} the shape {out[name].shape}, but the "
                             f"model's is {ours[name].shape}")
    return {name: value.astype(ours[name].dtype) for name, value in out.items()}
