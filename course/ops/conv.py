"""Convolution and transposed convolution (lecture 3).

``conv2d_forward(x, w, b, stride, padding)`` slides each filter ``w[f]`` over the zero-padded
input; ``conv_transpose2d_forward`` is its adjoint with PyTorch's semantics and weight layout
(the backward-data pass of a convolution run forwards, used to upsample). Both accept an int or
a pair ``(height, width)`` for ``stride`` and ``padding``, any stride and padding that gives a
positive output size, and float32 or float64 arrays (the output has the input's dtype).

The kernels come from :func:`course.backend.kernels_for`: the readable reference loops, the
Numba im2col kernels (default on the CPU) or the CuPy kernels for CuPy arrays.
"""

from course.backend import get_array_module, kernels_for
from course.kernels.shapes import conv_output_size, conv_transpose_output_size
from course.ops.checks import (
    check_bool,
    check_float_array,
    check_int_pair,
    check_nonnegative_int,
    check_positive_int,
    check_same_device,
    check_same_dtype,
    check_shape,
)


def _check_conv_inputs(x, w, b, stride, padding):
    """Validate x (N, C, H, W), w (4-D) and b (1-D); return the stride and padding pairs."""
    check_float_array("x", x, ndim=4)
    check_float_array("w", w, ndim=4)
    check_float_array("b", b, ndim=1)
    check_same_dtype(x=x, w=w, b=b)
    check_same_device(x=x, w=w, b=b)
    stride = check_int_pair("stride", stride, 1)
    padding = check_int_pair("padding", padding, 0)
    if w.shape[0] == 0 or min(w.shape[2:]) < 1:
        raise ValueError(f"w must have at least one filter and a kernel of at least 1x1, "
                         f"got shape {tuple(w.shape)}")
    return stride, padding


def _conv_output_size(x, w, stride, padding):
    """(Ho, Wo) of a convolution of x with w."""
    return tuple(conv_output_size(x.shape[2 + a], w.shape[2 + a], stride[a], padding[a])
                 for a in (0, 1))


def _check_output_size(name, output_size, x, w, stride, padding):
    if min(output_size) < 1:
        raise ValueError(
            f"{name}: input {tuple(x.shape)} with kernel {tuple(w.shape[2:])}, stride {stride} "
            f"and padding {padding} gives output size {tuple(output_size)}; "
            f"every output size must be at least 1")


def _check_needs(need_dx, need_dw, need_db):
    for name, value in (("need_dx", need_dx), ("need_dw", need_dw), ("need_db", need_db)):
        check_bool(name, value)


def _check_dout(dout, out_shape, like):
    check_float_array("dout", dout, ndim=4)
    check_same_dtype(dout=dout, x=like)
    check_same_device(dout=dout, x=like)
    check_shape("dout", dout, out_shape)


def bias_gradient(dout):
    """db (F,) of a convolution: dout (N, F, Ho, Wo) summed over the samples, then over each
    channel's pixels (lecture 3). Summing the samples first adds N whole rows of F*Ho*Wo values;
    ``dout.sum(axis=(0, 2, 3))`` sums the N*Ho*Wo values of one channel at a time and took 100
    against 34 us for LeNet-5's second layer (N128 F16 8x8), 401 against 256 us for N64
    64x16x16."""
    n, f, ho, wo = dout.shape
    return dout.reshape(n, f * ho * wo).sum(axis=0).reshape(f, ho * wo).sum(axis=1)


def conv2d_forward(x, w, b, stride=1, padding=0):
    """2-D convolution (cross-correlation, as in every deep-learning library) (lecture 3).

    Args:
        x: (N, C, H, W) inputs.
        w: (F, C, KH, KW) filters.
        b: (F,) biases.
        stride: int or (SH, SW); padding: int or (PH, PW) zeros added on each side.

    Returns:
        out: (N, F, Ho, Wo) with ``Ho = (H + 2 * PH - KH) // SH + 1`` (likewise Wo),
        and a cache for :func:`conv2d_backward`.
    """
    stride, padding = _check_conv_inputs(x, w, b, stride, padding)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w must have {x.shape[1]} input channels to match x {tuple(x.shape)}, "
                         f"got w of shape {tuple(w.shape)}")
    check_shape("b", b, (w.shape[0],))
    output_size = _conv_output_size(x, w, stride, padding)
    _check_output_size("conv2d", output_size, x, w, stride, padding)
    out = kernels_for(x).conv2d_forward(x, w, b, stride, padding)
    return out, (x, w, stride, padding)


def conv2d_backward(dout, cache, *, need_dx=True, need_dw=True, need_db=True):
    """Gradients of :func:`conv2d_forward` (lecture 3).

    Args:
        dout: (N, F, Ho, Wo) upstream gradient.
        cache: from :func:`conv2d_forward`.
        need_dx, need_dw, need_db: False to skip that gradient (None in its place): a
            network's first layer needs no dx, a frozen layer no dw and db.

    Returns:
        dx (N, C, H, W), dw (F, C, KH, KW), db (F,).
    """
    x, w, stride, padding = cache
    _check_needs(need_dx, need_dw, need_db)
    _check_dout(dout, (x.shape[0], w.shape[0]) + _conv_output_size(x, w, stride, padding), x)
    dx, dw = kernels_for(x).conv2d_backward(dout, x, w, stride, padding, need_dx, need_dw)
    return dx, dw, bias_gradient(dout) if need_db else None


