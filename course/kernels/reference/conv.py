"""Convolution as readable loops over output pixels (lecture 3): the oracle for the fast kernels.

Shapes (NCHW, as PyTorch and CS231n): x (N, C, H, W), w (F, C, KH, KW), b (F,),
out (N, F, Ho, Wo) with ``Ho = (H + 2 * ph - KH) // sh + 1`` (and the same for widths).

Every output pixel is the dot product of one filter with one window of the zero-padded input.
The backward passes walk the same windows: the data gradient spreads each ``dout`` value back
over its window (weighted by the filter), the weight gradient adds up window times ``dout``.
A transposed convolution needs no kernel of its own: its forward pass is
``conv2d_backward_data`` and its backward pass is ``conv2d_forward`` and
``conv2d_backward_weight`` (see ``course/ops/conv.py``).
"""

import numpy as np

from course.kernels.passes import separate_passes
from course.kernels.shapes import conv_output_size


def _pad(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv2d_forward(x, w, b, stride, padding):
    """out[n, f, i, j] = sum(window(n, i, j) * w[f]) + b[f]; returns out (N, F, Ho, Wo)
    (lecture 3)."""
    n, _, h, width = x.shape
    f, _, kh, kw = w.shape
    sh, sw = stride
    ho = conv_output_size(h, kh, sh, padding[0])
    wo = conv_output_size(width, kw, sw, padding[1])
    xp = _pad(x, padding)
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]  # (N, C, KH, KW)
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", window, w) + b
    return out


def conv2d_backward_data(dout, w, input_size, stride, padding):
    """Gradient of the input (lecture 3): each dout[n, f, i, j] * w[f] is added back onto its
    window.

    ``input_size`` is (H, W): several input sizes give the same output size when the stride
    does not divide evenly. Returns dx (N, C, H, W).
    """
    n, _, ho, wo = dout.shape
    _, c, kh, kw = w.shape
    (h, width), (sh, sw), (ph, pw) = input_size, stride, padding
    dxp = np.zeros((n, c, h + 2 * ph, width + 2 * pw), dtype=dout.dtype)
    for i in range(ho):
        for j in range(wo):
            dxp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += np.einsum(
                "nf,fchw->nchw", dout[:, :, i, j], w)
    return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + width])


def conv2d_backward_weight(dout, x, kernel_size, stride, padding):
    """Gradient of the filters (lecture 3): dw[f] = sum over n, i, j of
    dout[n, f, i, j] * window(n, i, j).

    ``kernel_size`` is (KH, KW). Returns dw (F, C, KH, KW).
    """
    _, f, ho, wo = dout.shape
    c = x.shape[1]
    (kh, kw), (sh, sw) = kernel_size, stride
    xp = _pad(x, padding)
    dw = np.zeros((f, c, kh, kw), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], window)
    return dw


def conv2d_backward(dout, x, w, stride, padding, need_dx=True, need_dw=True):
    """(dx or None, dW or None): the two passes above, each only where needed (lecture 3)."""
    return separate_passes(conv2d_backward_data, conv2d_backward_weight, dout, x, w, stride,
                           padding, need_dx, need_dw)
