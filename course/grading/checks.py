"""The checks that assignment test cells call (assignments 1-4), split in three pure steps.

Each :class:`Check` grades one exercise in three steps that the grading pipeline can run in
different processes:

1. ``make_inputs(seed, **options)``: random inputs, deterministic from the seed and options
   (plain numeric arrays only, so they can travel as an ``.npz`` file);
2. ``call(functions, inputs)``: runs the student's functions on them and returns their outputs
   as float64 (or int64) arrays; it uses nothing but numpy and the student's functions;
3. ``judge(inputs, outputs)``: compares the outputs with the library's reference ops and with
   numerical gradients (``course.gradcheck``) and returns a :class:`Result`.

A test cell in a notebook calls all three at once through :func:`check`::

    check("a1.linear_backward", linear_forward, linear_backward, seed=3, n=2)

Nothing from ``course.ops``, ``course.kernels``, ``course.nn`` or ``course.models`` is imported at
module level: the grading worker imports this module while those packages are blocked.
"""

import contextlib
import importlib
import io
import math
import sys
import warnings
from dataclasses import dataclass

import numpy as np

VALUE_TOL = 1e-7
"""Largest relative error accepted for a value computed in float64 (forward passes, losses)."""
GRAD_TOL = 1e-6
"""Largest relative error accepted for a gradient, against the numerical one in float64."""


@dataclass
class Result:
    """The verdict on one check.

    ``reason`` is one of ``"ok"``, ``"wrong value"``, ``"wrong gradient"``, ``"wrong shape"``,
    ``"error"``. ``margin`` is the worst error divided by its tolerance (below 1 passes).
    """

    passed: bool
    message: str
    reason: str = "ok"
    margin: float = 0.0

    def _ipython_display_(self):
        """Show nothing in a notebook: :func:`check` has already printed its line."""


class Check:
    """One graded exercise: the student functions it takes and how to test them.

    Args:
        name: registry key, ``"<assignment>.<exercise>"``, e.g. ``"a1.linear_forward"``.
        functions: names of the student functions, in the order :meth:`call` takes them.
        forbidden: dotted names of library objects the student must not call.
        defaults: the options :meth:`make_inputs` accepts, with their default values.
    """

    def __init__(self, name, functions, forbidden=(), defaults=None):
        self.name = name
        self.functions = tuple(functions)
        self.forbidden = tuple(forbidden)
        self.defaults = dict(defaults or {})

    @property
    def label(self):
        """What the printed line calls the exercise: its last function's name."""
        return self.functions[-1]

    def options(self, options):
        """The defaults updated with ``options``; unknown option names raise ``TypeError``."""
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise TypeError(f"check {self.name!r} has no option(s) {unknown}; "
                            f"it takes {sorted(self.defaults)}")
        return {**self.defaults, **options}

    def make_inputs(self, seed, **options):
        """Random inputs as a dict of numpy arrays, the same for the same seed and options."""
        return self.make(np.random.default_rng(seed), **self.options(options))

    def make(self, rng, **options):
        raise NotImplementedError

    def call(self, functions, inputs):
        """Run the student's functions; return their outputs as a dict of numpy arrays."""
        raise NotImplementedError

    def judge(self, inputs, outputs, **options):
        """Compare the outputs with the reference; return a :class:`Result`."""
        raise NotImplementedError


CHECKS = {}
"""Every check by name."""


def register(check_):
    CHECKS[check_.name] = check_
    return check_


# ---------------------------------------------------------------------------------------------
# Helpers shared by the checks


def as_output(value, what):
    """The student's value as a numpy array (int64 for integer values, else float64).

    Converting with ``np.array(..., dtype=...)`` means an object with a rigged ``__eq__`` or
    ``__array__`` trick cannot pass for a correct answer.
    """
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.integer):
        return np.array(value, dtype=np.int64)
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} should be a numpy array of numbers, got "
                        f"{type(value).__name__}") from exc


def unpack(result, count, what):
    """``result`` as a tuple of ``count`` values, or a TypeError that says what was expected."""
    if not isinstance(result, (tuple, list)) or len(result) != count:
        got = f"a {len(result)}-tuple" if isinstance(result, (tuple, list)) else \
            type(result).__name__
        raise TypeError(f"{what}; got {got}")
    return tuple(result)


