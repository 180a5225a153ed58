"""Modules in the Torch7 style: forward, backward, parameters, train/eval, state (lecture 2).

A module keeps the cache of its last forward pass, so ``model.backward(dout)`` after
``model.forward(x)`` fills ``p.grad`` for every parameter and returns the gradient of the input.
"""

import numpy as np

from course.backend import device_of, to_device, to_host


class Parameter:
    """A trainable array and its gradient (lecture 1).

    Attributes:
        data: the values, a numpy or CuPy array.
        grad: the gradient of the loss with respect to ``data`` after ``backward``, else None.
    """

    def __init__(self, data):
        self.data = data
        self.grad = None

    @property
    def shape(self):
        return self.data.shape

    def __repr__(self):
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype})"


class Module:
    """Base class: subclasses set parameters, buffers and child modules as attributes (lecture 1).

    - ``Parameter`` attributes are trained by the optimisers;
    - buffers (``register_buffer``) are state that is saved but not trained, such as running means;
    - ``Module`` attributes, and lists of modules, are children whose parameters are included.
    """

    def __init__(self):
        self.training = True
        self._buffers = {}

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def __call__(self, x):
        return self.forward(x)

    # -- parameters, children, buffers ---------------------------------------------------------

    def register_buffer(self, name, value):
        """Keep ``value`` in ``state_dict`` (and move it with ``to``) without training it."""
        self._buffers[name] = value

    def __getattr__(self, name):
        buffers = self.__dict__.get("_buffers", {})
        if name in buffers:
            return buffers[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def named_children(self):
        """Yield ``(name, module)`` for direct children, including modules held in lists."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def named_parameters(self, prefix=""):
        """Yield ``(dotted name, Parameter)`` for this module and all its descendants."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self):
        """List of every ``Parameter`` in this module and its descendants."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """Yield ``(dotted name, array)`` for every buffer in this module and its descendants."""
        for name, value in self._buffers.items():
            yield prefix + name, value
        for name, child in self.named_children():
            yield from child.named_buffers(prefix + name + ".")

    def modules(self):
        """Yield this module and every descendant, parents first."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    # -- modes, gradients, state -----------------------------------------------------------------

    def train(self, mode=True):
        """Switch this module and its descendants to training (or evaluation) mode."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self):
        """Evaluation mode: dropout off, batch norm uses running statistics."""
        return self.train(False)

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def _arrays(self, prefix=""):
        """Yield ``(name, holder, key)``; ``holder[key]`` is a parameter's data or a buffer."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, vars(value), "data"
        for key in self._buffers:
            yield prefix + key, self._buffers, key
        for name, child in self.named_children():
            yield from child._arrays(prefix + name + ".")

    def state_dict(self):
        """Copies of every parameter and buffer, keyed by dotted name (numpy arrays)."""
        return {name: np.array(to_host(holder[key])) for name, holder, key in self._arrays()}

    def load_state_dict(self, state):
        """Load arrays saved by ``state_dict``; names and shapes must match exactly."""
        slots = {name: (holder, key) for name, holder, key in self._arrays()}
        missing, unexpected = set(slots) - set(state), set(state) - set(slots)
        if missing or unexpected:
            raise ValueError(
                f"state does not fit this model: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)}")
        for name, (holder, key) in slots.items():
            current, value = holder[key], state[name]
            if tuple(np.shape(value)) != tuple(current.shape):
                raise ValueError(
                    f"{name} has shape {tuple(current.shape)} here but "
                    f"{tuple(np.shape(value))} in the state")
            # a copy: the model must never share memory with the dict it was loaded from
            holder[key] = to_device(np.array(value, dtype=current.dtype), device_of(current))

    def to(self, device):
        """Move every parameter, gradient and buffer to ``device`` ("cpu" or "cuda")."""
        for _, holder, key in self._arrays():
            holder[key] = to_device(holder[key], device)
        for p in self.parameters():
            if p.grad is not None:
                p.grad = to_device(p.grad, device)
        return self

    def extra_repr(self):
        return ""

    def __repr__(self):
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


class Sequential(Module):
    """Chain of modules: forward runs them in order, backward in reverse (lecture 1)."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def named_children(self):
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)
