"""Classification and regression losses (lecture 2, backprop).

Each loss returns ``(loss, dscores)``: the mean loss over the batch and its gradient with
respect to the scores (or predictions), shaped like them.
"""

from course.backend import get_array_module
from course.ops.checks import check_float_array, check_labels, check_same_device, check_shape


def softmax(scores, axis=-1):
    """Softmax along ``axis``, shifted by the maximum so ``exp`` never overflows (lecture 1)."""
    xp = get_array_module(scores)
    shifted = scores - scores.max(axis=axis, keepdims=True)
    exp = xp.exp(shifted)
    return exp / exp.sum(axis=axis, keepdims=True)


def softmax_loss(scores, y):
    """Cross-entropy of the softmax of the scores (lecture 2).

    Args:
        scores: (N, C) class scores. y: (N,) integer labels in [0, C).

    Returns:
        loss (mean over the N examples) and dscores (N, C).
    """
    check_float_array("scores", scores, ndim=2)
    n, c = scores.shape
    check_labels("y", y, n, c)
    check_same_device(scores=scores, y=y)
    xp = get_array_module(scores)
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(n)
    loss = -log_probs[rows, y].sum() / max(n, 1)
    dscores = xp.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= max(n, 1)
    return loss, dscores


def svm_loss(scores, y, margin=1.0):
    """Multiclass hinge loss: ``sum over j != y of max(0, s_j - s_y + margin)`` (lecture 2).

    Args:
        scores: (N, C) class scores. y: (N,) integer labels in [0, C).

    Returns:
        loss (mean over the N examples) and dscores (N, C).
    """
    check_float_array("scores", scores, ndim=2)
    n, c = scores.shape
    check_labels("y", y, n, c)
    check_same_device(scores=scores, y=y)
    xp = get_array_module(scores)
    rows = xp.arange(n)
    correct = scores[rows, y][:, None]
    margins = xp.maximum(0, scores - correct + scores.dtype.type(margin))
    margins[rows, y] = 0
    loss = margins.sum() / max(n, 1)
    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    dscores /= max(n, 1)
    return loss, dscores


def mse_loss(pred, target):
    """Squared error summed over each example's values, averaged over the batch (lecture 2).

    Args:
        pred: (N, ...) predictions. target: the same shape.

    Returns:
        loss ``sum((pred - target)^2) / N`` and dpred ``2 (pred - target) / N``.
    """
    check_float_array("pred", pred, min_ndim=1)
    check_float_array("target", target)
    check_shape("target", target, pred.shape)
    check_same_device(pred=pred, target=target)
    n = max(pred.shape[0], 1)
    diff = pred - target.astype(pred.dtype, copy=False)
    return (diff * diff).sum() / n, 2 * diff / n


def pixel_softmax_loss(scores, y, ignore_index=None):
    """Cross-entropy of the softmax over classes at every pixel (lecture 6c, dense prediction).

    Semantic segmentation classifies each pixel: this is :func:`softmax_loss` with every pixel
    an example, averaged over the pixels that count (as PyTorch's ``cross_entropy`` with
    ``ignore_index``). Pixels labelled ``ignore_index`` (unlabelled or uncertain, e.g. object
    borders) add nothing to the loss and get a zero gradient.

    Args:
        scores: (N, C, ...) class scores per pixel, e.g. (N, C, H, W) or (N, C, L).
        y: (N, ...) integer labels in [0, C), or ``ignore_index``.
        ignore_index: a label value to leave out, or None.

    Returns:
        loss (mean over the counted pixels; 0 when none counts) and dscores (N, C, ...).
    """
    check_float_array("scores", scores, min_ndim=3)
    c = scores.shape[1]
    expected = (scores.shape[0],) + tuple(scores.shape[2:])
    if not hasattr(y, "dtype") or not hasattr(y, "shape"):
        raise TypeError(f"y must be an integer array, got {type(y).__name__}")
    check_shape("y", y, expected)
    check_same_device(scores=scores, y=y)
    xp = get_array_module(scores)
    flat_y = y.reshape(-1)
    keep = xp.ones(flat_y.shape, dtype=bool) if ignore_index is None else flat_y != ignore_index
    counted = flat_y[keep]
    try:
        check_labels("y", counted, counted.shape[0], c)
    except ValueError as error:
        ignored = "" if ignore_index is None else f" (or ignore_index={ignore_index})"
        raise ValueError(f"{error}: every pixel's class id must be in [0, {c}){ignored}") \
            from None
    columns = xp.moveaxis(scores, 1, -1).reshape(-1, c)  # (pixels, C)
    count = max(int(keep.sum()), 1)
    shifted = columns - columns.max(axis=1, keepdims=True)
    log_probs = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(columns.shape[0])
    labels = xp.where(keep, flat_y, 0)
    loss = -(log_probs[rows, labels] * keep).sum() / count
    dcolumns = xp.exp(log_probs)
    dcolumns[rows, labels] -= 1
    dcolumns *= keep[:, None].astype(scores.dtype) / scores.dtype.type(count)
    dscores = xp.moveaxis(dcolumns.reshape(expected + (c,)), -1, 1)
    return loss, xp.ascontiguousarray(dscores)
