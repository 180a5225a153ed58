"""Which array module and which kernel set an array uses, and moving arrays between devices.

Introduced in lecture 1 (neurons) and used by every op. Three kernel sets exist:

- ``"reference"``: readable numpy loops (``course.kernels.reference``), the test oracle;
- ``"numba"``: fast CPU kernels (``course.kernels.cpu``), the default for numpy arrays;
- ``"cupy"``: GPU kernels (``course.kernels.gpu``), always used for CuPy arrays.

``use("mine")`` is a fourth choice, above the kernels: each op runs the function the student
exported from the assignments (``course.mine``) where there is one, the library's elsewhere.

CuPy is optional: it is imported the first time a GPU path asks for it, never by ``import course``.
"""

import contextlib
import functools
import importlib
import platform

import numpy as np

_KERNEL_MODULES = {
    "reference": "course.kernels.reference",
    "numba": "course.kernels.cpu",
    "cupy": "course.kernels.gpu",
}
_cpu_kernel_set = "numba"
_dispatcher = None  # a course.mine.Dispatcher inside use("mine"), else None


def cupy_or_none():
    """Return the ``cupy`` module if it imports and sees a CUDA device, else None (lecture 1)."""
    try:
        import cupy
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
    except Exception:  # a CuPy without a driver raises its own CUDARuntimeError
        return None
    return cupy


def gpu_available():
    """True when CuPy is installed and a CUDA device is visible (lecture 1)."""
    return cupy_or_none() is not None


def require_cupy():
    """Return ``cupy`` or raise a RuntimeError that says what is missing (lecture 1)."""
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "this needs the GPU backend, but CuPy is not installed: "
            "pip install 'course[gpu]' (CUDA 12) or 'course[gpu-cuda13]' (CUDA 13)"
        ) from None
    if cupy_or_none() is None:
        raise RuntimeError("CuPy is installed but no CUDA device is visible")
    return cupy


def describe_device(device):
    """``{"name", "cuda_runtime", "cupy"}`` of ``device`` (lecture 9): the GPU's model name, the
    CUDA runtime's version ("12.8") and CuPy's; for ``"cpu"``, the processor and None, None."""
    if device == "cpu":
        return {"name": platform.processor() or platform.machine(), "cuda_runtime": None,
                "cupy": None}
    cupy = require_cupy()
    runtime = cupy.cuda.runtime.runtimeGetVersion()
    name = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)["name"]
    return {"name": name.decode() if isinstance(name, bytes) else name,
            "cuda_runtime": f"{runtime // 1000}.{runtime % 1000 // 10}",
            "cupy": cupy.__version__}


def array_module_for(device):
    """``numpy`` for ``"cpu"``, ``cupy`` for ``"cuda"`` (lecture 9)."""
    return np if device == "cpu" else require_cupy()


def synchronize(device):
    """Wait until ``device`` has finished the work queued on it (lecture 9): a GPU runs kernels
    asynchronously, the call that launches one returns at once. Nothing to wait for on the CPU."""
    if device != "cpu":
        require_cupy().cuda.Device().synchronize()


def is_cupy_array(x):
    """True for a ``cupy.ndarray``; checked without importing CuPy (lecture 1)."""
    return type(x).__module__.split(".")[0] == "cupy"


def get_array_module(*arrays):
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy`` (as Chainer and CuPy do)
    (lecture 1)."""
    for x in arrays:
        if is_cupy_array(x):
            import cupy

            return cupy
    return np


def device_of(x):
    """``"cuda"`` for a CuPy array, ``"cpu"`` otherwise (lecture 1)."""
    return "cuda" if is_cupy_array(x) else "cpu"


def to_device(x, device):
    """Return ``x`` on ``device`` (``"cpu"`` or ``"cuda"``); no copy if it is already there
    (lecture 1)."""
    if device == "cpu":
        return to_host(x)
    if device in ("cuda", "gpu"):
        if is_cupy_array(x):
            return x
        return require_cupy().asarray(x)
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


def to_host(x):
    """Return ``x`` as a numpy array (copies a CuPy array to host memory) (lecture 1)."""
    if is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def kernel_set_name(*arrays):
    """Name of the kernel set that ops use for these arrays (lecture 1)."""
    if any(is_cupy_array(x) for x in arrays):
        return "cupy"
    return _cpu_kernel_set


def kernels_for(*arrays):
    """Return the kernel module (reference, cpu or gpu) for these arrays (lecture 1).

    Every kernel module exposes the same function names with the same signatures, so an op
    calls ``kernels_for(x).conv2d_forward(...)`` and runs on whichever device ``x`` lives.
    """
    return importlib.import_module(_KERNEL_MODULES[kernel_set_name(*arrays)])


def dispatching(op):
    """``op`` wrapped so that inside ``use("mine")`` the student's function of the same name
    runs instead (``course.ops`` wraps each of its ops once, at import) (lecture 1)."""

    @functools.wraps(op)
    def run(*args, **kwargs):
        if _dispatcher is None:
            return op(*args, **kwargs)
        return _dispatcher.call(op, args, kwargs)

    return run


@contextlib.contextmanager
def use(kernel_set):
    """Run the ops on numpy arrays with another kernel set inside a ``with`` block (lecture 1).

    >>> with use("reference"):
    ...     out, cache = ops.conv2d_forward(x, w, b)   # the naive loops

    ``use("mine")`` runs each op through the student's own function (exported from the
    assignments, see :mod:`course.mine`) where the student's library has it, and the library's
    op elsewhere, printing once per op which one it used; it yields the
    :class:`course.mine.Dispatcher`, whose ``choices`` record them. Modules, models and the
    Trainer run unchanged on top of it (on the CPU: the student's functions are numpy code).
    """
    global _cpu_kernel_set, _dispatcher
    if kernel_set == "mine":
        from course.mine import Dispatcher, load

        previous = _dispatcher
        _dispatcher = Dispatcher(load())
        try:
            yield _dispatcher
        finally:
            _dispatcher = previous
        return
    if kernel_set not in ("reference", "numba"):
        raise ValueError(f"kernel_set must be 'reference' or 'numba' (or 'mine', your own "
                         f"library), got {kernel_set!r}")
    previous = _cpu_kernel_set
    _cpu_kernel_set = kernel_set
    try:
        yield
    finally:
        _cpu_kernel_set = previous
