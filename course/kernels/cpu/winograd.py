"""3x3 convolution with stride 1 on the CPU by Winograd's minimal filtering, F(2x2, 3x3)
(Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016) (lecture 3).

Each 2x2 block of output pixels (a tile) needs the 4x4 window d of the padded input under it.
With the constant matrices

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]          (4, 4)
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]            (4, 3)
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]                                       (2, 4)

the tile's 2x2 output of one 3x3 filter g is exactly  A^T [(G g G^T) * (B^T d B)] A,  with *
the elementwise product of two 4x4 matrices: 16 multiplications instead of the 36 of the four
3x3 windows. Summed over the C input channels, each of the 16 entries (k = 4a + b) of that
elementwise product is a matrix product over all tiles at once:

    V[k] (T, C)   = (B^T d B)[a, b] of every tile t and channel c      (input transform)
    U[k] (C, F)   = (G g G^T)[a, b] of every channel c and filter f    (filter transform)
    M[k] (T, F)   = V[k] @ U[k]                                        16 BLAS products
    out (2x2)     = A^T M A of every tile and filter, plus the bias    (output transform)

2.25x fewer multiplications than im2col's product (16 against 36 per tile and channel pair),
at the cost of the three transforms, which only add and subtract. The backward pass is the
exact adjoint of those four steps (every step is linear): dM = A dY A^T of each tile of the
output gradient, dU[k] = V[k].T @ dM[k] (then dW = G^T dU G), dV[k] = dM[k] @ U[k].T and the
input gradient sums B dV B^T onto each tile's 4x4 window. In float32 the results differ from
im2col's in the last digits (relative error about 1e-6 here), as PyTorch's and cuDNN's
Winograd kernels do.

``conv.py`` sends a convolution here when ``suits`` says so: 3x3 filters, stride 1, and enough
channels (measurements in ``suits``). One thread, per sample of 32->64 16x16 in groups of 4:
the 48 products of the forward and backward passes take 400 us against 895 us for im2col's
three products; the transforms (the input's twice, the output's, their adjoints, the padding
and the crop) 230 us. The filter transform and its adjoint run once per call, as Numba loops
(``_filter_tiles``): numpy's ``einsum`` of G, w and G took 0.64 and 1.6 ms for 64x32 filters
(about a tenth of the 32->64 layer's time on two threads), the loops 0.11 and 0.06 ms, with the
same float64 arithmetic and the same results (AMD EPYC Zen 3).

The tiles are laid out tile-major, channel last (V[k] is (T, C)), the layout in which OpenBLAS
ran these products fastest: (T, C) @ (C, F) at 27-30 GFLOP/s on one thread against 17-24
GFLOP/s for (F, C) @ (C, T). The transforms walk the tiles in order and, for each, all the
channels, so that they read and write each cache line while it is in the L1 cache; like the
other kernels of this package they index flat arrays with unsigned indices and check the shapes
they are given (``_check_tiles``), so no index leaves its array.
"""

import numpy as np
from numba import njit

from course.kernels.cpu.frames import crop, frame_buffer, pad
from course.kernels.cpu.threads import in_parallel, sample_groups, workspace

MIN_CHANNELS, MIN_CHANNEL_PAIRS = 16, 512  # fewer: im2col (see suits)
TILE_GROUP_BYTES = 1 << 20  # the tile buffers V and M of one group of samples, per thread

