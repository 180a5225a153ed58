"""Channel concatenation and splitting as readable loops (lecture 6b, architectures): the oracle.

Arrays are viewed as (N, C, S): N examples, C channels, S = the product of the remaining
(spatial) sizes, so the same code serves (N, C, L), (N, C, H, W) and beyond. Concatenation
copies each input's channels into its own range of the output's channels; splitting copies
each range back out. The two are each other's backward pass.
"""

import numpy as np


def channel_concat(arrays):
    """Stack (N, C_k, ...) arrays along axis 1; returns (N, sum C_k, ...) (lecture 6b)."""
    first = arrays[0]
    channels = sum(a.shape[1] for a in arrays)
    out = np.empty((first.shape[0], channels) + first.shape[2:], dtype=first.dtype)
    offset = 0
    for a in arrays:
        for c in range(a.shape[1]):
            out[:, offset + c] = a[:, c]
        offset += a.shape[1]
    return out


def channel_split(x, sizes):
    """Cut (N, C, ...) into arrays of ``sizes[k]`` channels each (sum of sizes = C); returns a
    list of contiguous arrays (lecture 6b)."""
    parts, offset = [], 0
    for size in sizes:
        part = np.empty((x.shape[0], size) + x.shape[2:], dtype=x.dtype)
        for c in range(size):
            part[:, c] = x[:, offset + c]
        parts.append(part)
        offset += size
    return parts
