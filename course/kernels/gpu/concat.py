"""Channel concatenation and splitting on the GPU (lecture 6b, architectures).

Pure copies: CuPy's own ``concatenate`` and slicing kernels already run them at memory speed,
so no RawKernel of ours would add anything. CuPy is imported lazily.

Same names and signatures as ``course.kernels.reference.concat``.
"""

from course.backend import require_cupy


def channel_concat(arrays):
    """Stack (N, C_k, ...) CuPy arrays along axis 1; returns (N, sum C_k, ...) (lecture 6b)."""
    return require_cupy().concatenate(arrays, axis=1)


def channel_split(x, sizes):
    """Cut (N, C, ...) into contiguous CuPy arrays of ``sizes[k]`` channels each (lecture 6b)."""
    cupy = require_cupy()
    parts, offset = [], 0
    for size in sizes:
        parts.append(cupy.ascontiguousarray(x[:, offset:offset + size]))
        offset += size
    return parts