def copies(inputs, names):
    """Fresh copies of the named inputs (the student may change what they are given)."""
    return [np.array(inputs[name]) for name in names]


def modified(before, after, names):
    """int64 flags, one per name: 1 where the student changed an input array in place."""
    return np.array([0 if np.array_equal(b, a, equal_nan=True) else 1
                     for b, a in zip(before, after, strict=True)], dtype=np.int64)


def rel_error(a, b):
    """``course.gradcheck.rel_error``: ``max|a - b|`` relative to the larger magnitude."""
    from course.gradcheck import rel_error as _rel_error

    return _rel_error(a, b)


def kink_free(x, margin=0.05):
    """Push every entry at least ``margin`` away from 0 (ReLU's kink), keeping its sign."""
    return x + np.copysign(margin, x)


def tie_free(rng, shape, scale=1.0):
    """Distinct values spaced at least ``scale / size`` apart, in random order (max-pooling)."""
    size = math.prod(shape)
    values = np.linspace(-scale, scale, size) if size > 1 else np.zeros(1)
    return rng.permutation(values).reshape(shape)


def as_shape(value):
    """An option given as an int or a tuple of ints, as a tuple."""
    return tuple(value) if isinstance(value, (tuple, list)) else (int(value),)


def compare(entries, tol, label, wrong):
    """Compare (name, student, expected, what) entries; the first mismatch fails the check.

    ``what`` names the reference in the message ("the reference", "the numerical gradient").
    Returns a :class:`Result` whose message lists every error.
    """
    worst = 0.0
    parts = []
    for name, student, expected, what in entries:
        student = np.asarray(student)
        expected = np.asarray(expected, dtype=np.float64)
        if student.shape != expected.shape:
            return Result(False, f"{label}: {name} has shape {student.shape}, expected "
                                 f"{expected.shape}", "wrong shape", math.inf)
        error = rel_error(student, expected)
        if not error <= tol:  # also catches NaN
            index = np.unravel_index(np.argmax(np.abs(student - expected)), student.shape) \
                if student.ndim else ()
            at = f" at index {tuple(int(i) for i in index)}" if index else ""
            return Result(
                False,
                f"{label}: {name} is wrong: relative error {error:.1e} against {what} "
                f"(a correct one is below {tol:.0e}); largest difference{at}: you give "
                f"{student[index]:.6g}, expected {expected[index]:.6g}",
                wrong, error / tol if np.isfinite(error) else math.inf)
        worst = max(worst, error / tol)
        parts.append(f"{name} {error:.1e}")
    return Result(True, f"{label}: relative error {', '.join(parts)} (expect < {tol:.0e}) "
                        f"... OK", "ok", worst)


def first_failure(label, shown, *checked):
    """The first failed result among ``shown`` and ``checked``, or one passed result whose
    message lists the errors of the ``shown`` ones (``checked`` ones only have to pass)."""
    for result in (*shown, *checked):
        if not result.passed:
            return result
    body = "; ".join(r.message.split(": relative error ", 1)[1].removesuffix(" ... OK")
                     for r in shown)
    return Result(True, f"{label}: relative error {body} ... OK", "ok",
                  max(r.margin for r in (*shown, *checked)))


def modified_inputs(outputs, names, label):
    """A failed Result when the student changed one of the named inputs in place, else None."""
    flags = outputs.get("inputs_modified")
    if flags is None:
        return None
    changed = [name for name, flag in zip(names, np.asarray(flags), strict=False) if flag]
    if changed:
        return Result(False, f"{label}: changed its input {changed[0]!r} in place; work on a "
                             f"copy (the caller still needs it)", "wrong value", math.inf)
    return None


