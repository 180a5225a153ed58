"""Convolution on the GPU with CuPy: im2col and col2im kernels around cupy.matmul (lecture 9).

The same plan as the Numba kernels (``course/kernels/cpu/conv.py``): lay every input window out
as a column, do one matrix product per pass, and sum the column gradients back into pixels.
Both CUDA kernels run one thread per element they write, and col2im is a gather (each input
pixel adds up the column entries copied from it), so no two threads write the same element and
no atomics are needed.

Same names and signatures as ``course.kernels.reference.conv``; CuPy is imported lazily.
"""

import numpy as np

from course.backend import require_cupy
from course.kernels.gpu.compile import get_kernel, launch
from course.kernels.passes import separate_passes
from course.kernels.shapes import conv_output_size

CONV_SOURCE = r"""
// cols[(c*KH + ki)*KW + kj][(n*Ho + i)*Wo + j] = x_padded[n][c][i*sh + ki][j*sw + kj]
extern "C" __global__ void im2col(const real* x, real* cols,
                                  int n, int c, int h, int w, int kh, int kw,
                                  int sh, int sw, int ph, int pw, int ho, int wo)
{
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    long long m = (long long)n * ho * wo;
    if (idx >= (long long)c * kh * kw * m) return;
    long long row = idx / m, col = idx % m;
    int kj = (int)(row % kw), ki = (int)((row / kw) % kh), ci = (int)(row / ((long long)kw * kh));
    int j = (int)(col % wo), i = (int)((col / wo) % ho), b = (int)(col / ((long long)wo * ho));
    int y = i * sh - ph + ki, xx = j * sw - pw + kj;
    cols[idx] = (y >= 0 && y < h && xx >= 0 && xx < w)
        ? x[(((long long)b * c + ci) * h + y) * w + xx] : (real)0;
}

// dx[n][c][y][x] = sum of the dcols entries that im2col copied from pixel (y, x): a gather
extern "C" __global__ void col2im(const real* dcols, real* dx,
                                  int n, int c, int h, int w, int kh, int kw,
                                  int sh, int sw, int ph, int pw, int ho, int wo)
{
    long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long long)n * c * h * w) return;
    int xx = (int)(idx % w), y = (int)((idx / w) % h);
    int ci = (int)((idx / ((long long)w * h)) % c), b = (int)(idx / ((long long)w * h * c));
    long long m = (long long)n * ho * wo;
    real total = 0;
    for (int ki = 0; ki < kh; ++ki) {
        int t = y + ph - ki;                 // = i * sh for the output row i that saw y at ki
        if (t < 0 || t % sh != 0 || t / sh >= ho) continue;
        int i = t / sh;
        for (int kj = 0; kj < kw; ++kj) {
            int u = xx + pw - kj;
            if (u < 0 || u % sw != 0 || u / sw >= wo) continue;
            long long row = ((long long)ci * kh + ki) * kw + kj;
            total += dcols[row * m + ((long long)b * ho + i) * wo + u / sw];
        }
    }
    dx[idx] = total;
}
"""

CUDA_SOURCES = {"conv": CONV_SOURCE}


def _sizes(*values):
    return tuple(np.int32(v) for v in values)


def _columns(x, kernel_size, stride, padding, output_size):
    """im2col of x: (C*KH*KW, N*Ho*Wo)."""
    cupy = require_cupy()
    x = cupy.ascontiguousarray(x)
    n, c, h, w = x.shape
    (kh, kw), (ho, wo) = kernel_size, output_size
    cols = cupy.empty((c * kh * kw, n * ho * wo), dtype=x.dtype)
    launch(get_kernel(CONV_SOURCE, "im2col", x.dtype), cols.size,
           (x, cols) + _sizes(n, c, h, w, kh, kw, *stride, *padding, ho, wo))
    return cols


def _dout_columns(dout):
    """dout (N, F, Ho, Wo) as the matrix (F, N*Ho*Wo)."""
    cupy = require_cupy()
    return cupy.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(dout.shape[1], -1)


def conv2d_forward(x, w, b, stride, padding):
    """out (N, F, Ho, Wo) = W @ im2col(x) + b (lecture 3; GPU backend)."""
    cupy = require_cupy()
    n, _, h, width = x.shape
    f, _, kh, kw = w.shape
    ho = conv_output_size(h, kh, stride[0], padding[0])
    wo = conv_output_size(width, kw, stride[1], padding[1])
    cols = _columns(x, (kh, kw), stride, padding, (ho, wo))
    out_cols = cupy.matmul(cupy.ascontiguousarray(w).reshape(f, -1), cols)
    out = out_cols.reshape(f, n, ho, wo).transpose(1, 0, 2, 3) + b.reshape(1, f, 1, 1)
    return cupy.ascontiguousarray(out)


def conv2d_backward_data(dout, w, input_size, stride, padding):
    """dx (N, C, H, W) = col2im(W.T @ dout) (lecture 3; GPU backend)."""
    cupy = require_cupy()
    n, _, ho, wo = dout.shape
    f, c, kh, kw = w.shape
    h, width = input_size
    dcols = cupy.matmul(cupy.ascontiguousarray(w).reshape(f, -1).T, _dout_columns(dout))
    dcols = cupy.ascontiguousarray(dcols)
    dx = cupy.empty((n, c, h, width), dtype=dout.dtype)
    launch(get_kernel(CONV_SOURCE, "col2im", dout.dtype), dx.size,
           (dcols, dx) + _sizes(n, c, h, width, kh, kw, *stride, *padding, ho, wo))
    return dx


def conv2d_backward_weight(dout, x, kernel_size, stride, padding):
    """dw (F, C, KH, KW) = dout @ im2col(x).T (lecture 3; GPU backend)."""
    cupy = require_cupy()
    f, ho, wo = dout.shape[1], dout.shape[2], dout.shape[3]
    cols = _columns(x, kernel_size, stride, padding, (ho, wo))
    dw = cupy.matmul(_dout_columns(dout), cols.T)
    return cupy.ascontiguousarray(dw).reshape((f, x.shape[1]) + tuple(kernel_size))


def conv2d_backward(dout, x, w, stride, padding, need_dx=True, need_dw=True):
    """(dx or None, dW or None): the two passes above, each only where needed (lecture 3)."""
    return separate_passes(conv2d_backward_data, conv2d_backward_weight, dout, x, w, stride,
                           padding, need_dx, need_dw)
