"""Modules in the Torch7 style, and on Tensors (lectures 1, 2 and 2b).

A module runs two ways:

- **On arrays (Torch7, what the lectures teach):** ``out = model(x)`` keeps each op's cache,
  and ``model.backward(dout)`` adds into ``p.grad`` for every parameter that requires a
  gradient and returns the gradient of the input. Gradients accumulate (as in Torch7 and
  PyTorch): call ``zero_grad()`` between steps. A module used k times in one forward pass
  (a shared ReLU or Linear in a ``Sequential``) keeps k caches, and its k backward calls use
  them in reverse order, as backpropagation runs. ``backward`` always belongs to the latest
  top-level forward pass: after ``lin(a); lin(b)``, ``lin.backward(g)`` is the backward of
  ``lin(b)``. Graphs that need more than that (a module's output used twice, two losses) are
  what Tensors are for.
- **On Tensors (autograd):** ``model(course.Tensor(x))`` records a graph; ``loss.backward()``
  fills the ``.grad`` of every parameter, for any graph (reuse, tied weights, skips).

**Gradients that nothing needs are skipped.** A frozen parameter (``requires_grad = False``)
gets no gradient, and convolution and linear layers then do not compute it at all. A training
loop that never reads the gradient of the images calls ``model.backward(dout,
input_grad=False)``: every layer whose input was the array given to the model's ``forward``
(directly, or through parameter-free layers such as ``Flatten``) then skips its input gradient,
and ``backward`` returns None. On Tensors the same happens for every input that does not
require a gradient (an image Tensor, by default).

**Writing a module that supports both, with no extra code (the standard pattern).**

- A module that wraps one op pair subclasses ``OpModule`` (no parameters) or
  ``AffineOpModule`` (``weight`` and ``bias``) and sets ``forward_op`` and ``backward_op``
  (and ``op_params`` for extra arguments). Nothing else is needed.
- Any other module calls its op as ``out = self.call_op(forward_op, backward_op, x, self.w,
  ..., **params)`` in ``forward``: on arrays that runs the op and remembers its cache; on
  Tensors it records the op in the graph. Its ``backward`` reads the cache with
  ``self.recall()``, calls ``backward_op(dout, cache)``, hands each parameter's gradient to
  ``self.accumulate(param, grad)`` and returns the input's gradient.
- A composite module's ``forward`` calls its children and ``course.functional`` (which takes
  arrays and Tensors alike); its ``backward`` calls the children's ``backward`` in reverse.
"""

import functools
import inspect
from collections import namedtuple

import numpy as np

from course import backend
from course.backend import device_of, is_cupy_array, to_device, to_host
from course.tensor import Tensor, is_grad_enabled

# nesting depth of forward calls, the number of top-level ones, the arrays given to the current
# top-level forward (and parameter-free layers' outputs of them), and whether the current
# top-level backward wants the gradient of those arrays
_PASS = {"depth": 0, "id": 0, "data": [], "input_grad": True}

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _tracked(forward):
    """Wrap a ``forward`` so that a call from outside any module starts a new forward pass."""
    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        if _PASS["depth"] == 0:
            _PASS["id"] += 1
            _PASS["data"] = [a for a in args if is_array(a)]
        _PASS["depth"] += 1
        try:
            return forward(self, *args, **kwargs)
        finally:
            _PASS["depth"] -= 1
            if _PASS["depth"] == 0:
                _PASS["data"] = []
    wrapper.tracked = True
    return wrapper


def _tracked_backward(backward):
    """Wrap a ``backward`` so that every module accepts ``input_grad=False`` (see the module
    docstring); the value given to the outermost call holds for the calls inside it."""
    @functools.wraps(backward)
    def wrapper(self, *args, input_grad=None, **kwargs):
        if input_grad is None:
            return backward(self, *args, **kwargs)
        if not isinstance(input_grad, bool):
            raise TypeError(f"input_grad must be True or False, got {input_grad!r}")
        outer, _PASS["input_grad"] = _PASS["input_grad"], input_grad
        try:
            return backward(self, *args, **kwargs)
        finally:
            _PASS["input_grad"] = outer
    wrapper.tracked = True
    return wrapper


