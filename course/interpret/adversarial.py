"""Adversarial examples (lecture 6d): tiny changes to an image that change the model's answer.

The **fast gradient sign method** (Goodfellow, Shlens and Szegedy, 2015) moves every pixel by
``eps`` in the direction that increases the loss:

    x_adv = x + eps * sign(d loss(x, y) / d x),

and its **iterative** version (Kurakin, Goodfellow and Bengio, 2017) takes several steps of
size ``alpha``, each time projecting back into the box ``|x_adv - x| <= eps``. A *targeted*
attack instead decreases the loss of a chosen wrong class ``y`` (CS231n's fooling images).
"""

from course.backend import get_array_module
from course.interpret.gradients import loss_gradient
from course.interpret.layers import inspecting
from course.ops.checks import check_float_array, check_number, check_positive_int


def _check_clip(clip):
    if clip is not None and (len(clip) != 2 or not clip[0] < clip[1]):
        raise ValueError(f"clip must be None or (low, high) with low < high, got {clip!r}")


def success_rate(model, x, x_adv, y, targeted=False):
    """How often an attack worked (lecture 6d).

    Untargeted: among the images the model classifies correctly, the fraction whose
    adversarial version it misclassifies (0.0 when it gets none right). Targeted: the fraction
    of adversarial images classified as their target ``y``.
    """
    xp = get_array_module(x)
    y = xp.asarray(y)
    with inspecting(model):
        after = model.forward(x_adv).argmax(axis=1)
        if targeted:
            return float((after == y).mean())
        correct = model.forward(x).argmax(axis=1) == y
    fooled = correct & (after != y)
    return float(fooled.sum() / correct.sum()) if int(correct.sum()) else 0.0


def _step(model, x_adv, y, size, targeted):
    _, dx = loss_gradient(model, x_adv, y)
    sign = get_array_module(dx).sign(dx)
    return x_adv - size * sign if targeted else x_adv + size * sign


def fgsm(model, x, y, eps, clip=None, targeted=False):
    """Fast gradient sign method (lecture 6d).

    Args:
        model: any ``course`` classifier (run in evaluation mode). x: (N, ...) inputs.
        y: (N,) true labels, or target classes when ``targeted``.
        eps: how far each pixel may move (>= 0; 0 returns a copy of x).
        clip: optional (low, high) range of valid pixels, e.g. (0, 1).
        targeted: push towards class y instead of away from it.

    Returns:
        ``(x_adv, rate)``: adversarial inputs (x's shape, dtype and device) and
        :func:`success_rate`.
    """
    check_float_array("x", x, min_ndim=2)
    check_number("eps", eps, low=0)
    _check_clip(clip)
    x_adv = _step(model, x, y, eps, targeted).astype(x.dtype)
    if clip is not None:
        x_adv = get_array_module(x).clip(x_adv, *clip)
    return x_adv, success_rate(model, x, x_adv, y, targeted)


def fgsm_iterative(model, x, y, eps, steps=10, alpha=None, clip=None, targeted=False):
    """Iterative fast gradient sign method (basic iterative method) (lecture 6d).

    ``steps`` signed-gradient steps of size ``alpha`` (default ``2.5 * eps / steps``), each
    followed by projection into ``[x - eps, x + eps]`` and into ``clip``.

    Args and returns as :func:`fgsm`, plus steps (>= 1) and alpha (>= 0).
    """
    check_float_array("x", x, min_ndim=2)
    check_number("eps", eps, low=0)
    check_positive_int("steps", steps)
    alpha = 2.5 * eps / steps if alpha is None else alpha
    check_number("alpha", alpha, low=0)
    _check_clip(clip)
    xp = get_array_module(x)
    x_adv = x.copy()
    for _ in range(steps):
        x_adv = xp.clip(_step(model, x_adv, y, alpha, targeted), x - eps, x + eps)
        if clip is not None:
            x_adv = xp.clip(x_adv, *clip)
        x_adv = x_adv.astype(x.dtype)
    return x_adv, success_rate(model, x, x_adv, y, targeted)
