"""Composite checks that grade the composite only: the layers it calls are replayed.

A check of a whole model's loss (a1's two-layer net, a2's convnet, a4's captioner) calls the
student's model function, which calls the student's layer functions. So that a bug in one
layer costs that layer's points only, :class:`ReplayModelLossCheck` runs the reference model
once when it makes the inputs and records every op call (arguments and results, as arrays);
while the student's model function runs, each layer function it calls by name is replaced by a
*replay*: when called with the arguments the reference network passes at that point, it
returns the reference's results; otherwise (a different wiring, a cache of the student's own)
it calls the student's function. The sandbox never holds reference code: only this one
network's recorded numbers, which are no use on other inputs.
"""

import contextlib
import inspect
import json

import numpy as np

from course.grading.checks import ModelLossCheck, reference_kernels, reference_ops

STRUCTURE = "replay_structure"


class _Cache:
    """The cache a replayed forward returns: it names the recorded call, and unpacks like the
    cache of the student's own forward on the same arguments (a student's backward may read
    its weights from there)."""

    __slots__ = ("index", "own")

    def __init__(self, index, own=None):
        self.index, self.own = index, own

    def __iter__(self):
        if self.own is None:
            raise TypeError("your forward function gave no cache here")
        return iter(self.own)

    def __getitem__(self, key):
        if self.own is None:
            raise TypeError("your forward function gave no cache here")
        return self.own[key]

    def __len__(self):
        return len(self.own) if self.own is not None else 0

    def __repr__(self):
        return f"<reference cache {self.index}>"


class _Recorder:
    """Stands in for ``course.ops``: runs the op and records the call into ``arrays``."""

    def __init__(self, ops, names):
        self._ops, self._names = ops, set(names)
        self.calls, self.arrays, self._caches = [], {}, {}
        self._alive = []  # the caches, kept alive so that their ids stay theirs

    def __getattr__(self, name):
        op = getattr(self._ops, name)
        if name not in self._names:
            return op

        def recorded(*args, **kwargs):
            signature = inspect.signature(op)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            index = len(self.calls)
            result = op(*args, **kwargs)
            call = {"name": name, "params": list(signature.parameters),
                    "defaults": {key: p.default for key, p in signature.parameters.items()
                                 if isinstance(p.default, (bool, int, float))},
                    "args": {key: self._spec(f"{index}a{key}", value)
                             for key, value in bound.arguments.items()}}
            if name.endswith("_forward"):
                out, cache = result
                self._caches[id(cache)] = index
                self._alive.append(cache)
                call["result"] = ["tuple", [self._spec(f"{index}r0", out), ["cache", index]]]
            else:
                call["result"] = self._spec(f"{index}r", result)
            self.calls.append(call)
            return result

        return recorded

    def _spec(self, key, value):
        if id(value) in self._caches:
            return ["cache", self._caches[id(value)]]
        if isinstance(value, (tuple, list)):
            return ["tuple", [self._spec(f"{key}_{i}", v) for i, v in enumerate(value)]]
        if isinstance(value, np.ndarray) and value.ndim > 0:
            self.arrays[f"replay_{key}"] = np.array(value)
            return ["array", f"replay_{key}"]
        if value is None or isinstance(value, (bool, int, float, np.generic, np.ndarray)):
            return ["value", None if value is None else np.asarray(value).item()]
        raise TypeError(f"cannot record a {type(value).__name__}")


def record(reference, names, *args):
    """Run ``reference(*args, ops=recorder)`` on the reference kernels; return the recording
    as arrays for the inputs (the structure as JSON in a uint8 array)."""
    recorder = _Recorder(reference_ops(), names)
    with reference_kernels():
        reference(*args, ops=recorder)
    structure = json.dumps(recorder.calls).encode()
    return {STRUCTURE: np.frombuffer(structure, dtype=np.uint8).copy(), **recorder.arrays}


def _build(spec, inputs, own=None):
    kind, value = spec
    if kind == "array":
        return np.array(inputs[value])
    if kind == "tuple":
        return tuple(_build(v, inputs, own) for v in value)
    if kind == "cache":
        return _Cache(value, own)
    return value


