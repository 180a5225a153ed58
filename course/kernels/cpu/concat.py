"""Channel concatenation and splitting on the CPU with Numba (lecture 6b, architectures).

One kernel copies a block of channels between two arrays viewed as (N, C, S); each parallel
iteration owns one (n, c) plane of the destination, so no two threads write the same element.
The op has already checked every shape, so ``src`` and ``dst`` always hold the channel range.

Same names and signatures as ``course.kernels.reference.concat``.
"""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True)
def _copy_channels(src, src_offset, dst, dst_offset, channels):
    """dst[:, dst_offset + c, :] = src[:, src_offset + c, :] for c < channels; both (N, C, S)."""
    n, s = src.shape[0], src.shape[2]
    for nc in prange(n * channels):
        i, c = nc // channels, nc % channels
        for k in range(s):
            dst[i, dst_offset + c, k] = src[i, src_offset + c, k]


def _planes(x):
    """x (N, C, ...) as a contiguous (N, C, S) array (S = 1 for x (N, C))."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], int(np.prod(x.shape[2:])))


def channel_concat(arrays):
    """Stack (N, C_k, ...) arrays along axis 1; returns (N, sum C_k, ...) (lecture 6b)."""
    first = arrays[0]
    channels = sum(a.shape[1] for a in arrays)
    out = np.empty((first.shape[0], channels) + first.shape[2:], dtype=first.dtype)
    flat, offset = _planes(out), 0
    for a in arrays:
        _copy_channels(_planes(a), 0, flat, offset, a.shape[1])
        offset += a.shape[1]
    return out


def channel_split(x, sizes):
    """Cut (N, C, ...) into arrays of ``sizes[k]`` channels each (sum of sizes = C); returns a
    list of contiguous arrays (lecture 6b)."""
    flat, parts, offset = _planes(x), [], 0
    for size in sizes:
        part = np.empty((x.shape[0], size) + x.shape[2:], dtype=x.dtype)
        _copy_channels(flat, offset, _planes(part), 0, size)
        parts.append(part)
        offset += size
    return parts
