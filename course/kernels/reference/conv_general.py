"""Dilated and grouped convolution as readable loops over output pixels (lecture 3): the oracle
for the fast kernels.

Shapes: x (N, G * Cg, H, W), w (F, Cg, KH, KW) with F = G * Fg, b (F,); filter ``f`` of group
``g = f // Fg`` sees only the input channels ``g * Cg`` to ``(g + 1) * Cg``. Dilation (DH, DW)
spreads the kernel's taps: tap (ki, kj) reads the padded input at
``(i * SH + ki * DH, j * SW + kj * DW)``, so the kernel spans ``(KH - 1) * DH + 1`` rows.
With ``dilation = (1, 1)`` and ``groups = 1`` these are the kernels of ``reference/conv.py``.
"""

import numpy as np

from course.kernels.reference.conv import _pad
from course.kernels.shapes import conv_output_size


def _span(kernel, dilation):
    """Rows (or columns) of input that a dilated kernel covers."""
    return (kernel - 1) * dilation + 1


def _window(xp, i, j, kernel_size, stride, dilation):
    """The dilated window of output pixel (i, j): (N, C, KH, KW) taps of the padded input."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    return xp[:, :, i * sh:i * sh + _span(kh, dh):dh, j * sw:j * sw + _span(kw, dw):dw]


def conv2d_general_forward(x, w, b, stride, padding, dilation, groups):
    """out[n, f, i, j] = sum(dilated window of f's group (n, i, j) * w[f]) + b[f]; returns
    out (N, F, Ho, Wo) (lecture 3)."""
    n, c, h, width = x.shape
    f, cg, kh, kw = w.shape
    fg = f // groups
    ho = conv_output_size(h, _span(kh, dilation[0]), stride[0], padding[0])
    wo = conv_output_size(width, _span(kw, dilation[1]), stride[1], padding[1])
    xp = _pad(x, padding)
    out = np.empty((n, f, ho, wo), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = _window(xp, i, j, (kh, kw), stride, dilation)
            for g in range(groups):
                out[:, g * fg:(g + 1) * fg, i, j] = np.einsum(
                    "nchw,fchw->nf", window[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg])
    return out + b.reshape(1, f, 1, 1)


def conv2d_general_backward_data(dout, w, input_size, stride, padding, dilation, groups):
    """Gradient of the input (lecture 3): each dout[n, f, i, j] * w[f] is added back onto the
    taps of its dilated window, in f's group of channels. Returns dx (N, G * Cg, H, W)."""
    n, f, ho, wo = dout.shape
    _, cg, kh, kw = w.shape
    fg = f // groups
    (h, width), (ph, pw) = input_size, padding
    dxp = np.zeros((n, groups * cg, h + 2 * ph, width + 2 * pw), dtype=dout.dtype)
    for i in range(ho):
        for j in range(wo):
            window = _window(dxp, i, j, (kh, kw), stride, dilation)  # a view: += writes dxp
            for g in range(groups):
                window[:, g * cg:(g + 1) * cg] += np.einsum(
                    "nf,fchw->nchw", dout[:, g * fg:(g + 1) * fg, i, j], w[g * fg:(g + 1) * fg])
    return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + width])


def conv2d_general_backward_weight(dout, x, kernel_size, stride, padding, dilation, groups):
    """Gradient of the filters (lecture 3): dw[f] = sum over n, i, j of dout[n, f, i, j] times
    f's dilated window. Returns dw (F, Cg, KH, KW)."""
    _, f, ho, wo = dout.shape
    cg, fg = x.shape[1] // groups, f // groups
    xp = _pad(x, padding)
    dw = np.zeros((f, cg) + tuple(kernel_size), dtype=x.dtype)
    for i in range(ho):
        for j in range(wo):
            window = _window(xp, i, j, kernel_size, stride, dilation)
            for g in range(groups):
                dw[g * fg:(g + 1) * fg] += np.einsum(
                    "nf,nchw->fchw", dout[:, g * fg:(g + 1) * fg, i, j],
                    window[:, g * cg:(g + 1) * cg])
    return dw
