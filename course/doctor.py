"""``course doctor``: what this machine offers the course (Python, numpy, Numba, CuPy, GPU)."""

import os
import platform

import numba
import numpy as np

import course
from course.backend import cupy_or_none, describe_device


def report():
    """Lines describing the environment; runs a tiny GPU kernel when a GPU is there
    (no lecture: ``course doctor``)."""
    lines = [
        f"python      {platform.python_version()} ({platform.machine()})",
        f"numpy       {np.__version__}",
        f"numba       {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} threads, "
        f"threading layer {numba.config.THREADING_LAYER}",
        f"openblas    OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}"
        + ("" if course.OPENBLAS_TIMEOUT_SET else
           " (numpy was imported before course, which could not set it: OpenBLAS read it then)"),
    ]
    try:
        import cupy
    except ImportError:
        lines.append("cupy        not installed (pip install 'course[gpu]' for CUDA 12, "
                     "'course[gpu-cuda13]' for CUDA 13)")
        return lines
    lines.append(f"cupy        {cupy.__version__}")
    if cupy_or_none() is None:
        lines.append("gpu         none visible (CuPy is installed but found no CUDA device)")
        return lines
    info = describe_device("cuda")
    lines.append(f"cuda        runtime {info['cuda_runtime']}")
    lines.append(f"gpu         {info['name']}")
    x = cupy.arange(-2, 3, dtype=cupy.float32)
    relu = cupy.ElementwiseKernel("T x", "T y", "y = x > 0 ? x : (T)0", "doctor_relu")
    ok = cupy.asnumpy(relu(x)).tolist() == [0.0, 0.0, 0.0, 1.0, 2.0]
    lines.append(f"kernel      tiny ReLU kernel {'ran correctly' if ok else 'gave WRONG results'}")
    return lines