def conv_transpose2d_forward(x, w, b, stride=1, padding=0):
    """2-D transposed convolution ("deconvolution"), as ``torch.nn.functional.conv_transpose2d``
    (lecture 3).

    Each input pixel scatters ``x[n, c, i, j] * w[c]`` onto a KH x KW patch of the output at
    ``(i * SH - PH, j * SW - PW)``: exactly the data gradient of a convolution with the same
    weights, stride and padding, which is how it is computed.

    Args:
        x: (N, C_in, H, W) inputs.
        w: (C_in, C_out, KH, KW) weights (PyTorch's layout).
        b: (C_out,) biases.
        stride: int or (SH, SW); padding: int or (PH, PW), removed from each side of the output.

    Returns:
        out: (N, C_out, Ho, Wo) with ``Ho = (H - 1) * SH - 2 * PH + KH`` (likewise Wo),
        and a cache for :func:`conv_transpose2d_backward`.
    """
    return _conv_transpose2d_forward(x, w, b, stride, padding, 0)


def _conv_transpose2d_forward(x, w, b, stride, padding, output_padding):
    """:func:`conv_transpose2d_forward` with ``output_padding`` (an int or a pair, each below
    its stride) more rows and columns at the bottom and right; the general op's too."""
    stride, padding = _check_conv_inputs(x, w, b, stride, padding)
    output_padding = check_int_pair("output_padding", output_padding, 0)
    if any(o >= s for o, s in zip(output_padding, stride, strict=True)):
        raise ValueError(f"output_padding must be smaller than the stride {stride}, got "
                         f"{output_padding}")
    if w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have {x.shape[1]} input channels (its first axis) to match x "
                         f"{tuple(x.shape)}, got w of shape {tuple(w.shape)}")
    check_shape("b", b, (w.shape[1],))
    output_size = tuple(
        conv_transpose_output_size(x.shape[2 + a], w.shape[2 + a], stride[a], padding[a])
        + output_padding[a] for a in (0, 1))
    _check_output_size("conv_transpose2d", output_size, x, w, stride, padding)
    out = kernels_for(x).conv2d_backward_data(x, w, output_size, stride, padding)
    out += b.reshape(1, -1, 1, 1)
    return out, (x, w, stride, padding, output_size)


def conv_transpose2d_backward(dout, cache, *, need_dx=True, need_dw=True, need_db=True):
    """Gradients of :func:`conv_transpose2d_forward` (lecture 3).

    The transposed convolution's input gradient is an ordinary convolution of ``dout`` with
    the same weights, and its weight gradient is the convolution's weight gradient with the
    roles of input and upstream gradient swapped.

    Args:
        dout: (N, C_out, Ho, Wo) upstream gradient.
        cache: from :func:`conv_transpose2d_forward`.
        need_dx, need_dw, need_db: False to skip that gradient (None in its place).

    Returns:
        dx (N, C_in, H, W), dw (C_in, C_out, KH, KW), db (C_out,).
    """
    x, w, stride, padding, output_size = cache
    _check_needs(need_dx, need_dw, need_db)
    _check_dout(dout, (x.shape[0], w.shape[1]) + tuple(output_size), x)
    kernels = kernels_for(x)
    dx = dw = None
    if need_dx:
        zero_bias = get_array_module(x).zeros(w.shape[0], dtype=x.dtype)
        dx = kernels.conv2d_forward(dout, w, zero_bias, stride, padding)
    if need_dw:
        dw = kernels.conv2d_backward_weight(x, dout, w.shape[2:], stride, padding)
    return dx, dw, bias_gradient(dout) if need_db else None


def conv1d_forward(x, w, b, stride=1, padding=0):
    """1-D convolution over sequences (lecture 6c, dense prediction).

    The same op as :func:`conv2d_forward` on images of height 1: x becomes (N, C, 1, L) and
    w (F, C, 1, K), so every kernel set serves sequences without a kernel of its own.

    Args:
        x: (N, C, L) inputs (channels first, as PyTorch's ``conv1d``).
        w: (F, C, K) filters. b: (F,) biases.
        stride, padding: ints (padding: zeros added at each end).

    Returns:
        out: (N, F, Lo) with ``Lo = (L + 2 * padding - K) // stride + 1``, and a cache for
        :func:`conv1d_backward`.
    """
    check_float_array("x", x, ndim=3)
    check_float_array("w", w, ndim=3)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"w must have {x.shape[1]} input channels to match x {tuple(x.shape)}, "
                         f"got w of shape {tuple(w.shape)}")
    check_positive_int("stride", stride)
    check_nonnegative_int("padding", padding)
    out, cache = conv2d_forward(x[:, :, None, :], w[:, :, None, :], b, stride=(1, stride),
                                padding=(0, padding))
    return out[:, :, 0, :], cache


def conv1d_backward(dout, cache, *, need_dx=True, need_dw=True, need_db=True):
    """Gradients of :func:`conv1d_forward` (lecture 6c): those of the height-1 conv2d.

    Args:
        dout: (N, F, Lo) upstream gradient. cache: from :func:`conv1d_forward`.
        need_dx, need_dw, need_db: False to skip that gradient (None in its place).

    Returns:
        dx (N, C, L), dw (F, C, K), db (F,).
    """
    check_float_array("dout", dout, ndim=3)
    dx, dw, db = conv2d_backward(dout[:, :, None, :], cache, need_dx=need_dx, need_dw=need_dw,
                                 need_db=need_db)
    return (None if dx is None else dx[:, :, 0, :]), (None if dw is None else dw[:, :, 0, :]), db