def suits(x_shape, w_shape, stride, padding):
    """Whether the convolution of x (N, C, H, W) by w (F, C, KH, KW) runs by Winograd: 3x3
    filters, stride 1, an output of at least one pixel, and channels enough that the products,
    not the transforms, take most of the time.

    Forward and backward against im2col, two threads, N64 (AMD EPYC, best of 10, two rounds):
    32->64 16x16 27.4-28.2 against 35.6-44.9 ms; 32->32 16x16 18.3-18.5 against 20.3-21.3;
    16->32 32x32 37.8-38.3 against 41.3-42.0; 64->64 8x8 18.4-18.6 against 18.8-19.4; but
    16->16 32x32 26.4-27.4 against 26.9-27.5, no gain (and fewer channels would lose).
    """
    (_, c, h, w), (f, _, kh, kw) = x_shape, w_shape
    return ((kh, kw) == (3, 3) and tuple(stride) == (1, 1)
            and min(h + 2 * padding[0], w + 2 * padding[1]) >= 3
            and min(c, f) >= MIN_CHANNELS and c * f >= MIN_CHANNEL_PAIRS)


@njit(inline="always")
def _bt(d0, d1, d2, d3):
    """B^T @ (d0, d1, d2, d3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(inline="always")
def _b(v0, v1, v2, v3):
    """B @ (v0, v1, v2, v3), the adjoint of _bt."""
    return v0, v1 - v2 + v3, v1 + v2 - v0, -v3


@njit(inline="always")
def _at(m0, m1, m2, m3):
    """A^T @ (m0, m1, m2, m3)."""
    return m0 + m1 + m2, m1 - m2 - m3


@njit(inline="always")
def _a(y0, y1):
    """A @ (y0, y1), the adjoint of _at."""
    return y0, y0 + y1, y0 - y1, -y1


@njit(inline="always")
def _g(g0, g1, g2):
    """G @ (g0, g1, g2), in float64 (one type for the whole tuple, which a loop can index)."""
    v0, v1, v2 = np.float64(g0), np.float64(g1), np.float64(g2)
    return v0, (v0 + v1 + v2) * 0.5, (v0 - v1 + v2) * 0.5, v2


@njit(inline="always")
def _gt(u0, u1, u2, u3):
    """G^T @ (u0, u1, u2, u3), the adjoint of _g, in float64."""
    v0, v1, v2, v3 = np.float64(u0), np.float64(u1), np.float64(u2), np.float64(u3)
    return v0 + (v1 + v2) * 0.5, (v1 - v2) * 0.5, (v1 + v2) * 0.5 + v3


@njit(inline="always")
def _copy(src, src_start, dst, dst_start, count):
    """dst[dst_start:dst_start + count] = src[src_start:src_start + count], flat arrays."""
    for i in range(count):
        dst[np.uint64(dst_start + i)] = src[np.uint64(src_start + i)]


@njit(inline="always")
def _check_tiles(m, hp, wp, tiles_shape, channels):
    """(th, tw) tiles of planes framed to (Hp, Wp) = (2*th + 2, 2*tw + 2), once the tile
    buffer's shape is checked to be (16, m*th*tw, channels)."""
    th, tw = (hp - 2) // 2, (wp - 2) // 2
    if hp != 2 * th + 2 or wp != 2 * tw + 2 or th < 1 or tw < 1:
        raise ValueError("winograd: the framed planes must be (2*th + 2, 2*tw + 2)")
    if tiles_shape != (16, m * th * tw, channels):
        raise ValueError("winograd: tiles must be (16, m*th*tw, channels)")
    return th, tw