NEEDS = ("need_dx", "need_dw", "need_db")  # an op backward's flags, one per input (x, w, b)


def takes_needs(backward_op):
    """Whether an op's backward can be given ``need_dx``, ``need_dw`` and ``need_db`` (False:
    skip that gradient, None in its place), as ``ops.conv2d_backward`` can. Never inside
    ``use("mine")``: the student's functions take ``(dout, cache)`` only."""
    return backend._dispatcher is None and _has_needs(backward_op)


@functools.cache
def _has_needs(backward_op):
    try:
        return set(NEEDS) <= set(inspect.signature(backward_op).parameters)
    except (TypeError, ValueError):
        return False


def is_array(value):
    """True for a numpy or CuPy array."""
    return isinstance(value, np.ndarray) or is_cupy_array(value)


def is_data(array):
    """True when ``array`` is an array given to the current top-level forward, or a
    parameter-free layer's output of one: nothing upstream of it has parameters."""
    return any(array is d for d in _PASS["data"])


def mark_data(array):
    """Record a parameter-free layer's output of the data as data too (see :func:`is_data`)."""
    _PASS["data"].append(array)


def is_graph_input(value):
    """True for a Tensor that is not a module's own Parameter: it switches a module to
    autograd (lecture 2b)."""
    return isinstance(value, Tensor) and not isinstance(value, Parameter)


