"""Gradients with respect to the input: saliency maps and class visualisation (lecture 6d).

``model.backward(dscores)`` returns the gradient of the input, which is all these methods need
(Simonyan, Vedaldi and Zisserman, 2014, "Deep inside convolutional networks"). It also fills
every parameter's ``grad``: :func:`course.interpret.inspecting` saves and restores them, so
the model is left as it was.
"""

import numpy as np

from course import ops
from course.backend import get_array_module, to_host
from course.interpret.layers import inspecting
from course.ops.checks import check_float_array, check_number, check_positive_int


def check_images(name, x):
    """Raise unless ``x`` is a float (N, C, H, W) batch of images (lecture 6d)."""
    check_float_array(name, x, ndim=4)
    if x.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {tuple(x.shape)}")


def check_target(target, num_samples, num_classes, name="target"):
    """``target`` (one class for every image, or one per image) as an (N,) numpy int64 array,
    after checking that it names classes in [0, num_classes) (lecture 6d)."""
    values = to_host(target)
    if values.dtype.kind not in "iu" or values.ndim > 1:
        raise TypeError(f"{name} must be an int or a 1-D array of ints, got {type(target).__name__}"
                        f" of dtype {values.dtype} and shape {values.shape}")
    if values.ndim == 1 and values.shape[0] != num_samples:
        raise ValueError(f"{name} must have one class per image ({num_samples}), "
                         f"got {values.shape[0]}")
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"{name} must be a class in [0, {num_classes}), got values from "
                         f"{values.min()} to {values.max()}")
    return np.broadcast_to(values, (num_samples,)).astype(np.int64)


def softmax(scores):
    """Row-wise softmax of (N, K) scores, computed stably (lecture 6d)."""
    xp = get_array_module(scores)
    e = xp.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def probabilities(model, x):
    """Class probabilities (N, K), the softmax of ``model``'s scores in evaluation mode
    (lecture 6d)."""
    with inspecting(model):
        return softmax(model.forward(x))


def score_gradient(model, x, target):
    """Scores and the gradient of ``sum_n scores[n, target_n]`` with respect to ``x``
    (lecture 6d).

    Args:
        model: any ``course`` classifier, run in evaluation mode. x: (N, ...) its input.
        target: a class index, or (N,) one per image.

    Returns:
        scores (N, K) and dx (the shape of x): each image's gradient of its own target score.
    """
    check_float_array("x", x, min_ndim=2)
    xp = get_array_module(x)
    with inspecting(model):
        scores = model.forward(x)
        target = xp.asarray(check_target(target, *scores.shape))
        dscores = xp.zeros_like(scores)
        dscores[xp.arange(len(x)), target] = 1
        dx = model.backward(dscores)
    return scores, dx


def loss_gradient(model, x, y):
    """Softmax cross-entropy loss (mean over the batch) of ``model`` on ``(x, y)`` and its
    gradient with respect to ``x`` (lecture 6d): what the fast gradient sign method follows.

    Returns:
        loss (a float) and dx (the shape of x).
    """
    check_float_array("x", x, min_ndim=2)
    with inspecting(model):
        scores = model.forward(x)
        loss, dscores = ops.softmax_loss(scores, get_array_module(x).asarray(y))
        dx = model.backward(dscores)
    return float(loss), dx


def saliency(model, x, target):
    """Saliency maps (Simonyan et al., 2014) (lecture 6d): how much each pixel can move the
    target class's score, ``max over channels of |d score_target / d x|``.

    Args:
        model: any ``course`` classifier of images. x: (N, C, H, W) images.
        target: a class index for every image, or (N,) one per image (usually the label).

    Returns:
        (N, H, W) non-negative maps, on x's device.
    """
    check_images("x", x)
    _, dx = score_gradient(model, x, target)
    return abs(dx).max(axis=1)


def gaussian_blur(x, sigma):
    """Blur each channel of (N, C, H, W) images with a Gaussian of std ``sigma`` pixels
    (lecture 6d): two 1-D convolutions (``course.ops.conv2d_forward``), reflecting at the
    borders, so it runs on CPU and GPU arrays alike. ``sigma = 0`` returns a copy."""
    check_images("x", x)
    check_number("sigma", sigma, low=0)
    xp = get_array_module(x)
    if sigma == 0:
        return x.copy()
    n, c, h, w = x.shape
    radius = min(int(3 * sigma + 0.5), h - 1, w - 1)
    offsets = xp.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = xp.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    planes = x.reshape(n * c, 1, h, w)
    padded = xp.pad(planes, ((0, 0), (0, 0), (radius, radius), (radius, radius)), mode="reflect")
    bias = xp.zeros(1, dtype=x.dtype)
    rows, _ = ops.conv2d_forward(padded, kernel.reshape(1, 1, -1, 1), bias)
    both, _ = ops.conv2d_forward(rows, kernel.reshape(1, 1, 1, -1), bias)
    return both.reshape(n, c, h, w)


def class_visualization(model, target, shape, steps=100, l2=1e-3, blur=0.5, lr=0.1,
                        blur_every=10, clip=None, init_scale=0.01, rng=0):
    """An image the model scores highly as class ``target`` (Simonyan et al., 2014) (lecture 6d).

    Gradient ascent on the image ``I`` (the model's weights stay fixed) to maximise

        score_target(I) - l2 * ||I||^2,

    each step moving by ``lr`` times the gradient divided by its root-mean-square (so ``lr`` is
    about how far an average pixel moves), then clipping to ``clip``; every ``blur_every``
    steps a Gaussian blur of std ``blur`` pixels removes the high frequencies that the score
    alone would amplify.

    Args:
        model: any ``course`` image classifier; the image is made on the device and in the
            dtype of its first parameter.
        target: the class index. shape: (C, H, W) of the model's images.
        steps: gradient steps. l2: weight of the L2 penalty (>= 0). blur: std in pixels (>= 0,
            0 for none). lr: step size (>= 0). blur_every: steps between blurs.
        clip: optional (low, high) range of the pixels, e.g. (0, 1) for the digits.
        init_scale: std of the random starting image. rng: seed or Generator.

    Returns:
        (C, H, W) image, on the model's device.
    """
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise TypeError(f"target must be one class index (an int), got {target!r}")
    if len(tuple(shape)) != 3:
        raise ValueError(f"shape must be (C, H, W), got {shape!r}")
    check_positive_int("steps", steps)
    check_positive_int("blur_every", blur_every)
    check_number("l2", l2, low=0)
    check_number("blur", blur, low=0)
    check_number("lr", lr, low=0)
    like = model.parameters()[0].data
    xp = get_array_module(like)
    start = np.random.default_rng(rng).standard_normal((1, *shape)) * init_scale
    image = xp.asarray(start, dtype=like.dtype)
    for step in range(1, steps + 1):
        _, dx = score_gradient(model, image, target)
        ascent = dx - 2 * l2 * image
        image = image + lr * ascent / (xp.sqrt(xp.mean(ascent ** 2)) + 1e-12)
        if blur and step % blur_every == 0:
            image = gaussian_blur(image, blur)
        if clip is not None:
            image = xp.clip(image, *clip)
    return image[0]