@njit(nogil=True, cache=True)
def _input_tiles(xp, v):
    """v[4a + b, t, c] = (B^T d B)[a, b], d the 4x4 window of tile t in plane c of xp.

    xp (m, C, 2*th + 2, 2*tw + 2), the input framed by zeros; v (16, m*th*tw, C), tiles in
    the order (sample, tile row, tile column). Both C-contiguous. Each tile's 16 x C values
    are made in a small buffer, then copied out as 16 runs of C: the 16 rows v[k, t] lie a
    multiple of 4 KiB apart, and writing them one value at a time made the L1 cache evict
    them from each other (one thread, 32->64 16x16: 151 against 37 us per sample).
    """
    m, c, hp, wp = xp.shape
    th, tw = _check_tiles(m, hp, wp, v.shape, c)
    xp_flat, v_flat = xp.reshape(-1), v.reshape(-1)
    k_step = m * th * tw * c
    tile_values = np.empty(16 * c, xp.dtype)  # [k * C + c]
    rows = np.empty(16, xp.dtype)  # one channel's window after B^T down its columns
    for s in range(m):
        for ty in range(th):
            for tx in range(tw):
                for ch in range(c):
                    corner = ((s * c + ch) * hp + 2 * ty) * wp + 2 * tx
                    for j in range(4):  # B^T down each column of the window
                        col = corner + j
                        rows[j], rows[4 + j], rows[8 + j], rows[12 + j] = _bt(
                            xp_flat[np.uint64(col)], xp_flat[np.uint64(col + wp)],
                            xp_flat[np.uint64(col + 2 * wp)], xp_flat[np.uint64(col + 3 * wp)])
                    for a in range(4):  # then B along each row
                        r0, r1, r2, r3 = _bt(rows[4 * a], rows[4 * a + 1], rows[4 * a + 2],
                                             rows[4 * a + 3])
                        tile_values[np.uint64(4 * a * c + ch)] = r0
                        tile_values[np.uint64((4 * a + 1) * c + ch)] = r1
                        tile_values[np.uint64((4 * a + 2) * c + ch)] = r2
                        tile_values[np.uint64((4 * a + 3) * c + ch)] = r3
                dst = ((s * th + ty) * tw + tx) * c
                for k in range(16):
                    _copy(tile_values, k * c, v_flat, k * k_step + dst, c)


@njit(nogil=True, cache=True)
def _input_tiles_adjoint(dv, dxp):
    """dxp = the sum over tiles of B dV B^T placed on each tile's 4x4 window: the adjoint of
    _input_tiles.

    dv (16, m*th*tw, C) and dxp (m, C, 2*th + 2, 2*tw + 2), both C-contiguous. Each tile's
    16 runs of C values are copied into a small buffer first (see _input_tiles).
    """
    m, c, hp, wp = dxp.shape
    th, tw = _check_tiles(m, hp, wp, dv.shape, c)
    dv_flat, dxp_flat = dv.reshape(-1), dxp.reshape(-1)
    k_step = m * th * tw * c
    for p in range(m * c * hp * wp):
        dxp_flat[np.uint64(p)] = 0
    tile_values = np.empty(16 * c, dv.dtype)
    rows = np.empty(16, dv.dtype)
    for s in range(m):
        for ty in range(th):
            for tx in range(tw):
                src = ((s * th + ty) * tw + tx) * c
                for k in range(16):
                    _copy(dv_flat, k * k_step + src, tile_values, k * c, c)
                for ch in range(c):
                    for a in range(4):  # B along each row
                        rows[4 * a], rows[4 * a + 1], rows[4 * a + 2], rows[4 * a + 3] = _b(
                            tile_values[np.uint64(4 * a * c + ch)],
                            tile_values[np.uint64((4 * a + 1) * c + ch)],
                            tile_values[np.uint64((4 * a + 2) * c + ch)],
                            tile_values[np.uint64((4 * a + 3) * c + ch)])
                    corner = ((s * c + ch) * hp + 2 * ty) * wp + 2 * tx
                    for j in range(4):  # then B^T down each column, added onto the window
                        r0, r1, r2, r3 = _b(rows[j], rows[4 + j], rows[8 + j], rows[12 + j])
                        col = corner + j
                        dxp_flat[np.uint64(col)] += r0
                        dxp_flat[np.uint64(col + wp)] += r1
                        dxp_flat[np.uint64(col + 2 * wp)] += r2
                        dxp_flat[np.uint64(col + 3 * wp)] += r3


