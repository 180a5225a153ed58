"""Convolution on the CPU: im2col and col2im with Numba, the products with BLAS (lecture 3).

The arithmetic of a convolution is a matrix product once every input window is laid out as a
column (im2col). For a group of m samples, with R = C*KH*KW rows and P = Ho*Wo pixels:

    cols (R, m*P)    column s*P + i*Wo + j holds the window of sample s's output pixel (i, j)
    forward          out   = W (F, R) @ cols          -> (F, m*P), plus b, then into (m, F, P)
    G (F, m*P)       dout of the same samples laid out like that product
    weight gradient  dW.T += cols @ G.T               (R, F), summed over the groups
    data gradient    dcols = W.T @ G, then col2im adds every column back onto its pixels

How the work is split, and why (float32, the project's 2-core machine; each ratio is to
PyTorch's time, the median of 5 fresh processes, by ``benchmarks/bench_conv.py``'s ``race``):

- The batch is shared between threads (``course.kernels.cpu.threads.in_parallel``), each
  running serial Numba kernels and single-threaded BLAS on its own samples. The design before
  it ran parallel Numba kernels and multithreaded BLAS in turn: LeNet-5's second layer took
  2.00x PyTorch's time with it and 1.38x with this one, the stride-2 64-channel layer 1.63x
  and 1.23x; ``course tour``'s LeNet-5 step trains in 8-10 s instead of 12-14 s.
- Each thread goes through its share in groups of samples whose columns fill about
  CHUNK_BYTES, and does one product per group and pass: one product per sample was up to 1.4x
  slower, since LeNet-5's (16, 150) @ (150, 64) products are too small for BLAS to run fast.
- The column and product buffers are kept per thread between calls (``workspace``).

A padded input is first copied into a buffer framed by zeros (``frames.pad``), as lecture 3's
numpy im2col does with ``np.pad``: every window then lies inside the buffer, and each output row
of a column row is one loop of Wo copies with no test. Testing every row for the padding instead
made im2col 1.1x to 2.1x slower (one thread, the padding copy included: LeNet-5's second layer,
64 samples, 605 against 291 us; N7 32->64 16x16 p1, 347 against 220 us). ``col2im`` adds into
such a padded buffer and then crops the frame off (``frames.crop``), in about the same time as
the tests took; it is a gather over each input plane, in the same order as im2col, so it needs no
atomics. Every kernel walks its arrays as flat vectors with unsigned indices (for a signed
index Numba adds a check "if negative, count from the end" on every access, which made these
loops 2.5x to 4x slower), and checks the shapes it is given (``_check_columns``), so that no
index leaves its array whatever the arguments.

A 3x3 convolution with stride 1 and enough channels runs by Winograd's F(2x2, 3x3) instead
(``winograd.py``): 2.25x fewer multiplications than im2col's products, and N64 32->64 16x16
forward and backward in 27-28 ms against 36-45 ms (two threads).

Same names and signatures as ``course.kernels.reference.conv``.
"""

import numpy as np
from numba import njit

from course.kernels.cpu import winograd
from course.kernels.cpu.frames import crop, frame_buffer, pad
from course.kernels.cpu.threads import in_parallel, sample_groups, workspace
from course.kernels.passes import separate_passes
from course.kernels.shapes import conv_output_size

# Column buffer of one group of samples, per thread. Two threads, forward + backward, best of 7
# alternating rounds on the AMD EPYC machine (8 MiB of L3 cache shared by both cores): 1 MiB
# against 2 MiB took 36.4 against 38.3 ms (N64 32->64 16x16 k3), 4.1-4.2 against 4.35 ms
# (LeNet-5's second layer), 4.8 against 5.1 ms (its first layer), the same within noise on the
# two other layers of bench_conv.py; 16 MiB was slower still (one thread: 28.5 against 25.8 ms
# for 2 MiB on N64 3->32 k3), 512 KiB no faster.
CHUNK_BYTES = 1 << 20


