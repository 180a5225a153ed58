"""PyTorch's convolution options: ``dilation`` and ``groups``, and the transposed convolution's
``output_padding`` (lecture 3; what ``nn.Conv2d`` and ``nn.ConvTranspose2d`` run).

- ``groups``: the input channels split into ``groups`` equal groups, and so do the filters;
  each filter sees only its group's channels: w is (F, C / groups, KH, KW).
- ``dilation``: the kernel's taps are spread ``dilation`` pixels apart, so a KxK kernel covers
  ``(K - 1) * dilation + 1`` pixels with K*K weights.
- ``output_padding``: a transposed convolution with stride s can produce any of s output sizes
  (the convolution it undoes maps them all to the same size); ``output_padding`` rows and
  columns added at the bottom and right pick the larger ones, as in PyTorch. No kernel of its
  own: the data gradient of a convolution of the larger input is that output.

The convolution runs the kernels ``conv2d_general_*`` (reference loops, Numba, CuPy);
``nn.Conv2d`` sends a plain one (``dilation=1``, ``groups=1``) to ``ops.conv2d_forward``, the
op of assignment a2, with its tuned kernels.
"""

from course.backend import kernels_for
from course.kernels.shapes import conv_output_size
from course.ops.checks import check_int_pair, check_positive_int, check_shape
from course.ops.conv import (
    _check_conv_inputs,
    _check_dout,
    _check_needs,
    _check_output_size,
    _conv_transpose2d_forward,
    bias_gradient,
    conv_transpose2d_backward,
)


def _spans(w, dilation):
    """Pixels (rows, columns) covered by w's kernel with ``dilation``."""
    return tuple((w.shape[2 + a] - 1) * dilation[a] + 1 for a in (0, 1))


def _output_size(x, w, stride, padding, dilation):
    spans = _spans(w, dilation)
    return tuple(conv_output_size(x.shape[2 + a], spans[a], stride[a], padding[a])
                 for a in (0, 1))


def conv2d_general_forward(x, w, b, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution with PyTorch's ``dilation`` and ``groups`` (lecture 3).

    Args:
        x: (N, C, H, W) inputs.
        w: (F, C / groups, KH, KW) filters; filter f sees the channels of group
            ``f // (F / groups)``.
        b: (F,) biases.
        stride, padding: int or pair, as in :func:`course.ops.conv2d_forward`.
        dilation: int or (DH, DW) >= 1, the spacing of the kernel's taps.
        groups: int >= 1 dividing C and F.

    Returns:
        out: (N, F, Ho, Wo) with ``Ho = (H + 2 * PH - (KH - 1) * DH - 1) // SH + 1`` (likewise
        Wo), and a cache for :func:`conv2d_general_backward`.
    """
    stride, padding = _check_conv_inputs(x, w, b, stride, padding)
    dilation = check_int_pair("dilation", dilation, 1)
    check_positive_int("groups", groups)
    if w.shape[0] % groups:
        raise ValueError(f"groups ({groups}) must divide the {w.shape[0]} filters of w "
                         f"{tuple(w.shape)}")
    if x.shape[1] != w.shape[1] * groups:
        raise ValueError(f"x must have groups * w.shape[1] = {w.shape[1] * groups} channels, "
                         f"got x of shape {tuple(x.shape)} (w {tuple(w.shape)}, groups "
                         f"{groups})")
    check_shape("b", b, (w.shape[0],))
    output_size = _output_size(x, w, stride, padding, dilation)
    _check_output_size("conv2d", output_size, x, w, stride, padding)
    out = kernels_for(x).conv2d_general_forward(x, w, b, stride, padding, dilation, groups)
    return out, (x, w, stride, padding, dilation, groups)


def conv2d_general_backward(dout, cache, *, need_dx=True, need_dw=True, need_db=True):
    """Gradients of :func:`conv2d_general_forward` (lecture 3).

    Args:
        dout: (N, F, Ho, Wo) upstream gradient. cache: from :func:`conv2d_general_forward`.
        need_dx, need_dw, need_db: False to skip that gradient (None in its place), as in
            :func:`course.ops.conv2d_backward`.

    Returns:
        dx (N, C, H, W), dw (F, C / groups, KH, KW), db (F,).
    """
    _check_needs(need_dx, need_dw, need_db)
    x, w, stride, padding, dilation, groups = cache
    _check_dout(dout, (x.shape[0], w.shape[0]) + _output_size(x, w, stride, padding, dilation),
                x)
    kernels = kernels_for(x)
    dx = kernels.conv2d_general_backward_data(dout, w, x.shape[2:], stride, padding, dilation,
                                              groups) if need_dx else None
    dw = kernels.conv2d_general_backward_weight(dout, x, w.shape[2:], stride, padding, dilation,
                                                groups) if need_dw else None
    return dx, dw, bias_gradient(dout) if need_db else None


def conv_transpose2d_general_forward(x, w, b, stride=1, padding=0, output_padding=0):
    """Transposed convolution with PyTorch's ``output_padding`` (lecture 3).

    Args:
        x, w, b, stride, padding: as in :func:`course.ops.conv_transpose2d_forward`.
        output_padding: int or (OH, OW), each smaller than its stride: rows and columns added
            at the bottom and right.

    Returns:
        out: (N, C_out, Ho + OH, Wo + OW), Ho and Wo those of ``conv_transpose2d_forward``,
        and a cache for :func:`conv_transpose2d_general_backward`.
    """
    return _conv_transpose2d_forward(x, w, b, stride, padding, output_padding)


def conv_transpose2d_general_backward(dout, cache, *, need_dx=True, need_dw=True,
                                      need_db=True):
    """Gradients of :func:`conv_transpose2d_general_forward` (lecture 3): those of
    :func:`course.ops.conv_transpose2d_backward`, whose cache records the output size
    (``need_*`` as there).

    Returns:
        dx (N, C_in, H, W), dw (C_in, C_out, KH, KW), db (C_out,).
    """
    return conv_transpose2d_backward(dout, cache, need_dx=need_dx, need_dw=need_dw,
                                     need_db=need_db)