@njit(inline="always")
def _check_output(m, f, ho, wo, tiles_shape):
    """(th, tw) tiles of (Ho, Wo) output planes, once the tile buffer's shape is checked."""
    th, tw = (ho + 1) // 2, (wo + 1) // 2
    if ho < 1 or wo < 1 or tiles_shape != (16, m * th * tw, f):
        raise ValueError("winograd: tiles must be (16, m*ceil(Ho/2)*ceil(Wo/2), F)")
    return th, tw


@njit(nogil=True, cache=True)
def _output_tiles(mm, b, out):
    """out[s, f, 2*ty + i, 2*tx + j] = (A^T M A)[i, j] + b[f], M[a, b] = mm[4a + b, t, f] of
    tile t = (s, ty, tx); the pixels past an odd Ho or Wo are dropped.

    mm (16, m*th*tw, F), b (F,), out (m, F, Ho, Wo), all C-contiguous. Each tile's 16 runs
    of F values are copied into a small buffer first (see _input_tiles), and each row of tiles
    is made in a buffer of 2 rows of 2*tw pixels per filter, then copied into out.
    """
    m, f, ho, wo = out.shape
    th, tw = _check_output(m, f, ho, wo, mm.shape)
    if b.shape != (f,):
        raise ValueError("winograd: b must be (F,)")
    mm_flat, out_flat = mm.reshape(-1), out.reshape(-1)
    k_step = m * th * tw * f
    tile_values = np.empty(16 * f, mm.dtype)
    cols = np.empty(8, mm.dtype)  # one filter's tile after A^T down its columns
    row_width = 2 * tw
    tile_rows = np.empty(f * 2 * row_width, mm.dtype)  # [(f * 2 + i) * 2*tw + x]
    for s in range(m):
        for ty in range(th):
            for tx in range(tw):
                src = ((s * th + ty) * tw + tx) * f
                for k in range(16):
                    _copy(mm_flat, k * k_step + src, tile_values, k * f, f)
                for fi in range(f):
                    for j in range(4):  # A^T down each column
                        cols[j], cols[4 + j] = _at(
                            tile_values[np.uint64(j * f + fi)],
                            tile_values[np.uint64((4 + j) * f + fi)],
                            tile_values[np.uint64((8 + j) * f + fi)],
                            tile_values[np.uint64((12 + j) * f + fi)])
                    for i in range(2):  # then A along each row
                        o0, o1 = _at(cols[4 * i], cols[4 * i + 1], cols[4 * i + 2],
                                     cols[4 * i + 3])
                        at = (fi * 2 + i) * row_width + 2 * tx
                        tile_rows[np.uint64(at)] = o0 + b[fi]
                        tile_rows[np.uint64(at + 1)] = o1 + b[fi]
            for fi in range(f):
                for i in range(min(2, ho - 2 * ty)):
                    dst = ((s * f + fi) * ho + 2 * ty + i) * wo
                    _copy(tile_rows, (fi * 2 + i) * row_width, out_flat, dst, wo)