class Parameter(Tensor):
    """A trainable array and its gradient: a leaf Tensor that requires grad (lecture 1).

    Attributes:
        data: the values, a numpy or CuPy array.
        grad: the accumulated gradient of the loss with respect to ``data`` (an array), or None.
        requires_grad: set to False to freeze it: backward skips it and optimisers leave it.
    """

    def __init__(self, data, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        frozen = "" if self.requires_grad else ", requires_grad=False"
        return f"Parameter(shape={tuple(self.data.shape)}, dtype={self.data.dtype}{frozen})"


class Module:
    """Base class: subclasses set parameters, buffers and child modules as attributes (lecture 1).

    - ``Parameter`` attributes are trained by the optimisers;
    - buffers (``register_buffer``) are state that is saved but not trained, such as running means;
    - ``Module`` attributes, and lists of modules, are children whose parameters are included.
    """

    def __init__(self):
        self.training = True
        self._buffers = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if forward is not None and not getattr(forward, "tracked", False):
            cls.forward = _tracked(forward)
        backward = cls.__dict__.get("backward")
        if backward is not None and not getattr(backward, "tracked", False):
            cls.backward = _tracked_backward(backward)

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def backward(self, dout):
        raise NotImplementedError(f"{type(self).__name__} does not define backward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- caches and gradients of the Torch7 style --------------------------------------------

    def remember(self, cache, from_data=False):
        """Keep an op's cache for ``backward`` (arrays only; nothing under ``no_grad``);
        ``from_data``: the op's input was the data (see :meth:`input_grad_needed`)."""
        if not is_grad_enabled():
            return
        if vars(self).get("_pass") != _PASS["id"]:
            self._caches, self._from_data, self._pass = [], [], _PASS["id"]
        self._caches.append(cache)
        self._from_data.append(from_data)
        self._cursor = len(self._caches)

    def recall(self):
        """The cache for this ``backward``: the latest unused one of this forward pass.

        After the last one is used, a new backward through the same pass starts again from
        the latest (so ``backward`` can be repeated, as in Torch7).
        """
        caches = vars(self).get("_caches")
        if not caches:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward (or the forward ran "
                "on Tensors or under no_grad, which keep no cache)")
        if self._cursor == 0:
            self._cursor = len(caches)
        self._cursor -= 1
        return caches[self._cursor]

    def input_grad_needed(self):
        """Whether the backward that just called :meth:`recall` must return the gradient of
        its input: False when that forward's input was the data and the top-level backward was
        called with ``input_grad=False``."""
        return _PASS["input_grad"] or not self._from_data[self._cursor]

    def call_op(self, forward_op, backward_op, *inputs, **params):
        """Run ``forward_op(*inputs, **params)``: on Tensors record it in the graph, on arrays
        remember its cache for :meth:`backward` (lecture 2b). Parameters may be passed as
        inputs directly."""
        if any(is_graph_input(a) for a in inputs) or any(
                is_graph_input(v) for v in params.values()):
            from course.functional import apply
            params = {k: (v.data if isinstance(v, Tensor) else v) for k, v in params.items()}
            needs = [isinstance(a, Tensor) and a.requires_grad for a in inputs]
            if len(needs) == len(NEEDS) and not all(needs) and takes_needs(backward_op):
                backward_op = functools.partial(backward_op, **dict(zip(NEEDS, needs,
                                                                        strict=True)))
            return apply(forward_op, backward_op, *inputs, **params)
        arrays = [a.data if isinstance(a, Tensor) else a for a in inputs]
        out, cache = forward_op(*arrays, **params)
        self.remember(cache, from_data=bool(inputs) and is_data(inputs[0]))
        return out

    @staticmethod
    def accumulate(param, grad):
        """Add ``grad`` into ``param.grad``, unless the parameter is frozen (lecture 2)."""
        if param is not None and param.requires_grad:
            param.grad = grad if param.grad is None else param.grad + grad

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

    def children(self):
        """The direct child modules."""
        return [module for _, module in self.named_children()]

    def named_modules(self, prefix=""):
        """Yield ``(dotted name, module)`` for this module ("") and every descendant."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix=""):
        """Yield ``(dotted name, Parameter)`` for this module and all its descendants; a
        parameter shared by two modules (tied weights) is listed once."""
        seen = set()
        for name, holder, key in self._arrays(prefix):
            if key == "data" and id(holder) not in seen:
                seen.add(id(holder))
                yield name, holder

    def parameters(self):
        """List of every ``Parameter`` in this module and its descendants."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix=""):
        """Yield ``(dotted name, array)`` for every buffer in this module and its descendants."""
        for name, holder, key in self._arrays(prefix):
            if key != "data":
                yield name, holder[key]

    def modules(self):
        """Yield this module and every descendant, parents first."""
        for _, module in self.named_modules():
            yield module

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant, children first, then on self; returns self
        (PyTorch's ``apply``, e.g. for a custom initialisation)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes, gradients, state -----------------------------------------------------------------

    def train(self, mode=True):
        """Switch this module and its descendants to training (or evaluation) mode."""
        if not isinstance(mode, bool):
            raise TypeError(f"mode must be True or False, got {mode!r}")
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
        """Yield ``(name, holder, key)``: a Parameter and "data", or a buffer dict and its key."""
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                yield prefix + name, value, "data"
        for key in self._buffers:
            yield prefix + key, self._buffers, key
        for name, child in self.named_children():
            yield from child._arrays(prefix + name + ".")

    def _slots(self):
        """``{name: (holder, key)}``; a holder reached twice (tied weights) keeps its first
        name."""
        slots, seen = {}, set()
        for name, holder, key in self._arrays():
            if (id(holder), key) not in seen:
                seen.add((id(holder), key))
                slots[name] = (holder, key)
        return slots

    def _get(self, holder, key):
        return holder.data if key == "data" else holder[key]

    def _set(self, holder, key, value):
        if key == "data":
            holder.data = value
        else:
            holder[key] = value

    def state_dict(self):
        """Copies of every parameter and buffer, keyed by dotted name (numpy arrays)."""
        return {name: np.array(to_host(self._get(holder, key)))
                for name, (holder, key) in self._slots().items()}

    def load_state_dict(self, state, strict=True):
        """Load arrays saved by ``state_dict`` (copies; the model never shares their memory).

        Args:
            state: a mapping of dotted names to numpy (or CuPy) arrays, such as
                ``np.load("model.npz")``. A PyTorch state dict is refused: convert it with
                ``course.interop.from_torch_state_dict`` (it converts the RNN/LSTM layouts;
                the other layers already share PyTorch's).
            strict: names must match exactly; with False, missing and unexpected names are
                skipped and reported. Shapes must match either way.

        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``, as PyTorch.
        """
        if not hasattr(state, "keys") or not hasattr(state, "__getitem__"):
            raise TypeError(f"state must be a mapping of names to arrays, "
                            f"got {type(state).__name__}")
        if not isinstance(strict, bool):
            raise TypeError(f"strict must be True or False, got {strict!r}")
        slots = self._slots()
        names = list(state.keys())
        missing = sorted(set(slots) - set(names))
        unexpected = sorted(set(names) - set(slots))
        if strict and (missing or unexpected):
            raise ValueError(f"state does not fit this model: missing {missing}, "
                             f"unexpected {unexpected}")
        updates = {}
        for name in names:
            if name not in slots:
                continue
            value = state[name]
            if type(value).__module__.startswith("torch"):
                raise TypeError(
                    f"{name} is a {type(value).__module__}.{type(value).__name__}: this looks "
                    "like a PyTorch state dict; convert it with "
                    "course.interop.from_torch_state_dict(model, state)")
            if not (isinstance(value, np.ndarray) or is_cupy_array(value)):
                raise TypeError(f"{name} must be a numpy or CuPy array, "
                                f"got {type(value).__name__}")
            holder, key = slots[name]
            current = self._get(holder, key)
            if tuple(value.shape) != tuple(current.shape):
                raise ValueError(f"{name} has shape {tuple(current.shape)} here but "
                                 f"{tuple(value.shape)} in the state")
            if value.dtype.kind != current.dtype.kind:
                raise TypeError(f"{name} is {current.dtype} here but {value.dtype} in the state")
            updates[name] = to_device(np.array(to_host(value), dtype=current.dtype),
                                      device_of(current))
        for name, value in updates.items():  # all checked first: nothing half-loaded
            self._set(*slots[name], value)
        return IncompatibleKeys(missing, unexpected)

    def to(self, device_or_dtype):
        """Move every parameter, gradient and buffer to a device ("cpu" or "cuda"), or cast
        them to a float dtype (``np.float64``); returns self."""
        if isinstance(device_or_dtype, str) and device_or_dtype in ("cpu", "cuda"):
            convert = functools.partial(to_device, device=device_or_dtype)
        else:
            try:
                dtype = np.dtype(device_or_dtype)
            except TypeError:
                dtype = None
            if dtype is None or dtype not in (np.float32, np.float64):
                raise ValueError(f"device must be 'cpu' or 'cuda' (or a dtype float32/float64), "
                                 f"got {device_or_dtype!r}")

            def convert(array):
                return array.astype(dtype) if array.dtype.kind == "f" else array
        for holder, key in self._slots().values():
            self._set(holder, key, convert(self._get(holder, key)))
        for p in self.parameters():
            if p.grad is not None:
                p.grad = convert(p.grad)
        return self

    def requires_grad_(self, requires_grad=True):
        """Freeze (False) or unfreeze every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad = requires_grad
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
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential takes modules, got {type(layer).__name__} "
                                f"at position {i}")
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


class ModuleList(Module):
    """A list of modules whose parameters the parent sees (PyTorch's ``ModuleList``)."""

    def __init__(self, modules=()):
        super().__init__()
        self.items = []
        for module in modules:
            self.append(module)

    def append(self, module):
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList holds modules, got {type(module).__name__}")
        self.items.append(module)
        return self

    def named_children(self):
        for i, module in enumerate(self.items):
            yield str(i), module

    def __getitem__(self, index):
        return self.items[index]

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)


class ModuleDict(Module):
    """A dict of modules, by name, whose parameters the parent sees (PyTorch's ``ModuleDict``)."""

    def __init__(self, modules=None):
        super().__init__()
        self.items = {}
        for name, module in dict(modules or {}).items():
            self[name] = module

    def __setitem__(self, name, module):
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"a ModuleDict name must be a non-empty string without '.', "
                             f"got {name!r}")
        if not isinstance(module, Module):
            raise TypeError(f"ModuleDict holds modules, got {type(module).__name__}")
        self.items[name] = module

    def named_children(self):
        yield from self.items.items()

    def __getitem__(self, name):
        return self.items[name]

    def __len__(self):
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def keys(self):
        return self.items.keys()

    def values(self):
        return self.items.values()