def mask_problem(masks, p, label):
    """A failed Result when boolean ``masks`` (two masks drawn with different seeds) do not
    look random: identical, or with a kept fraction of ``1 - p`` overall but not in each half
    of the array (a mask that always drops the same entries, or the last ``p * N``)."""
    first, second = (np.asarray(m, dtype=bool).ravel() for m in masks)
    if first.size > 1 and np.array_equal(first, second):
        return Result(False, f"{label}: the mask is the same for two different seeds: draw it "
                             f"at random with the rng you are given", "wrong value", math.inf)
    for mask in (first, second):
        for half in (mask[: mask.size // 2], mask[mask.size // 2:]):
            spread = 5 * math.sqrt(p * (1 - p) / max(half.size, 1))
            if half.size and abs(half.mean() - (1 - p)) > spread + 1e-12:
                return Result(False, f"{label}: the mask keeps {half.mean():.3f} of one half "
                                     f"of the values, expected {1 - p:.3f} +- {spread:.3f}: "
                                     f"each value must be dropped independently with "
                                     f"probability p", "wrong value", math.inf)
    return None


def reference_ops():
    """``course.ops``, imported on demand (never in the grading worker)."""
    return importlib.import_module("course.ops")


@contextlib.contextmanager
def reference_kernels():
    """Run the library's ops on the naive reference kernels, the test oracle."""
    from course.backend import use

    with use("reference"):
        yield


def numerical_gradients(f, arrays, names, douts, h=1e-5):
    """Numerical gradient of ``sum(f() * dout)`` for each named array (perturbed in place).

    ``f`` runs twice per entry, so it runs on the fast CPU kernels (which the library's own
    tests hold to the reference kernels) rather than on the naive loops.
    """
    from course.backend import use
    from course.gradcheck import numerical_gradient_array

    with use("numba"):
        return {name: numerical_gradient_array(f, arrays[name], douts, h) for name in names}


# ---------------------------------------------------------------------------------------------
# Layers: a forward check and a backward check per op


class OpCheck(Check):
    """Common ground of the forward and backward checks of an op ``NAME_forward/_backward``.

    Args:
        op: the op's name in ``course.ops``, e.g. ``"linear"``.
        args: names of ``NAME_forward``'s array arguments, in order.
        make: ``make(rng, **options) -> dict`` with those arrays (and params).
        params: names of keyword parameters of the forward, stored as 0-d arrays in the inputs.
        outputs: names of the forward's outputs (before the cache).
        wrt: names of the arguments the backward returns gradients for (default all ``args``).
        tol: tolerance for values; gradients use :data:`GRAD_TOL`.
    """

    def __init__(self, name, op, args, make, defaults, params=(), outputs=("out",), wrt=None,
                 module=None, kind="forward", tol=VALUE_TOL):
        functions = (f"{op}_forward",) if kind == "forward" else (f"{op}_forward",
                                                                  f"{op}_backward")
        forbidden = tuple(f"course.ops.{op}_{part}" for part in ("forward", "backward"))
        if module:
            forbidden += tuple(f"course.ops.{module}.{op}_{part}"
                               for part in ("forward", "backward"))
        super().__init__(name, functions, forbidden, defaults)
        self.op, self.args, self.params, self.outputs = op, tuple(args), tuple(params), outputs
        self.wrt = tuple(wrt or args)
        self.make = make
        self.tol = tol

    def forward_args(self, inputs):
        """Copies of the positional arrays and the keyword parameters as Python numbers."""
        args = copies(inputs, self.args)
        params = {name: inputs[name].item() for name in self.params}
        return args, params

    def run_forward(self, forward, args, params):
        """``forward(*args, **params)`` split into its outputs and its cache."""
        outputs = ", ".join(self.outputs)
        what = f"{forward.__name__} must return (({outputs}), cache)" if len(self.outputs) > 1 \
            else f"{forward.__name__} must return ({outputs}, cache)"
        result = forward(*args, **params)
        if len(self.outputs) > 1 and isinstance(result, (tuple, list)) and len(result) == 2:
            outs, cache = result  # ((out1, out2), cache), as the library's ops
            return unpack(outs, len(self.outputs), what), cache
        result = unpack(result, len(self.outputs) + 1, what)  # (out1, out2, cache) also works
        return result[:-1], result[-1]

    def reference_forward(self, inputs):
        arrays = {name: np.array(inputs[name], dtype=np.float64)
                  if np.issubdtype(inputs[name].dtype, np.floating) else inputs[name]
                  for name in self.args}
        params = {name: inputs[name].item() for name in self.params}
        forward = getattr(reference_ops(), f"{self.op}_forward")

        def run():
            result = forward(*(arrays[name] for name in self.args), **params)
            outs = result[0]
            return tuple(outs) if isinstance(outs, (tuple, list)) else (outs,)

        return arrays, params, run


class ForwardCheck(OpCheck):
    """``NAME_forward`` against the library's reference op."""

    def call(self, functions, inputs):
        (forward,) = functions
        args, params = self.forward_args(inputs)
        outs, _ = self.run_forward(forward, args, params)
        outputs = {name: as_output(value, f"{forward.__name__}'s {name}")
                   for name, value in zip(self.outputs, outs, strict=True)}
        outputs["inputs_modified"] = modified(copies(inputs, self.args), args, self.args)
        return outputs

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, self.args, self.label)
        if failed:
            return failed
        with reference_kernels():
            _, _, run = self.reference_forward(inputs)
            expected = run()
        entries = [(name, outputs[name], value, "the reference")
                   for name, value in zip(self.outputs, expected, strict=True)]
        return compare(entries, self.tol, self.label, "wrong value")


class BackwardCheck(OpCheck):
    """``NAME_backward`` against numerical gradients of the reference forward and against the
    reference backward; the student's own forward builds the cache."""

    def make_inputs(self, seed, **options):
        inputs = super().make_inputs(seed, **options)
        with_douts = dict(inputs)
        rng = np.random.default_rng([seed, 1])
        shapes = self.output_shapes(inputs)
        for name, shape in zip(self.outputs, shapes, strict=True):
            with_douts[f"d{name}"] = rng.standard_normal(shape)
        return with_douts

    def output_shapes(self, inputs):
        """Shapes of the forward's outputs, from the reference op (no student code)."""
        with reference_kernels(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, _, run = self.reference_forward(inputs)
            return [np.shape(o) for o in run()]

    def douts(self, inputs):
        return [inputs[f"d{name}"] for name in self.outputs]

    def call(self, functions, inputs):
        forward, backward = functions
        args, params = self.forward_args(inputs)
        _, cache = self.run_forward(forward, args, params)
        douts = copies(inputs, [f"d{name}" for name in self.outputs])
        dout = douts[0] if len(douts) == 1 else tuple(douts)
        grads = backward(dout, cache)
        if len(self.wrt) == 1 and not isinstance(grads, (tuple, list)):
            grads = (grads,)
        what = (f"{backward.__name__} must return the gradients "
                f"({', '.join('d' + n for n in self.wrt)})")
        grads = unpack(grads, len(self.wrt), what)
        outputs = {f"d{name}": as_output(g, f"{backward.__name__}'s d{name}")
                   for name, g in zip(self.wrt, grads, strict=True)}
        names = [f"d{name}" for name in self.outputs]
        outputs["inputs_modified"] = modified(self.douts(inputs), douts, names)
        return outputs

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, [f"d{name}" for name in self.outputs], self.label)
        if failed:
            return failed
        douts = self.douts(inputs)
        dout = douts[0] if len(douts) == 1 else tuple(douts)
        with reference_kernels():
            arrays, params, run = self.reference_forward(inputs)
            numerical = numerical_gradients(run, arrays, self.wrt, douts)
            ops = reference_ops()
            result = getattr(ops, f"{self.op}_forward")(
                *(arrays[name] for name in self.args), **params)
            grads = getattr(ops, f"{self.op}_backward")(dout, result[-1])
        grads = grads if isinstance(grads, (tuple, list)) else (grads,)
        against_numerical = compare(
            [(f"d{name}", outputs[f"d{name}"], numerical[name], "the numerical gradient")
             for name in self.wrt], GRAD_TOL, self.label, "wrong gradient")
        against_reference = compare(
            [(f"d{name}", outputs[f"d{name}"], g, "the reference backward")
             for name, g in zip(self.wrt, grads, strict=True)],
            GRAD_TOL, self.label, "wrong gradient")
        return first_failure(self.label, (against_numerical,), against_reference)


def op_checks(prefix, op, args, make, defaults, module, **kwargs):
    """Register the forward and backward checks of one op."""
    register(ForwardCheck(f"{prefix}.{op}_forward", op, args, make, defaults, module=module,
                          kind="forward", **kwargs))
    register(BackwardCheck(f"{prefix}.{op}_backward", op, args, make, defaults, module=module,
                           kind="backward", **kwargs))


# ---------------------------------------------------------------------------------------------
# Losses: ``loss(scores, y) -> (loss, dscores)``


class LossCheck(Check):
    """A loss against the reference loss, its gradient against the numerical gradient."""

    def __init__(self, name, loss, make, defaults, module="losses"):
        super().__init__(name, (loss,), (f"course.ops.{loss}", f"course.ops.{module}.{loss}"),
                         defaults)
        self.loss, self.make = loss, make

    def call(self, functions, inputs):
        (loss_fn,) = functions
        scores, y = copies(inputs, ("scores", "y"))
        loss, dscores = unpack(loss_fn(scores, y), 2,
                               f"{loss_fn.__name__} must return (loss, dscores)")
        return {"loss": as_output(loss, f"{loss_fn.__name__}'s loss"),
                "dscores": as_output(dscores, f"{loss_fn.__name__}'s dscores"),
                "inputs_modified": modified(copies(inputs, ("scores",)), [scores], ["scores"])}

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, ["scores"], self.label)
        if failed:
            return failed
        loss_fn = getattr(reference_ops(), self.loss)
        scores = np.array(inputs["scores"], dtype=np.float64)
        y = inputs["y"]
        expected_loss, expected_dscores = loss_fn(scores, y)
        numerical = numerical_gradients(lambda: loss_fn(scores, y)[0], {"scores": scores},
                                        ["scores"], 1.0)["scores"]
        shown = (compare([("loss", outputs["loss"], expected_loss, "the reference")],
                         VALUE_TOL, self.label, "wrong value"),
                 compare([("dscores", outputs["dscores"], numerical, "the numerical gradient")],
                         GRAD_TOL, self.label, "wrong gradient"))
        return first_failure(self.label, shown, compare(
            [("dscores", outputs["dscores"], expected_dscores, "the reference")],
            GRAD_TOL, self.label, "wrong gradient"))


