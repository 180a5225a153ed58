"""Dilated and grouped convolution on the GPU, built from the plain convolution kernels of
``course/kernels/gpu/conv.py`` (lecture 3). Same names and signatures as
``course.kernels.reference.conv_general``; CuPy is imported lazily.

A dilated kernel is the kernel spread out with zeros between its taps, and its weight gradient
is the spread kernel's gradient read at the kernel's own taps; the groups run one after the
other, each on its own channels, and their results are concatenated.
"""

from course.backend import require_cupy
from course.kernels.gpu.conv import conv2d_backward_data, conv2d_backward_weight, conv2d_forward


def _spread(w, dilation):
    """(F, C, KH, KW) -> (F, C, (KH - 1) * DH + 1, (KW - 1) * DW + 1), zeros between taps."""
    cupy = require_cupy()
    (dh, dw), (f, c, kh, kw) = dilation, w.shape
    out = cupy.zeros((f, c, (kh - 1) * dh + 1, (kw - 1) * dw + 1), dtype=w.dtype)
    out[:, :, ::dh, ::dw] = w
    return out


def _part(a, g, size):
    """Channels (axis 1) g * size to (g + 1) * size of a, contiguous."""
    return require_cupy().ascontiguousarray(a[:, g * size:(g + 1) * size])


def conv2d_general_forward(x, w, b, stride, padding, dilation, groups):
    """out (N, F, Ho, Wo), group by group (lecture 3; GPU backend)."""
    cupy = require_cupy()
    wide, (f, cg) = _spread(w, dilation), w.shape[:2]
    fg = f // groups
    return cupy.concatenate([conv2d_forward(_part(x, g, cg), wide[g * fg:(g + 1) * fg],
                                            b[g * fg:(g + 1) * fg], stride, padding)
                             for g in range(groups)], axis=1)


def conv2d_general_backward_data(dout, w, input_size, stride, padding, dilation, groups):
    """dx (N, G * Cg, H, W), group by group (lecture 3; GPU backend)."""
    cupy = require_cupy()
    wide, fg = _spread(w, dilation), w.shape[0] // groups
    return cupy.concatenate([conv2d_backward_data(_part(dout, g, fg), wide[g * fg:(g + 1) * fg],
                                                  input_size, stride, padding)
                             for g in range(groups)], axis=1)


def conv2d_general_backward_weight(dout, x, kernel_size, stride, padding, dilation, groups):
    """dw (F, Cg, KH, KW), group by group (lecture 3; GPU backend)."""
    cupy = require_cupy()
    (kh, kw), (dh, dw) = kernel_size, dilation
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    fg, cg = dout.shape[1] // groups, x.shape[1] // groups
    wide = cupy.concatenate([conv2d_backward_weight(_part(dout, g, fg), _part(x, g, cg), span,
                                                    stride, padding)
                             for g in range(groups)], axis=0)
    return cupy.ascontiguousarray(wide[:, :, ::dh, ::dw])