def _own_cache(function, args, kwargs):
    """The cache of the student's own forward on these arguments, or None if it fails."""
    try:
        result = function(*args, **kwargs)
        return result[-1] if isinstance(result, (tuple, list)) else None
    except Exception:  # noqa: BLE001 - a stub or a bug: the replay does not need it
        return None


def _matches(spec, value, inputs):
    kind, expected = spec
    if kind == "cache":
        return isinstance(value, _Cache) and value.index == expected
    if isinstance(value, _Cache):
        return False
    if kind == "tuple":
        return (isinstance(value, (tuple, list)) and len(value) == len(expected)
                and all(_matches(s, v, inputs) for s, v in zip(expected, value, strict=True)))
    if kind == "value":
        try:
            return expected is None and value is None or (
                value is not None and float(np.asarray(value)) == float(expected))
        except (TypeError, ValueError):
            return False
    reference = inputs[expected]
    try:
        value = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return value.size == reference.size and np.allclose(value.ravel(), reference.ravel(),
                                                        rtol=1e-9, atol=1e-12)


def replays(inputs, functions):
    """``{name: replay}`` for the recorded ops; ``functions`` maps each name to the student's
    own function, called when the arguments match no recorded call."""
    calls = json.loads(bytes(inputs[STRUCTURE]).decode())
    made = {}
    for name in {call["name"] for call in calls}:
        mine = [call for call in calls if call["name"] == name]

        def replay(*args, _name=name, _calls=mine, **kwargs):
            given = {**_calls[0]["defaults"],
                     **dict(zip(_calls[0]["params"], args, strict=False)), **kwargs}
            for call in _calls:
                if set(given) == set(call["args"]) and all(
                        _matches(spec, given[key], inputs) for key, spec in call["args"].items()):
                    own = None
                    if _name.endswith("_forward") and functions.get(_name) is not None:
                        own = _own_cache(functions[_name], args, kwargs)
                    return _build(call["result"], inputs, own)
            if any(isinstance(v, _Cache) for v in given.values()):
                raise ValueError(f"{_name} received arguments that the network does not "
                                 f"produce at this point: check what you pass to it")
            own = functions.get(_name)
            if own is None:
                raise NameError(f"{_name} is not defined")
            return own(*args, **kwargs)

        made[name] = replay
    return made


class ReplayModelLossCheck(ModelLossCheck):
    """:class:`ModelLossCheck` with the model's layer functions replayed (see the module).

    Args:
        replayed: the names of the layer functions to replay, as the student's notebook names
            them (the library's op names). ``reference`` takes an ``ops=`` keyword.
    """

    def __init__(self, name, function, data, params, make, reference, defaults, replayed,
                 regularized=True):
        self.replayed = tuple(replayed)

        def make_recorded(rng, **options):
            inputs = make(rng, **options)
            args = [inputs[k] for k in data]
            values = {k: np.array(inputs[k], dtype=np.float64) for k in params}
            extra = (float(inputs["reg"]),) if regularized else ()
            return {**inputs, **record(reference, self.replayed, *args, values, *extra)}

        def plain_reference(*args):
            return reference(*args, ops=reference_ops())

        super().__init__(name, function, data, params, make_recorded, plain_reference,
                         defaults, regularized)

    def call(self, functions, inputs):
        with replaying(functions[0], inputs):
            return super().call(functions, inputs)


@contextlib.contextmanager
def replaying(function, inputs):
    """Inside the block, the recorded layer functions in ``function``'s global namespace (the
    notebook's) are replays; the student's own ones are put back afterwards."""
    namespace = getattr(function, "__globals__", {})
    calls = json.loads(bytes(inputs[STRUCTURE]).decode())
    names = {call["name"] for call in calls}
    saved = {name: namespace[name] for name in names if name in namespace}
    namespace.update(replays(inputs, saved))
    try:
        yield
    finally:
        for name in names:
            if name in saved:
                namespace[name] = saved[name]
            else:
                namespace.pop(name, None)