@njit(nogil=True, cache=True)
def _output_tiles_adjoint(dout, dm):
    """dm[4a + b, t, f] = (A dY A^T)[a, b], dY the 2x2 block of tile t in dout[s, f] (zeros past
    an odd Ho or Wo): the adjoint of _output_tiles.

    dout (m, F, Ho, Wo) and dm (16, m*th*tw, F), both C-contiguous. Buffers as in
    _output_tiles.
    """
    m, f, ho, wo = dout.shape
    th, tw = _check_output(m, f, ho, wo, dm.shape)
    dout_flat, dm_flat = dout.reshape(-1), dm.reshape(-1)
    k_step = m * th * tw * f
    tile_values = np.empty(16 * f, dout.dtype)
    row_width = 2 * tw
    tile_rows = np.zeros(f * 2 * row_width, dout.dtype)  # past Ho or Wo: stays 0
    for s in range(m):
        for ty in range(th):
            for fi in range(f):
                for i in range(min(2, ho - 2 * ty)):
                    src = ((s * f + fi) * ho + 2 * ty + i) * wo
                    _copy(dout_flat, src, tile_rows, (fi * 2 + i) * row_width, wo)
            if ho - 2 * ty < 2:  # an odd Ho: the last row of tiles has one row of pixels
                for fi in range(f):
                    for x in range(row_width):
                        tile_rows[np.uint64((fi * 2 + 1) * row_width + x)] = 0
            for tx in range(tw):
                for fi in range(f):
                    at = fi * 2 * row_width + 2 * tx
                    row0 = _a(tile_rows[np.uint64(at)], tile_rows[np.uint64(at + 1)])
                    row1 = _a(tile_rows[np.uint64(at + row_width)],
                              tile_rows[np.uint64(at + row_width + 1)])
                    for j in range(4):  # A along each row, then down each column
                        g0, g1, g2, g3 = _a(row0[j], row1[j])
                        tile_values[np.uint64(j * f + fi)] = g0
                        tile_values[np.uint64((4 + j) * f + fi)] = g1
                        tile_values[np.uint64((8 + j) * f + fi)] = g2
                        tile_values[np.uint64((12 + j) * f + fi)] = g3
                dst = ((s * th + ty) * tw + tx) * f
                for k in range(16):
                    _copy(tile_values, k * f, dm_flat, k * k_step + dst, f)


def _tiles(size):
    """(Ho, Wo) -> (th, tw), the 2x2 tiles covering an output plane."""
    return (size[0] + 1) // 2, (size[1] + 1) // 2


@njit(nogil=True, cache=True)
def _filter_tiles(w, u):
    """U[4a + b, c, f] = (G w[f, c] G^T)[a, b], for w (F, C, 3, 3) and U (16, C, F): G on each
    column of the 3x3 filter, then on each row of the 4x3 result."""
    nf, nc = w.shape[0], w.shape[1]
    if w.shape[2:] != (3, 3) or u.shape != (16, nc, nf):
        raise ValueError("winograd: w must be (F, C, 3, 3) and U (16, C, F)")
    for c in range(nc):
        for f in range(nf):
            col0 = _g(w[f, c, 0, 0], w[f, c, 1, 0], w[f, c, 2, 0])
            col1 = _g(w[f, c, 0, 1], w[f, c, 1, 1], w[f, c, 2, 1])
            col2 = _g(w[f, c, 0, 2], w[f, c, 1, 2], w[f, c, 2, 2])
            for a in range(4):
                row = _g(col0[a], col1[a], col2[a])
                for b in range(4):
                    u[4 * a + b, c, f] = row[b]


@njit(nogil=True, cache=True)
def _filter_tiles_adjoint(du, dw):
    """dW[f, c] = G^T dU[:, c, f] G, with dU[4a + b, c, f] the 4x4 matrix's entry (a, b): the
    adjoint of ``_filter_tiles``, for dU (16, C, F) and dW (F, C, 3, 3)."""
    nf, nc = dw.shape[0], dw.shape[1]
    if dw.shape[2:] != (3, 3) or du.shape != (16, nc, nf):
        raise ValueError("winograd: dW must be (F, C, 3, 3) and dU (16, C, F)")
    for c in range(nc):
        for f in range(nf):
            col0 = _gt(du[0, c, f], du[4, c, f], du[8, c, f], du[12, c, f])
            col1 = _gt(du[1, c, f], du[5, c, f], du[9, c, f], du[13, c, f])
            col2 = _gt(du[2, c, f], du[6, c, f], du[10, c, f], du[14, c, f])
            col3 = _gt(du[3, c, f], du[7, c, f], du[11, c, f], du[15, c, f])
            for k in range(3):
                row = _gt(col0[k], col1[k], col2[k], col3[k])
                for col in range(3):
                    dw[f, c, k, col] = row[col]