# ---------------------------------------------------------------------------------------------
# Whole models: ``model_loss(X, y, params, reg) -> (loss, grads)``


class ModelLossCheck(Check):
    """A model's loss and the gradients of all its parameters, CS231n style.

    Args:
        function: the student function, called as ``function(*data, params, reg)``.
        data: names of the data inputs (e.g. ``("X", "y")``), passed first.
        params: names of the parameters: the keys of ``params`` and of the returned ``grads``.
        make: ``make(rng, **options) -> dict`` with the data, the parameters and ``reg``.
        reference: ``reference(*data, params, reg) -> (loss, grads)`` from the library's ops.
        regularized: False for a model without ``reg``: then ``function(*data, params)``.
    """

    def __init__(self, name, function, data, params, make, reference, defaults,
                 regularized=True):
        super().__init__(name, (function,), (), defaults)
        self.data, self.params = tuple(data), tuple(params)
        self.make, self.reference = make, reference
        self.regularized = regularized

    def extra(self, inputs):
        """``(reg,)`` for a regularised model, else nothing."""
        return (float(inputs["reg"]),) if self.regularized else ()

    def call(self, functions, inputs):
        (model_loss,) = functions
        name = model_loss.__name__
        data = copies(inputs, self.data)
        values = copies(inputs, self.params)
        params = dict(zip(self.params, values, strict=True))
        loss, grads = unpack(model_loss(*data, params, *self.extra(inputs)), 2,
                             f"{name} must return (loss, grads)")
        if not isinstance(grads, dict) or set(grads) != set(self.params):
            keys = f" with keys {sorted(grads)}" if isinstance(grads, dict) else ""
            raise TypeError(f"{name} must return grads as a dict with keys "
                            f"{', '.join(self.params)}; got {type(grads).__name__}{keys}")
        outputs = {"loss": as_output(loss, f"{name}'s loss")}
        outputs.update({f"d{k}": as_output(grads[k], f"grads[{k!r}]") for k in self.params})
        names = (*self.data, *self.params)
        outputs["inputs_modified"] = modified(copies(inputs, names), [*data, *values], names)
        return outputs

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, (*self.data, *self.params), self.label)
        if failed:
            return failed
        data = [inputs[k] for k in self.data]
        extra = self.extra(inputs)
        params = {k: np.array(inputs[k], dtype=np.float64) for k in self.params}
        with reference_kernels():
            loss, grads = self.reference(*data, params, *extra)
            numerical = numerical_gradients(lambda: self.reference(*data, params, *extra)[0],
                                            params, self.params, 1.0)
        shown = (compare([("loss", outputs["loss"], loss, "the reference")], VALUE_TOL,
                         self.label, "wrong value"),
                 compare([(f"d{k}", outputs[f"d{k}"], numerical[k], "the numerical gradient")
                          for k in self.params], GRAD_TOL, self.label, "wrong gradient"))
        return first_failure(self.label, shown, compare(
            [(f"d{k}", outputs[f"d{k}"], grads[k], "the reference") for k in self.params],
            GRAD_TOL, self.label, "wrong gradient"))


