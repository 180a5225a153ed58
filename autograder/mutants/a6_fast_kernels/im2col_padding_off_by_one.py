"""im2col: ``0 <= y <= h`` instead of ``0 <= y < h``, so the windows past the bottom and
right edges read one pixel beyond the image (the next row, the next plane, or past the end of
``x``) instead of the padding's zeros."""
# cell: im2col
from numba import njit, prange


@njit(parallel=True)
def im2col(x, kh, kw, stride, padding, cols):
    n, c, h, w = x.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    for row in prange(c * kh * kw):
        ch, ki, kj = row // (kh * kw), row // kw % kh, row % kw
        for s in range(n):
            for i in range(ho):
                y = i * stride - padding + ki
                for j in range(wo):
                    z = j * stride - padding + kj
                    if 0 <= y <= h and 0 <= z <= w:
                        cols[row, (s * ho + i) * wo + j] = x[s, ch, y, z]
                    else:
                        cols[row, (s * ho + i) * wo + j] = 0.0