def _framed(x, padding, tiles):
    """x (m, C, H, W) framed by zeros into this thread's (m, C, 2*th + 2, 2*tw + 2) buffer, x's
    pixel (0, 0) at (PH, PW)."""
    th, tw = tiles
    xp = frame_buffer(x.shape, (2 * th + 2, 2 * tw + 2), x.dtype)
    pad(x, *padding, xp)
    return xp


def _group_sizes(start, stop, tiles, channels, dtype):
    """Groups of samples whose tile buffers, (16, tiles, channels) per sample, fill about
    TILE_GROUP_BYTES."""
    sample_bytes = 16 * tiles * channels * np.dtype(dtype).itemsize
    return sample_groups(start, stop, sample_bytes, TILE_GROUP_BYTES)


def _product_flops(n, tiles, c, f):
    """Floating-point operations of the 16 products of one pass over n samples."""
    return 2 * 16 * n * tiles * c * f


def conv2d_forward(x, w, b, padding):
    """out (N, F, Ho, Wo) of 3x3 filters w (F, C, 3, 3), stride 1, by F(2x2, 3x3)."""
    x, w, b = np.ascontiguousarray(x), np.ascontiguousarray(w), np.ascontiguousarray(b)
    n, c, h, width = x.shape
    f = w.shape[0]
    ho, wo = h + 2 * padding[0] - 2, width + 2 * padding[1] - 2
    th, tw = _tiles((ho, wo))
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    u = np.empty((16, c, f), dtype=x.dtype)
    _filter_tiles(w, u)

    def work(start, stop):
        for s, e in _group_sizes(start, stop, th * tw, max(c, f), x.dtype):
            v = workspace("winograd_v", (16, (e - s) * th * tw, c), x.dtype)
            _input_tiles(_framed(x[s:e], padding, (th, tw)), v)
            mm = workspace("winograd_m", (16, (e - s) * th * tw, f), x.dtype)
            np.matmul(v, u, out=mm)
            _output_tiles(mm, b, out[s:e])

    in_parallel(n, work, flops=_product_flops(n, th * tw, c, f))
    return out


def conv2d_backward(dout, x, w, padding, need_dx=True, need_dw=True):
    """(dx or None, dW or None) of conv2d_forward, by the adjoints of its steps."""
    if not (need_dx or need_dw):
        return None, None
    dout, x, w = np.ascontiguousarray(dout), np.ascontiguousarray(x), np.ascontiguousarray(w)
    n, f, ho, wo = dout.shape
    c = x.shape[1]
    th, tw = _tiles((ho, wo))
    u = np.empty((16, c, f), dtype=x.dtype)
    _filter_tiles(w, u)
    dx = np.empty_like(x) if need_dx else None

    def work(start, stop):
        du = np.zeros((16, c, f), dtype=x.dtype) if need_dw else None
        for s, e in _group_sizes(start, stop, th * tw, max(c, f), x.dtype):
            dm = workspace("winograd_m", (16, (e - s) * th * tw, f), x.dtype)
            _output_tiles_adjoint(dout[s:e], dm)
            v = workspace("winograd_v", (16, (e - s) * th * tw, c), x.dtype)
            if need_dw:
                _input_tiles(_framed(x[s:e], padding, (th, tw)), v)
                du += v.transpose(0, 2, 1) @ dm
            if need_dx:
                np.matmul(dm, u.transpose(0, 2, 1), out=v)  # dV, in V's buffer
                dxp = frame_buffer(x[s:e].shape, (2 * th + 2, 2 * tw + 2), x.dtype)
                _input_tiles_adjoint(v, dxp)
                crop(dxp, *padding, dx[s:e])
        return du

    passes = int(need_dx) + int(need_dw)
    shares = in_parallel(n, work, flops=passes * _product_flops(n, th * tw, c, f))
    dw = None
    if need_dw:
        du = sum(shares[1:], shares[0]) if shares else np.zeros((16, c, f), x.dtype)
        dw = np.empty_like(w)
        _filter_tiles_adjoint(du, dw)
    return dx, dw
