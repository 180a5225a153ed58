"""Channel concatenation and splitting (lecture 6b, architectures).

DenseNet feeds each layer the concatenation of all earlier feature maps, and U-Net joins its
decoder's upsampled maps with the encoder's maps of the same size: both stack arrays along the
channel axis (axis 1). ``concat`` and ``split`` are each other's backward pass: the gradient of
a concatenation is the upstream gradient cut back into the inputs' channel ranges.

Any rank from 2 up: (N, C), (N, C, L), (N, C, H, W), ... Float32 or float64 in, the same out.
"""

from course.backend import kernels_for
from course.ops.checks import (
    check_float_array,
    check_positive_int,
    check_same_device,
    check_same_dtype,
    check_shape,
)


def concat_forward(*xs):
    """Concatenate arrays along the channel axis (lecture 6b).

    Args:
        *xs: arrays (N, C_k, ...) with equal N and equal sizes after the channel axis.

    Returns:
        out: (N, C_1 + C_2 + ..., ...), and a cache (the channel counts) for
        :func:`concat_backward`.
    """
    if not xs:
        raise ValueError("concat_forward needs at least one array")
    for k, x in enumerate(xs):
        check_float_array(f"xs[{k}]", x, min_ndim=2)
    check_same_dtype(**{f"xs[{k}]": x for k, x in enumerate(xs)})
    check_same_device(**{f"xs[{k}]": x for k, x in enumerate(xs)})
    first = xs[0]
    for k, x in enumerate(xs[1:], start=1):
        if x.ndim != first.ndim or x.shape[0] != first.shape[0] or x.shape[2:] != first.shape[2:]:
            raise ValueError(
                f"xs[{k}] has shape {tuple(x.shape)} but xs[0] has {tuple(first.shape)}: "
                f"arrays can only be concatenated along the channel axis (axis 1) when every "
                f"other size matches")
    sizes = tuple(x.shape[1] for x in xs)
    return kernels_for(first).channel_concat(list(xs)), (sizes, first)


def concat_backward(dout, cache):
    """Gradients of :func:`concat_forward` (lecture 6b): dout cut into each input's channels.

    Args:
        dout: (N, sum C_k, ...) upstream gradient. cache: from :func:`concat_forward`.

    Returns:
        One gradient per input, a tuple (a single array when there was one input).
    """
    sizes, first = cache
    check_float_array("dout", dout)
    check_same_dtype(dout=dout, x=first)
    check_same_device(dout=dout, x=first)
    check_shape("dout", dout, (first.shape[0], sum(sizes)) + tuple(first.shape[2:]))
    grads = tuple(kernels_for(dout).channel_split(dout, sizes))
    return grads[0] if len(grads) == 1 else grads


def split_forward(x, sizes):
    """Cut an array into consecutive channel blocks (lecture 6b).

    Args:
        x: (N, C, ...) input. sizes: channel counts, each at least 1, summing to C.

    Returns:
        a tuple of arrays (N, sizes[k], ...), and a cache for :func:`split_backward`.
    """
    check_float_array("x", x, min_ndim=2)
    if not isinstance(sizes, (tuple, list)) or not sizes:
        raise TypeError(f"sizes must be a non-empty list of channel counts, got {sizes!r}")
    for k, size in enumerate(sizes):
        check_positive_int(f"sizes[{k}]", size)
    if sum(sizes) != x.shape[1]:
        raise ValueError(f"sizes {list(sizes)} add up to {sum(sizes)} channels, but x "
                         f"{tuple(x.shape)} has {x.shape[1]}")
    parts = tuple(kernels_for(x).channel_split(x, tuple(int(s) for s in sizes)))
    return parts, x


def split_backward(douts, cache):
    """Gradient of :func:`split_forward` (lecture 6b): the upstream gradients concatenated.

    Args:
        douts: one (N, sizes[k], ...) gradient per part. cache: from :func:`split_forward`.

    Returns:
        dx (N, C, ...).
    """
    x = cache
    dx, _ = concat_forward(*douts)
    check_same_dtype(dout=dx, x=x)
    check_shape("the concatenated douts", dx, x.shape)
    return dx
