"""Planes framed by zeros, for the CPU convolution kernels (lecture 3).

A padded convolution first copies its images into a buffer framed by zeros (``pad``), the way
lecture 3's numpy im2col does with ``np.pad``: every window then lies inside the buffer, and the
kernels that read windows need no test for the padding. Gradients are summed into such a
buffer, and ``crop`` takes the frame off. The frame may be wider at the bottom and the right
than at the top and the left (the Winograd kernels read whole 4x4 tiles, past the last window
when the output size is odd). Both kernels walk their arrays as flat vectors with unsigned
indices (see ``conv.py``) and check the shapes they are given, so that no index leaves its
array whatever the arguments.
"""

import numpy as np
from numba import njit

from course.kernels.cpu.threads import workspace


@njit(inline="always")
def _check_frame(x_shape, ph, pw, xp_shape):
    """(Hp, Wp) of xp's planes, once xp is checked to hold x's planes framed by at least ph rows
    and pw columns."""
    m, c, h, w = x_shape
    hp, wp = xp_shape[2], xp_shape[3]
    if (xp_shape[0] != m or xp_shape[1] != c or ph < 0 or pw < 0 or hp < h + 2 * ph
            or wp < w + 2 * pw):
        raise ValueError("pad/crop: xp must have x's shape plus the padding")
    return hp, wp


@njit(nogil=True, cache=True)
def pad(x, ph, pw, xp):
    """xp[s, c] = x[s, c] from row ph and column pw, zeros everywhere else.

    x (m, C, H, W) and xp (m, C, Hp, Wp) with Hp >= H + 2*ph and Wp >= W + 2*pw, both
    C-contiguous.
    """
    m, c, h, w = x.shape
    hp, wp = _check_frame(x.shape, ph, pw, xp.shape)
    x_flat, xp_flat = x.reshape(-1), xp.reshape(-1)
    for plane in range(m * c):
        top, bottom = plane * hp * wp, (plane * hp + ph + h) * wp
        for t in range(ph * wp):
            xp_flat[np.uint64(top + t)] = 0
        for t in range((hp - ph - h) * wp):
            xp_flat[np.uint64(bottom + t)] = 0
        for y in range(h):
            src, dst = (plane * h + y) * w, (plane * hp + ph + y) * wp
            for t in range(pw):
                xp_flat[np.uint64(dst + t)] = 0
            for t in range(pw + w, wp):
                xp_flat[np.uint64(dst + t)] = 0
            for t in range(w):
                xp_flat[np.uint64(dst + pw + t)] = x_flat[np.uint64(src + t)]


@njit(nogil=True, cache=True)
def crop(xp, ph, pw, x):
    """x[s, c] = xp[s, c] from row ph and column pw: the inverse of pad.

    xp (m, C, Hp, Wp) and x (m, C, H, W) with Hp >= H + 2*ph and Wp >= W + 2*pw, both
    C-contiguous.
    """
    m, c, h, w = x.shape
    hp, wp = _check_frame(x.shape, ph, pw, xp.shape)
    x_flat, xp_flat = x.reshape(-1), xp.reshape(-1)
    for plane in range(m * c):
        for y in range(h):
            src, dst = (plane * hp + ph + y) * wp + pw, (plane * h + y) * w
            for t in range(w):
                x_flat[np.uint64(dst + t)] = xp_flat[np.uint64(src + t)]


def frame_buffer(shape, size, dtype):
    """This thread's buffer for the planes of an (m, C, H, W) array framed to size = (Hp, Wp)."""
    return workspace("framed", tuple(shape[:2]) + tuple(size), dtype)
