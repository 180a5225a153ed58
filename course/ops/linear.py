"""Fully connected (affine) layer: ``out = x @ w + b`` (lecture 1, neurons; lecture 2, backprop)."""

from course.ops.checks import (
    check_bool,
    check_float_array,
    check_gradient,
    check_same_device,
    check_same_dtype,
    check_shape,
)


def linear_forward(x, w, b):
    """Affine map of each example (lecture 1).

    Args:
        x: (N, d_1, ..., d_k) inputs; each example is flattened to D = d_1 * ... * d_k values.
        w: (D, M) weights.
        b: (M,) biases.

    Returns:
        out: (N, M) outputs, and a cache for :func:`linear_backward`.
    """
    check_float_array("x", x, min_ndim=1)
    check_float_array("w", w, ndim=2)
    check_float_array("b", b, ndim=1)
    check_same_dtype(x=x, w=w, b=b)
    check_same_device(x=x, w=w, b=b)
    n = x.shape[0]
    d = x.size // n if n else int(w.shape[0])
    if w.shape[0] != d:
        raise ValueError(
            f"w must have {d} rows, one per input feature of x {tuple(x.shape)}, "
            f"got w of shape {tuple(w.shape)}")
    check_shape("b", b, (w.shape[1],))
    out = x.reshape(n, d) @ w + b
    return out, (x, w)


def linear_backward(dout, cache, *, need_dx=True, need_dw=True, need_db=True):
    """Gradients of the affine map (lecture 2).

    Args:
        dout: (N, M) upstream gradient.
        cache: from :func:`linear_forward`.
        need_dx, need_dw, need_db: False to skip that gradient (None in its place): a first
            layer needs no dx, a frozen one no dw and db.

    Returns:
        dx (N, d_1, ..., d_k), dw (D, M), db (M,).
    """
    x, w = cache
    for name, value in (("need_dx", need_dx), ("need_dw", need_dw), ("need_db", need_db)):
        check_bool(name, value)
    check_gradient("dout", dout, x, (x.shape[0], w.shape[1]))
    x2d = x.reshape(x.shape[0], w.shape[0])  # not -1: that fails for an empty batch
    dx = (dout @ w.T).reshape(x.shape) if need_dx else None
    dw = x2d.T @ dout if need_dw else None
    db = dout.sum(axis=0) if need_db else None
    return dx, dw, db