# ---------------------------------------------------------------------------------------------
# The self-check that test cells call


@contextlib.contextmanager
def quiet():
    """No warnings, no floating-point messages, nothing on stderr (nbgrader scores a test cell
    that writes to stderr zero)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _forbidden_stub(dotted):
    def stub(*args, **kwargs):
        raise RuntimeError(f"{dotted} is the library's own solution: this exercise must be "
                           f"written by hand in the notebook")

    return stub


@contextlib.contextmanager
def forbidden_stubbed(names, functions):
    """Replace each forbidden library object by a stub that raises, in its module and in the
    student functions' global namespaces, for the duration of the block.

    Yields ``{id(original): stub}``, so that a library function handed in as the student's own
    (``from course.ops import relu_forward``) can be replaced by its stub too.
    """
    restore, stubs = [], {}
    for dotted in names:
        module_name, attr = dotted.rsplit(".", 1)
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            module = sys.modules.get(module_name)
        original = getattr(module, attr, None) if module is not None else None
        if original is None:
            continue
        stub = stubs.setdefault(id(original), _forbidden_stub(dotted))
        restore.append((module, attr, original))
        setattr(module, attr, stub)
        for function in functions:
            namespace = getattr(function, "__globals__", {})
            for key, value in list(namespace.items()):
                if value is original:
                    restore.append((namespace, key, original))
                    namespace[key] = stub
    try:
        yield stubs
    finally:
        for owner, key, original in reversed(restore):
            if isinstance(owner, dict):
                owner[key] = original
            else:
                setattr(owner, key, original)


def check(name, *functions, seed=0, **options):
    """Run the check ``name`` on the student's functions and print one line.

    Args:
        name: a key of :data:`CHECKS`, e.g. ``"a1.linear_backward"``.
        functions: the student's functions, in the order the check lists them.
        seed: seeds the random inputs. options: shapes and settings of the inputs.

    Returns:
        the :class:`Result`.

    Raises:
        AssertionError: with a message that says which output or gradient is wrong and by how
            much, when the check fails.
    """
    if name not in CHECKS:
        raise AssertionError(f"there is no check named {name!r}")
    spec = CHECKS[name]
    if len(functions) != len(spec.functions) or not all(callable(f) for f in functions):
        raise AssertionError(f"check {name!r} needs {len(spec.functions)} function(s): "
                             f"{', '.join(spec.functions)}")
    with quiet():
        inputs = spec.make_inputs(seed, **options)
        try:
            with forbidden_stubbed(spec.forbidden, functions) as stubs:
                functions = tuple(stubs.get(id(f), f) for f in functions)
                outputs = spec.call(functions, inputs)
        except Exception as exc:  # the student's code failed: say so, keep the traceback
            error = f"{type(exc).__name__}: {exc}" if str(exc) else \
                f"raised {type(exc).__name__}"
            raise AssertionError(f"{spec.label}: {error}") from exc
        result = spec.judge(inputs, outputs, **options)
    if not result.passed:
        raise AssertionError(result.message)
    print(result.message)
    return result


# Each assignment's checks live in their own module, which registers them when imported.
import course.grading.a1_backprop  # noqa: E402, F401
import course.grading.a2_convnets  # noqa: E402, F401
import course.grading.a3_regularization  # noqa: E402, F401
import course.grading.a4_captioning  # noqa: E402, F401
import course.grading.selftest  # noqa: E402, F401 - the pipeline's own tests' check
