"""Compiling CUDA sources with CuPy, once per source and dtype.

Every CUDA kernel of the course is a complete CUDA C++ source string that names its element
type ``real``; it is compiled with ``typedef float real;`` or ``typedef double real;`` in
front, so one source serves float32 and float64. Each kernel file lists its sources in a
module-level dict ``CUDA_SOURCES`` (name -> source), which the test suite also compiles with
``nvcc`` wherever ``nvcc`` is on the PATH, so a syntax error is caught without a GPU.
"""

import functools

import numpy as np

from course.backend import require_cupy

CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def with_real_type(source, dtype):
    """The source with its element type ``real`` fixed to ``dtype`` (float32 or float64)
    (GPU backend)."""
    return f"typedef {CTYPES[np.dtype(dtype)]} real;\n{source}"


@functools.cache
def _module(source, dtype_name):
    cupy = require_cupy()
    return cupy.RawModule(code=with_real_type(source, dtype_name), options=("-std=c++14",))


def get_kernel(source, name, dtype):
    """The ``extern "C"`` kernel ``name`` from ``source`` compiled for ``dtype`` (memoised)
    (GPU backend)."""
    return _module(source, np.dtype(dtype).name).get_function(name)


def launch(kernel, n, args, block=256):
    """Run ``kernel`` over ``n`` threads, one per output element (GPU backend):
    ``kernel(grid, block, args)``."""
    if n > 0:
        kernel(((n + block - 1) // block,), (block,), args)
