"""Max, average and global average pooling (lecture 4).

Windows of ``size`` pixels (an int or a pair) move by ``stride`` (default: ``size``, so the
windows tile the input); there is no padding. Float32 or float64 in, the same dtype out.
"""

from course.backend import get_array_module, kernels_for
from course.kernels.shapes import conv_output_size
from course.ops.checks import check_float_array, check_int_pair, check_same_dtype, check_shape


def _check_pool_inputs(x, size, stride):
    """Validate x (N, C, H, W), size and stride; return the size and stride pairs."""
    check_float_array("x", x, ndim=4)
    size = check_int_pair("size", size, 1)
    stride = size if stride is None else check_int_pair("stride", stride, 1)
    if size[0] > x.shape[2] or size[1] > x.shape[3]:
        raise ValueError(f"size {size} does not fit in the input {tuple(x.shape)}: "
                         f"the window must be at most (H, W) = {tuple(x.shape[2:])}")
    return size, stride


def _check_dout(dout, like, out_shape):
    check_float_array("dout", dout, ndim=len(out_shape))
    check_same_dtype(dout=dout, x=like)
    check_shape("dout", dout, out_shape)


def _pool_output_shape(x_shape, size, stride):
    return (x_shape[0], x_shape[1], conv_output_size(x_shape[2], size[0], stride[0], 0),
            conv_output_size(x_shape[3], size[1], stride[1], 0))


def max_pool2d_forward(x, size=2, stride=None):
    """Maximum of each window (lecture 4).

    Args:
        x: (N, C, H, W) inputs.
        size: window (KH, KW) or an int; stride: (SH, SW), an int, or None for ``size``.

    Returns:
        out: (N, C, Ho, Wo) with ``Ho = (H - KH) // SH + 1``, and a cache that remembers
        where each maximum came from, for :func:`max_pool2d_backward`.
    """
    size, stride = _check_pool_inputs(x, size, stride)
    out, argmax = kernels_for(x).max_pool2d_forward(x, size, stride)
    return out, (x.shape, x, argmax, size, stride)


def max_pool2d_backward(dout, cache):
    """Gradient of :func:`max_pool2d_forward` (lecture 4): each dout value goes to its window's
    maximum.

    Args:
        dout: (N, C, Ho, Wo). cache: from :func:`max_pool2d_forward`.

    Returns:
        dx (N, C, H, W).
    """
    x_shape, x, argmax, size, stride = cache
    _check_dout(dout, x, _pool_output_shape(x_shape, size, stride))
    return kernels_for(x).max_pool2d_backward(dout, argmax, x_shape[2:], size, stride)


def avg_pool2d_forward(x, size=2, stride=None):
    """Mean of each window (lecture 4).

    Args:
        x: (N, C, H, W) inputs.
        size: window (KH, KW) or an int; stride: (SH, SW), an int, or None for ``size``.

    Returns:
        out: (N, C, Ho, Wo), and a cache for :func:`avg_pool2d_backward`.
    """
    size, stride = _check_pool_inputs(x, size, stride)
    out = kernels_for(x).avg_pool2d_forward(x, size, stride)
    return out, (x.shape, x, size, stride)


def avg_pool2d_backward(dout, cache):
    """Gradient of :func:`avg_pool2d_forward` (lecture 4): each dout value is shared by its window.

    Returns:
        dx (N, C, H, W).
    """
    x_shape, x, size, stride = cache
    _check_dout(dout, x, _pool_output_shape(x_shape, size, stride))
    return kernels_for(x).avg_pool2d_backward(dout, x_shape[2:], size, stride)


def global_avg_pool2d_forward(x):
    """Mean over all pixels of each channel (lecture 4): x (N, C, H, W) -> out (N, C), and a
    cache."""
    check_float_array("x", x, ndim=4)
    if x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"x must have at least one pixel, got shape {tuple(x.shape)}")
    return x.mean(axis=(2, 3)), (x.shape, x)


def global_avg_pool2d_backward(dout, cache):
    """Gradient of :func:`global_avg_pool2d_forward` (lecture 4): dout (N, C) -> dx (N, C, H, W)."""
    x_shape, x = cache
    _check_dout(dout, x, x_shape[:2])
    xp = get_array_module(dout)
    share = dout / (x_shape[2] * x_shape[3])
    return xp.ascontiguousarray(xp.broadcast_to(share[:, :, None, None], x_shape))