@njit(inline="always")
def _check_columns(xp_shape, kh, kw, sh, sw, cols_shape):
    """(Ho, Wo) of a convolution of the padded input, once the columns' shape is checked."""
    m, c, hp, wp = xp_shape
    if kh < 1 or kw < 1 or sh < 1 or sw < 1:
        raise ValueError("im2col/col2im: kernel sizes and strides must be positive")
    ho, wo = max(0, (hp - kh) // sh + 1), max(0, (wp - kw) // sw + 1)
    if cols_shape != (c * kh * kw, m * ho * wo):
        raise ValueError("im2col/col2im: cols must be (C*KH*KW, m*Ho*Wo)")
    return ho, wo


@njit(nogil=True, cache=True)
def _im2col(xp, kh, kw, sh, sw, cols):
    """cols[(c*KH + ki)*KW + kj, (s*Ho + i)*Wo + j] = xp[s, c, i*sh + ki, j*sw + kj].

    xp (m, C, Hp, Wp), the input already padded (every window lies inside it), and cols
    (C*KH*KW, m*Ho*Wo), both C-contiguous; cols is written row by row. Strides of 1 and 2 have
    their own loops, the same copy with a constant stride that lets LLVM vectorise the reads
    (one thread, N7 64->64 16x16 s2: 31 against 41 us per sample, the speed table's stride-2
    case 1.12-1.20x against 1.20-1.24x PyTorch's time on two threads; LeNet-5's second layer,
    16 samples: 4.2 against 4.9 us per sample).
    """
    m, c, hp, wp = xp.shape
    ho, wo = _check_columns(xp.shape, kh, kw, sh, sw, cols.shape)
    xp_flat, cols_flat = xp.reshape(-1), cols.reshape(-1)
    for ch in range(c):
        for ki in range(kh):
            for kj in range(kw):
                row = (ch * kh + ki) * kw + kj
                for s in range(m):
                    for i in range(ho):
                        dst = ((row * m + s) * ho + i) * wo
                        src = ((s * c + ch) * hp + i * sh + ki) * wp + kj
                        if sw == 1:
                            for j in range(wo):
                                cols_flat[np.uint64(dst + j)] = xp_flat[np.uint64(src + j)]
                        elif sw == 2:
                            for j in range(wo):
                                cols_flat[np.uint64(dst + j)] = xp_flat[np.uint64(src + 2 * j)]
                        else:
                            for j in range(wo):
                                cols_flat[np.uint64(dst + j)] = xp_flat[np.uint64(src + j * sw)]


@njit(nogil=True, cache=True)
def _col2im(dcols, kh, kw, sh, sw, dxp):
    """dxp[s, c] = sum of the dcols entries that _im2col copied from each pixel of plane (s, c).

    dcols (C*KH*KW, m*Ho*Wo) and dxp (m, C, Hp, Wp), the padded input's shape, both
    C-contiguous. Strides of 1 and 2 have their own loops, as in _im2col (stride 2: 36 against
    39 us per sample; LeNet-5's second layer: 3.9 against 4.4).
    """
    m, c, hp, wp = dxp.shape
    ho, wo = _check_columns(dxp.shape, kh, kw, sh, sw, dcols.shape)
    dcols_flat, dxp_flat = dcols.reshape(-1), dxp.reshape(-1)
    for p in range(m * c * hp * wp):
        dxp_flat[np.uint64(p)] = 0
    for ch in range(c):
        for ki in range(kh):
            for kj in range(kw):
                row = (ch * kh + ki) * kw + kj
                for s in range(m):
                    for i in range(ho):
                        src = ((row * m + s) * ho + i) * wo
                        dst = ((s * c + ch) * hp + i * sh + ki) * wp + kj
                        if sw == 1:
                            for j in range(wo):
                                dxp_flat[np.uint64(dst + j)] += dcols_flat[np.uint64(src + j)]
                        elif sw == 2:
                            for j in range(wo):
                                dxp_flat[np.uint64(dst + 2 * j)] += dcols_flat[np.uint64(src + j)]
                        else:
                            for j in range(wo):
                                dxp_flat[np.uint64(dst + j * sw)] += dcols_flat[np.uint64(src + j)]


def _groups(start, stop, rows, plane, dtype):
    """(first, last + 1) sample of each group in range(start, stop) whose (rows, samples*plane)
    columns fill about CHUNK_BYTES."""
    return sample_groups(start, stop, rows * plane * np.dtype(dtype).itemsize, CHUNK_BYTES)


def _frame_buffer(shape, padding, dtype):
    """This thread's buffer for the planes of an (m, C, H, W) array framed by the padding."""
    (ph, pw), (h, w) = padding, shape[2:]
    return frame_buffer(shape, (h + 2 * ph, w + 2 * pw), dtype)


def _padded(x, padding):
    """x (m, C, H, W) itself without padding, else a copy framed by zeros, in this thread's
    buffer."""
    if not any(padding):
        return x
    xp = _frame_buffer(x.shape, padding, x.dtype)
    pad(x, *padding, xp)
    return xp


def _columns(x, kernel_size, stride, padding):
    """im2col of the samples x (m, C, H, W) into this thread's (C*KH*KW, m*Ho*Wo) buffer."""
    (kh, kw), (sh, sw) = kernel_size, stride
    xp = _padded(x, padding)
    ho, wo = conv_output_size(xp.shape[2], kh, sh, 0), conv_output_size(xp.shape[3], kw, sw, 0)
    cols = workspace("cols", (x.shape[1] * kh * kw, x.shape[0] * ho * wo), x.dtype)
    _im2col(xp, kh, kw, sh, sw, cols)
    return cols


def col2im(dcols, kernel_size, stride, padding, dx):
    """dx (m, C, H, W) = the sum of the dcols entries copied from each of its pixels: col2im
    into a zero-padded buffer, then the frame cropped off (as lecture 3 does in numpy)."""
    (kh, kw), (sh, sw) = kernel_size, stride
    if not any(padding):
        _col2im(dcols, kh, kw, sh, sw, dx)
        return
    dxp = _frame_buffer(dx.shape, padding, dx.dtype)
    _col2im(dcols, kh, kw, sh, sw, dxp)
    crop(dxp, *padding, dx)


def _product_flops(n, f, plane, rows):
    """Floating-point operations of one pass's products over a batch of n samples: F x P
    outputs per sample, each a sum of C*KH*KW products."""
    return 2 * n * f * plane * rows


def _pixels_last(dout):
    """dout (m, F, Ho, Wo) copied into this thread's (F, m*Ho*Wo) buffer, laid out like cols."""
    m, f, ho, wo = dout.shape
    grads = workspace("grads", (f, m, ho * wo), dout.dtype)
    np.copyto(grads, dout.reshape(m, f, ho * wo).transpose(1, 0, 2))
    return grads.reshape(f, m * ho * wo)


PIXELS_FIRST_MIN_ROWS = 100  # see _pixels_first


def _pixels_first(rows):
    """Whether the forward product is computed as (m*P, F) = cols.T @ W.T (then transposed
    per sample while the bias is added) rather than as (F, m*P) = W @ cols, for
    rows = C*KH*KW.

    The whole forward pass, two threads (AMD EPYC, idle machine, best of 8 alternating rounds):
    LeNet-5's second layer (150 rows) 1.72 ms with cols.T @ W.T against 2.28 ms with W @ cols;
    N64 32->64 16x16 k3 (288 rows) and N32 64->64 s2 (576 rows) were 20% and 17% faster that
    way too (one thread, process CPU time). With fewer rows the first form won: the 3-channel
    3x3 layer (27 rows) 3.73 against 4.68 ms, LeNet-5's first layer (25 rows) 1.50 against 1.60.
    """
    return rows >= PIXELS_FIRST_MIN_ROWS


def conv2d_forward(x, w, b, stride, padding):
    """out (N, F, Ho, Wo) = W @ im2col(x) + b, group by group (lecture 3); by Winograd where it
    suits."""
    if winograd.suits(x.shape, w.shape, stride, padding):
        return winograd.conv2d_forward(x, w, b, padding)
    x, w, b = np.ascontiguousarray(x), np.ascontiguousarray(w), np.ascontiguousarray(b)
    n, c, h, width = x.shape
    f, _, kh, kw = w.shape
    ho = conv_output_size(h, kh, stride[0], padding[0])
    wo = conv_output_size(width, kw, stride[1], padding[1])
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    out_rows, w_rows, b_column = out.reshape(n, f, ho * wo), w.reshape(f, -1), b.reshape(1, f, 1)

    pixels_first = _pixels_first(c * kh * kw)

    def work(start, stop):
        for s, e in _groups(start, stop, c * kh * kw, ho * wo, x.dtype):
            cols = _columns(x[s:e], (kh, kw), stride, padding)
            if pixels_first:  # (m*P, F) = cols.T @ W.T, then each sample's (P, F) transposed
                product = workspace("product", (e - s, ho * wo, f), x.dtype)
                np.matmul(cols.T, w_rows.T, out=product.reshape(-1, f))
                np.add(product.transpose(0, 2, 1), b_column, out=out_rows[s:e])
            else:
                product = workspace("product", (f, e - s, ho * wo), x.dtype)
                np.matmul(w_rows, cols, out=product.reshape(f, -1))
                np.add(product.transpose(1, 0, 2), b_column, out=out_rows[s:e])

    in_parallel(n, work, flops=_product_flops(n, f, ho * wo, c * kh * kw))
    return out


def conv2d_backward_data(dout, w, input_size, stride, padding):
    """dx (N, C, H, W) = col2im(W.T @ G), group by group (lecture 3)."""
    dout, w = np.ascontiguousarray(dout), np.ascontiguousarray(w)
    n, f, ho, wo = dout.shape
    _, c, kh, kw = w.shape
    dx = np.empty((n, c) + tuple(input_size), dtype=dout.dtype)
    w_rows = w.reshape(f, -1)

    def work(start, stop):
        for s, e in _groups(start, stop, c * kh * kw, ho * wo, dout.dtype):
            dcols = workspace("cols", (c * kh * kw, (e - s) * ho * wo), dout.dtype)
            np.matmul(w_rows.T, _pixels_last(dout[s:e]), out=dcols)
            col2im(dcols, (kh, kw), stride, padding, dx[s:e])

    in_parallel(n, work, flops=_product_flops(n, f, ho * wo, c * kh * kw))
    return dx


def conv2d_backward(dout, x, w, stride, padding, need_dx=True, need_dw=True):
    """(dx or None, dW or None) (lecture 3): with both needed, one pass over the batch, in which
    each group's columns and gradient layout are made once and serve both products.

    LeNet-5's second layer (N128 6->16 12x12 k5), two threads: 3.1-3.2 ms against 3.8 ms for
    the two passes one after the other; N64 32->64 16x16 k3: 25 against 26.6 ms. By Winograd
    where it suits.
    """
    if winograd.suits(x.shape, w.shape, stride, padding):
        return winograd.conv2d_backward(dout, x, w, padding, need_dx, need_dw)
    if not (need_dx and need_dw):
        return separate_passes(conv2d_backward_data, conv2d_backward_weight, dout, x, w, stride,
                               padding, need_dx, need_dw)
    dout, x, w = np.ascontiguousarray(dout), np.ascontiguousarray(x), np.ascontiguousarray(w)
    n, f, ho, wo = dout.shape
    _, c, kh, kw = w.shape
    rows, w_rows = c * kh * kw, w.reshape(f, -1)
    dx = np.empty_like(x)

    def work(start, stop):
        dw_t = np.zeros((rows, f), dtype=x.dtype)
        for s, e in _groups(start, stop, rows, ho * wo, x.dtype):
            grads = _pixels_last(dout[s:e])
            cols = _columns(x[s:e], (kh, kw), stride, padding)
            dw_t += cols @ grads.T
            np.matmul(w_rows.T, grads, out=cols)  # the columns' gradient, in their buffer
            col2im(cols, (kh, kw), stride, padding, dx[s:e])
        return dw_t

    shares = in_parallel(n, work, flops=2 * _product_flops(n, f, ho * wo, rows))
    return dx, _sum_shares(shares, (rows, f), x.dtype).T.reshape(w.shape)


def _sum_shares(shares, shape, dtype):
    """The sum of the threads' (C*KH*KW, F) weight-gradient shares."""
    total = np.zeros(shape, dtype=dtype)
    for share in shares:
        total += share
    return total


def conv2d_backward_weight(dout, x, kernel_size, stride, padding):
    """dW (F, C, KH, KW) = (sum over the groups of im2col(x) @ G.T).T (lecture 3).

    cols @ G.T, (C*KH*KW, F), ran up to 15% faster in BLAS than G @ cols.T.
    """
    dout, x = np.ascontiguousarray(dout), np.ascontiguousarray(x)
    n, f, ho, wo = dout.shape
    c = x.shape[1]
    rows = c * kernel_size[0] * kernel_size[1]

    def work(start, stop):
        dw_t = np.zeros((rows, f), dtype=x.dtype)
        for s, e in _groups(start, stop, rows, ho * wo, x.dtype):
            cols = _columns(x[s:e], kernel_size, stride, padding)
            dw_t += cols @ _pixels_last(dout[s:e]).T
        return dw_t

    shares = in_parallel(n, work, flops=_product_flops(n, f, ho * wo, rows))
    return _sum_shares(shares, (rows, f), x.dtype).T.reshape(f, c, *kernel_size)
