"""Checks of assignment 6, make it fast (lectures 3, 4 and 9): the student's Numba kernels.

The student writes five CPU kernels that fill arrays they are given (stride and padding are
ints, as in the other assignments; ``Ho = (H + 2 * padding - KH) // stride + 1``):

    im2col(x, kh, kw, stride, padding, cols)     x (N, C, H, W) -> cols (C*KH*KW, N*Ho*Wo)
    col2im_fast(cols, kh, kw, stride, padding, dx)    the adjoint: cols -> dx (N, C, H, W)
    maxpool_forward(x, size, stride, out, argmax)    out, argmax (N, C, Ho, Wo); argmax int64
    maxpool_backward(dout, argmax, dx)           dout (N, C, Ho, Wo) -> dx (N, C, H, W)
    bias_relu(x, b, out)                         out = max(x + b[f], 0), x (N, F, H, W)

with ``cols[(c*KH + ki)*KW + kj, (n*Ho + i)*Wo + j] = x_padded[n, c, i*s + ki, j*s + kj]`` and
``argmax`` the flat index ``h * W + w`` of each window's first maximum in its (H, W) plane.
The readable reference of each is the same loops in plain Python (:data:`REFERENCE`): the
oracle of the checks and the baseline of the speed ratio.

Three defences go beyond comparing values:

- **guard bands**: every array the kernel gets is a view into a larger buffer; the bands
  around an input hold :data:`BIG` (a kernel that reads outside its input returns it, or wins
  a max with it) and the bands around an output hold NaN (a kernel that writes outside its
  output changes them), so an out-of-range access fails the check instead of corrupting
  memory unnoticed;
- **races** (:func:`prange_races`): the grading sandbox runs Numba with one thread, where a
  ``prange`` loop whose iterations add into the same element still gives the right sum. So
  the check runs the kernel's Python code (``py_func``), each ``prange`` iteration on its own,
  and records which elements of the output each iteration changes; two iterations of one
  ``prange`` loop that change the same element race when threads run them at once. This is
  deterministic, whatever the number of threads and the timing;
- **speed** (:class:`SpeedCheck`) is a ratio to the reference loops, timed in the same process
  in alternation (the best of a few runs each), never an absolute time.

Registered in :data:`course.grading.checks.CHECKS` under ``"a6.<exercise>"``.
"""

import math
import time

import numpy as np

from course.grading.checks import Check, Result, as_output, compare, register, tie_free
from course.grading.training import TrainingCheck, adam_steps, digits

BIG = 1e30
"""What the guard bands around an input hold."""
GUARD = 64
"""Least number of guard entries on each side of an array (at least the array's size)."""


def output_size(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


# ---------------------------------------------------------------------------------------------
# The readable reference kernels: plain Python loops, the same ones the student compiles


def reference_im2col(x, kh, kw, stride, padding, cols):
    n, c, h, w = x.shape
    ho, wo = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    for row in range(c * kh * kw):
        ch, ki, kj = row // (kh * kw), row // kw % kh, row % kw
        for s in range(n):
            for i in range(ho):
                for j in range(wo):
                    y, z = i * stride - padding + ki, j * stride - padding + kj
                    inside = 0 <= y < h and 0 <= z < w
                    cols[row, (s * ho + i) * wo + j] = x[s, ch, y, z] if inside else 0.0


def reference_col2im(cols, kh, kw, stride, padding, dx):
    n, c, h, w = dx.shape
    ho, wo = output_size(h, kh, stride, padding), output_size(w, kw, stride, padding)
    for s in range(n):
        for ch in range(c):
            dx[s, ch] = 0.0
            for ki in range(kh):
                for kj in range(kw):
                    row = (ch * kh + ki) * kw + kj
                    for i in range(ho):
                        for j in range(wo):
                            y, z = i * stride - padding + ki, j * stride - padding + kj
                            if 0 <= y < h and 0 <= z < w:
                                dx[s, ch, y, z] += cols[row, (s * ho + i) * wo + j]


def reference_maxpool_forward(x, size, stride, out, argmax):
    n, c, h, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    for s in range(n):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, where = x[s, ch, i * stride, j * stride], i * stride * w + j * stride
                    for di in range(size):
                        for dj in range(size):
                            y, z = i * stride + di, j * stride + dj
                            if x[s, ch, y, z] > best:
                                best, where = x[s, ch, y, z], y * w + z
                    out[s, ch, i, j], argmax[s, ch, i, j] = best, where


def reference_maxpool_backward(dout, argmax, dx):
    n, c, h, w = dx.shape
    for s in range(n):
        for ch in range(c):
            dx[s, ch] = 0.0
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    where = argmax[s, ch, i, j]
                    dx[s, ch, where // w, where % w] += dout[s, ch, i, j]


def reference_bias_relu(x, b, out):
    n, f, h, w = x.shape
    for s in range(n):
        for k in range(f):
            for y in range(h):
                for z in range(w):
                    out[s, k, y, z] = max(x[s, k, y, z] + b[k], 0.0)


# ---------------------------------------------------------------------------------------------
# One kernel, its arguments and outputs


class Kernel:
    """How to call one kernel: its array arguments, int parameters, outputs and reference.

    ``outputs(inputs)`` gives ``{name: (shape, dtype)}`` of the arrays the kernel fills.
    """

    def __init__(self, name, arrays, params, outputs, reference, make):
        self.name, self.arrays, self.params = name, tuple(arrays), tuple(params)
        self.outputs, self.reference, self.make = outputs, reference, make

    def run(self, kernel, inputs, guard_fill=BIG):
        """``kernel`` on guarded copies of the inputs. Returns ``(outputs, flags)``: the
        filled outputs and ``{"wrote_outside": 0/1, "inputs_modified": 0/1}``."""
        views, buffers = [], []
        for name in self.arrays:
            value = inputs[name]
            fill = 0 if np.issubdtype(value.dtype, np.integer) else guard_fill
            buffer, view = guarded(value.shape, value.dtype, fill)
            view[...] = value
            views.append(view)
            buffers.append((buffer, buffer.copy()))
        outs = {}
        for name, (shape, dtype) in self.outputs(inputs).items():
            fill = -1 if np.issubdtype(dtype, np.integer) else np.nan
            outs[name] = guarded(shape, dtype, fill)
        params = [int(inputs[name]) for name in self.params]
        kernel(*views, *params, *(view for _, view in outs.values()))
        wrote = any(not np.all(_untouched(bands(buffer, view))) for buffer, view in outs.values())
        changed = any(not np.array_equal(b, before, equal_nan=True) for b, before in buffers)
        return ({name: view for name, (_, view) in outs.items()},
                {"wrote_outside": np.array(int(wrote)), "inputs_modified": np.array(int(changed))})

    def expected(self, inputs):
        outs = {name: np.zeros(shape, dtype) for name, (shape, dtype) in
                self.outputs(inputs).items()}
        self.reference(*(inputs[name] for name in self.arrays),
                       *(int(inputs[name]) for name in self.params), *outs.values())
        return outs


def guarded(shape, dtype, fill):
    """``(buffer, view)``: a C-contiguous ``view`` of ``shape`` in the middle of ``buffer``,
    which holds ``fill`` everywhere (the guard bands around the view included)."""
    size = math.prod(shape)
    band = max(GUARD, size)
    buffer = np.full(size + 2 * band, fill, dtype=dtype)
    return buffer, buffer[band:band + size].reshape(shape)


def bands(buffer, view):
    """The guard bands of ``buffer`` around ``view``, one after the other."""
    band = (buffer.size - view.size) // 2
    return np.concatenate([buffer[:band], buffer[band + view.size:]])


def _untouched(values):
    """True where an output's guard band still holds its fill (-1 or NaN)."""
    return values == -1 if np.issubdtype(values.dtype, np.integer) else np.isnan(values)


def _conv_shapes(inputs):
    n, c, h, w = inputs["x"].shape if "x" in inputs else inputs["dx_shape"]
    kh, kw, s, p = (int(inputs[k]) for k in ("kh", "kw", "stride", "padding"))
    return n, c, h, w, kh, kw, output_size(h, kh, s, p), output_size(w, kw, s, p)


def _im2col_outputs(inputs):
    n, c, _, _, kh, kw, ho, wo = _conv_shapes(inputs)
    return {"cols": ((c * kh * kw, n * ho * wo), np.float64)}


def _col2im_outputs(inputs):
    return {"dx": (tuple(int(v) for v in inputs["dx_shape"]), np.float64)}


def _pool_outputs(inputs):
    n, c, h, w = inputs["x"].shape
    size, stride = int(inputs["size"]), int(inputs["stride"])
    shape = (n, c, output_size(h, size, stride, 0), output_size(w, size, stride, 0))
    return {"out": (shape, np.float64), "argmax": (shape, np.int64)}


def _pool_backward_outputs(inputs):
    return {"dx": (tuple(int(v) for v in inputs["dx_shape"]), np.float64)}


def make_im2col(rng, n, c, h, w, k, stride, padding):
    return {"x": rng.standard_normal((n, c, h, w)), "kh": np.array(k), "kw": np.array(k),
            "stride": np.array(stride), "padding": np.array(padding)}


def make_col2im(rng, n, c, h, w, k, stride, padding):
    ho, wo = output_size(h, k, stride, padding), output_size(w, k, stride, padding)
    return {"cols": rng.standard_normal((c * k * k, n * ho * wo)), "kh": np.array(k),
            "kw": np.array(k), "stride": np.array(stride), "padding": np.array(padding),
            "dx_shape": np.array((n, c, h, w))}


def make_pool(rng, n, c, h, w, size, stride):
    return {"x": tie_free(rng, (n, c, h, w)), "size": np.array(size), "stride": np.array(stride)}


def make_pool_backward(rng, n, c, h, w, size, stride):
    """The reference forward's argmax of tie-free inputs, and a random dout."""
    x = tie_free(rng, (n, c, h, w))
    ho, wo = output_size(h, size, stride, 0), output_size(w, size, stride, 0)
    out, argmax = np.zeros((n, c, ho, wo)), np.zeros((n, c, ho, wo), dtype=np.int64)
    reference_maxpool_forward(x, size, stride, out, argmax)
    return {"dout": rng.standard_normal((n, c, ho, wo)), "argmax": argmax,
            "dx_shape": np.array((n, c, h, w))}


def make_bias_relu(rng, n, c, h, w):
    return {"x": rng.standard_normal((n, c, h, w)), "b": rng.standard_normal(c)}


KERNELS = {
    "im2col": Kernel("im2col", ("x",), ("kh", "kw", "stride", "padding"), _im2col_outputs,
                     reference_im2col, make_im2col),
    "col2im_fast": Kernel("col2im_fast", ("cols",), ("kh", "kw", "stride", "padding"),
                          _col2im_outputs, reference_col2im, make_col2im),
    "maxpool_forward": Kernel("maxpool_forward", ("x",), ("size", "stride"), _pool_outputs,
                              reference_maxpool_forward, make_pool),
    "maxpool_backward": Kernel("maxpool_backward", ("dout", "argmax"), (),
                               _pool_backward_outputs, reference_maxpool_backward,
                               make_pool_backward),
    "bias_relu": Kernel("bias_relu", ("x", "b"), (),
                        lambda inputs: {"out": (inputs["x"].shape, np.float64)},
                        reference_bias_relu, make_bias_relu),
}
"""The five kernels, by the name the student's function has."""
REFERENCE = {name: kernel.reference for name, kernel in KERNELS.items()}


# ---------------------------------------------------------------------------------------------
# Races: which elements each iteration of a prange loop changes


class _Regions:
    """A stand-in for ``numba.prange`` in the kernel's Python code: every outermost ``prange``
    loop that starts is a parallel region; ``only = (region, k)`` runs iteration ``k`` of that
    region alone and no iteration of it otherwise (``k = None``), every other region whole."""

    def __init__(self, only=None):
        self.only, self.sizes, self.active = only, [], False

    def __call__(self, *args):
        if self.active:  # a prange inside a parallel loop runs serially, as in Numba
            return range(*args)
        region = len(self.sizes)
        self.sizes.append(len(range(*args)))
        return self._iterate(region, range(*args))

    def _iterate(self, region, iterations):
        self.active = True
        try:
            for k, value in enumerate(iterations):
                if self.only is None or self.only[0] != region or self.only[1] == k:
                    yield value
        finally:
            self.active = False


def _python_mode(kernel, prange):
    """Patch the kernel's globals so that it runs as Python: every Numba function in them is
    replaced by its Python code, ``numba.prange`` by ``prange``. Returns the undo function."""
    import numba

    namespace = kernel.__globals__
    saved = {}
    for name, value in list(namespace.items()):
        if value is numba.prange:
            saved[name], namespace[name] = value, prange
        elif isinstance(getattr(value, "py_func", None), type(output_size)):
            saved[name], namespace[name] = value, value.py_func
    original = numba.prange
    numba.prange = prange

    def undo():
        numba.prange = original
        namespace.update(saved)

    return undo


def prange_races(kernel, arguments, output):
    """``(region, k1, k2, flat index)`` of an element of ``output`` that two iterations of
    one ``prange`` loop of ``kernel`` (a Numba function) both change, or None.

    ``arguments`` are the kernel's arguments, ``output`` the index among them of the array it
    fills. Each run starts from the same ``output`` (NaN) and runs one iteration of one
    region; an element that differs from the run without that region's iterations is one it
    changed. Small shapes only: the kernel runs as plain Python, once per iteration.
    """
    py_func = getattr(kernel, "py_func", None)
    if py_func is None:
        return None  # plain Python: no threads, no races

    def run(only):
        prange = _Regions(only)
        args = [np.array(a) if isinstance(a, np.ndarray) else a for a in arguments]
        args[output][...] = np.nan
        undo = _python_mode(py_func, prange)
        try:
            py_func(*args)
        finally:
            undo()
        return args[output], prange.sizes

    _, sizes = run(None)
    for region, size in enumerate(sizes):
        if size < 2:
            continue
        base, _ = run((region, None))
        owner = np.full(base.size, -1)
        for k in range(size):
            changed = np.flatnonzero(~np.isclose(run((region, k))[0], base,
                                                 equal_nan=True).ravel())
            clash = changed[owner[changed] >= 0]
            if clash.size:
                return region, int(owner[clash[0]]), k, int(clash[0])
            owner[changed] = k
    return None


# ---------------------------------------------------------------------------------------------
# The checks


class KernelCheck(Check):
    """One kernel on random shapes against its reference, with guard bands (and, for a
    kernel that adds into its output, ``races``, the prange race test)."""

    def __init__(self, kernel, defaults, races=False, tol=1e-12):
        super().__init__(f"a6.{kernel.name}", (kernel.name,), FORBIDDEN, defaults)
        self.kernel, self.races, self.tol = kernel, races, tol

    def make(self, rng, **options):
        return self.kernel.make(rng, **options)

    def call(self, functions, inputs):
        (kernel,) = functions
        outs, flags = self.kernel.run(kernel, inputs)
        outputs = {name: as_output(value, f"{self.label}'s {name}")
                   for name, value in outs.items()}
        outputs.update(flags)
        if self.races:
            arguments = [np.abs(inputs[name]) + 1 if inputs[name].dtype.kind == "f"
                         else inputs[name] for name in self.kernel.arrays]  # no cancelling
            arguments += [int(inputs[name]) for name in self.kernel.params]
            (shape, dtype), = self.kernel.outputs(inputs).values()
            race = prange_races(kernel, [*arguments, np.zeros(shape, dtype)], len(arguments))
            outputs["race"] = np.array(race if race else (-1, -1, -1, -1), dtype=np.int64)
        return outputs

    def judge(self, inputs, outputs, **options):
        label = self.label
        if int(outputs["inputs_modified"]):
            return Result(False, f"{label}: changed one of its input arrays; a kernel only "
                                 f"writes its output", "wrong value", math.inf)
        if int(outputs["wrote_outside"]):
            return Result(False, f"{label}: wrote outside its output array (the guard band "
                                 f"around it changed): an index runs past an edge; check the "
                                 f"loop bounds", "wrong value", math.inf)
        expected = self.kernel.expected(inputs)
        for name, value in expected.items():
            got = outputs[name]
            if got.shape == value.shape and np.any(np.abs(got) >= BIG / 10):
                return Result(False, f"{label}: read outside its input (its {name} holds the "
                                     f"value of the guard band around the input): an index "
                                     f"runs past an edge; check the bounds of the padding "
                                     f"and of the windows", "wrong value", math.inf)
        race = outputs.get("race")
        if race is not None and race[0] >= 0:
            region, first, second, index = (int(v) for v in race)
            shape = next(iter(expected.values())).shape
            where = tuple(int(i) for i in np.unravel_index(index, shape))
            return Result(False, f"{label}: iterations {first} and {second} of a prange loop "
                                 f"both add into element {where} of the output: a race when "
                                 f"threads run them at the same time (parallelise over what "
                                 f"each iteration writes alone, e.g. the (n, c) planes)",
                          "wrong value", math.inf)
        entries = [(name, outputs[name], value, "the reference")
                   for name, value in expected.items()]
        return compare(entries, self.tol, label, "wrong value")


FORBIDDEN = ("course.kernels.cpu.conv._im2col", "course.kernels.cpu.conv._col2im",
             "course.kernels.cpu.pool._max_pool_forward",
             "course.kernels.cpu.pool._max_pool_backward")
"""The library's own Numba kernels, which a submission must not hand in as its own."""

CONV = {"n": 2, "c": 3, "h": 5, "w": 5, "k": 3, "stride": 1, "padding": 1}
POOL = {"n": 2, "c": 3, "h": 4, "w": 4, "size": 2, "stride": 2}
for _kernel, _defaults, _races in (("im2col", CONV, False), ("col2im_fast", CONV, True),
                                   ("maxpool_forward", POOL, False),
                                   ("maxpool_backward", POOL, True),
                                   ("bias_relu", {"n": 2, "c": 3, "h": 4, "w": 5}, False)):
    register(KernelCheck(KERNELS[_kernel], _defaults, races=_races))


# ---------------------------------------------------------------------------------------------
# Speed: a ratio to the reference loops, measured in one run


SPEED = {"im2col": {"n": 4, "c": 6, "h": 14, "w": 14, "k": 5, "stride": 1, "padding": 0},
         "col2im_fast": {"n": 4, "c": 6, "h": 14, "w": 14, "k": 5, "stride": 1, "padding": 0},
         "maxpool_forward": {"n": 4, "c": 6, "h": 28, "w": 28, "size": 2, "stride": 2},
         "maxpool_backward": {"n": 4, "c": 6, "h": 28, "w": 28, "size": 2, "stride": 2},
         "bias_relu": {"n": 4, "c": 6, "h": 28, "w": 28}}
"""A batch of 4 through LeNet-5's layers: the second convolution's windows (6 channels of
14x14, 5x5 filters) and the first layer's 6 maps of 28x28 for pooling and bias + ReLU."""

SPEEDUP = 20.0
"""Each kernel must be at least this many times faster than its reference loops. On the
project's shared 2-core machine, with one Numba thread and a busy loop running beside it, the
solution's slowest kernel was 367x faster in 10 runs (max pooling; the others 500x to 45,000x)
and a kernel left as Python 1.0x-1.6x (``benchmarks/bench_a6_grading.py``): the threshold is
18 times below the worst of those runs and 12 times above the uncompiled kernel's best."""


class SpeedCheck(Check):
    """Every kernel timed against its reference loops in the same process, in alternation:
    the best of ``rounds`` runs each (the best is what a busy machine disturbs least)."""

    slow = True  # one seed is enough: the inputs only set the values

    def __init__(self, name, rounds=3):
        super().__init__(name, tuple(SPEED), FORBIDDEN, {})
        self.rounds = rounds

    @property
    def label(self):
        return "speed"

    def make(self, rng, **options):
        inputs = {}
        for name, shape in SPEED.items():
            for key, value in KERNELS[name].make(rng, **shape).items():
                inputs[f"{name}.{key}"] = value
        return inputs

    def call(self, functions, inputs):
        ratios, unwritten = [], []
        for name, kernel in zip(SPEED, functions, strict=True):
            own = {k.split(".", 1)[1]: v for k, v in inputs.items() if k.startswith(name + ".")}
            spec = KERNELS[name]
            outs = [np.zeros(shape, dtype) for shape, dtype in spec.outputs(own).values()]
            arrays = [np.array(own[key]) for key in spec.arrays]
            params = [int(own[key]) for key in spec.params]
            mine = [np.full_like(o, -1 if np.issubdtype(o.dtype, np.integer) else np.nan)
                    for o in outs]
            kernel(*arrays, *params, *mine)  # compiles it (not timed)
            unwritten.append(int(any(np.any(o == -1) if np.issubdtype(o.dtype, np.integer)
                                     else np.any(np.isnan(o)) for o in mine)))
            best_ref = best_own = math.inf
            for _ in range(self.rounds):
                best_ref = min(best_ref, _seconds(spec.reference, arrays, params, outs, 1))
                best_own = min(best_own, _seconds(kernel, arrays, params, mine, 3))
            ratios.append(best_ref / max(best_own, 1e-9))
        return {"ratios": np.array(ratios), "unwritten": np.array(unwritten)}

    def judge(self, inputs, outputs, **options):
        names = list(SPEED)
        for name, flag in zip(names, outputs["unwritten"], strict=True):
            if flag:
                return Result(False, f"speed: {name} leaves part of its output unwritten, so "
                                     f"its time says nothing", "wrong value", math.inf)
        table = ", ".join(f"{name} {ratio:.0f}x" for name, ratio in
                          zip(names, outputs["ratios"], strict=True))
        slow = [name for name, ratio in zip(names, outputs["ratios"], strict=True)
                if not ratio >= SPEEDUP]
        if slow:
            return Result(False, f"speed: {', '.join(slow)} not at least {SPEEDUP:.0f}x faster "
                                 f"than the reference loops ({table}): is it compiled with "
                                 f"@njit, and free of Python objects in its loops?", "too slow",
                          SPEEDUP / max(min(outputs["ratios"]), 1e-9))
        return Result(True, f"speed against the reference loops: {table} (at least "
                            f"{SPEEDUP:.0f}x each required) ... OK", "ok", 0.0)


def _seconds(function, arrays, params, outs, repeats):
    """The best time of ``repeats`` calls of ``function(*arrays, *params, *outs)``."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function(*arrays, *params, *outs)
        best = min(best, time.perf_counter() - start)
    return best


register(SpeedCheck("a6.speed"))


# ---------------------------------------------------------------------------------------------
# The GPU part: checked where CuPy and a device exist, passed as not gradable elsewhere


def gpu_available():
    """True when CuPy imports and sees a CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device: all mean "not here"
        return False


class GpuCheck(Check):
    """``function`` (the student's CuPy code) against the reference on the GPU. Without CuPy or
    a device the part is not gradable here: the check passes with a message saying so (no
    points lost), unless the function is still the released stub."""

    def __init__(self, name, function, make, defaults, expected):
        super().__init__(name, (function,), (), defaults)
        self.make_, self.expected = make, expected

    def make(self, rng, **options):
        return self.make_(rng, **options)

    def args(self, inputs):
        params = [int(inputs[k]) for k in ("kh", "kw", "stride", "padding") if k in inputs]
        return inputs["x"], params

    def call(self, functions, inputs):
        (function,) = functions
        x, params = self.args(inputs)
        if not gpu_available():
            try:
                function(np.array(x), *params)
            except NotImplementedError:
                raise
            except Exception:  # noqa: S110 - CuPy missing: what the student's code needs
                pass
            return {"gradable": np.array(0)}
        import cupy

        out = function(cupy.asarray(x), *params)
        return {"gradable": np.array(1), "out": as_output(cupy.asnumpy(out), self.label)}

    def judge(self, inputs, outputs, **options):
        if not int(outputs["gradable"]):
            return Result(True, f"{self.label}: not gradable on this machine (no CuPy or no "
                                f"GPU): skipped, no points lost; it is checked where a GPU "
                                f"is present", "ok", 0.0)
        x, params = self.args(inputs)
        return compare([("out", outputs["out"], self.expected(x, *params), "the reference")],
                       1e-12, self.label, "wrong value")


def _expected_cols(x, kh, kw, stride, padding):
    outs = _im2col_outputs({"x": x, "kh": kh, "kw": kw, "stride": stride, "padding": padding})
    (shape, dtype), = outs.values()
    cols = np.zeros(shape, dtype)
    reference_im2col(x, kh, kw, stride, padding, cols)
    return cols


register(GpuCheck("a6.relu_gpu", "relu_gpu",
                  lambda rng, n, c: {"x": rng.standard_normal((n, c))}, {"n": 4, "c": 33},
                  lambda x: np.maximum(x, 0)))
register(GpuCheck("a6.im2col_gpu", "im2col_gpu", make_im2col, dict(CONV),
                  _expected_cols))


# ---------------------------------------------------------------------------------------------
# End to end: a convnet on the student's kernels, trained on the 8x8 digits


def train_on_kernels(functions, inputs):
    """conv 3x3 (padding 1) - bias + ReLU - 2x2 max pool - linear - softmax, its forward and
    backward passes made of the student's five kernels and matrix products; minibatch Adam.
    Returns the held-out scores (N, 10)."""
    im2col, col2im_fast, pool_forward, pool_backward, bias_relu = functions
    X, y, X_test = inputs["X_train"], inputs["y_train"], inputs["X_test"]
    rng = np.random.default_rng(int(inputs["seed"]))
    filters = int(inputs["filters"])
    n_in, c, h, w = X.shape
    features = filters * (h // 2) * (w // 2)
    params = {"W1": rng.standard_normal((filters, c * 9)) * np.sqrt(2 / (c * 9)),
              "b1": np.zeros(filters),
              "W2": rng.standard_normal((features, 10)) * np.sqrt(1 / features),
              "b2": np.zeros(10)}

    def forward(xb):
        n = len(xb)
        cols = np.empty((c * 9, n * h * w))
        im2col(xb, 3, 3, 1, 1, cols)
        conv = (params["W1"] @ cols).reshape(filters, n, h, w).transpose(1, 0, 2, 3).copy()
        active = np.empty_like(conv)
        bias_relu(conv, params["b1"], active)
        pooled = np.empty((n, filters, h // 2, w // 2))
        argmax = np.empty(pooled.shape, dtype=np.int64)
        pool_forward(active, 2, 2, pooled, argmax)
        scores = pooled.reshape(n, -1) @ params["W2"] + params["b2"]
        return scores, (cols, active, pooled, argmax)

    state, step, batch = {}, 0, int(inputs["batch_size"])
    for _ in range(int(inputs["epochs"])):
        order = rng.permutation(n_in)
        for start in range(0, n_in, batch):
            rows = order[start:start + batch]
            xb, n = np.ascontiguousarray(X[rows]), len(rows)
            scores, (cols, active, pooled, argmax) = forward(xb)
            probs = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(n), y[rows]] -= 1
            dscores = probs / n
            dpooled = (dscores @ params["W2"].T).reshape(pooled.shape)
            dactive = np.empty_like(active)
            pool_backward(dpooled, argmax, dactive)
            dconv = dactive * (active > 0)
            g = dconv.transpose(1, 0, 2, 3).reshape(filters, -1)
            grads = {"W1": g @ cols.T, "b1": g.sum(axis=1),
                     "W2": pooled.reshape(n, -1).T @ dscores, "b2": dscores.sum(axis=0)}
            step += 1
            adam_steps(params, grads, state, float(inputs["learning_rate"]), step)
            dcols = params["W1"].T @ g  # col2im: the data gradient, as a deeper layer needs
            dx = np.empty(xb.shape)
            col2im_fast(dcols, 3, 3, 1, 1, dx)
    return np.concatenate([forward(np.ascontiguousarray(X_test[i:i + 120]))[0]
                           for i in range(0, len(X_test), 120)])


register(TrainingCheck("a6.train_convnet", tuple(SPEED), train_on_kernels,
                       {"filters": 8, "learning_rate": 1e-2, "epochs": 4, "batch_size": 64},
                       threshold=0.9, seconds=120,
                       what="a convnet on your five kernels trained on the 8x8 digits",
                       data=lambda: digits(with_val=True)))
