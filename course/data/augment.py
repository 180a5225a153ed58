"""Data augmentation on batches of images (N, C, H, W), used from lecture 6 on (deeper networks).

Each function takes a batch and a ``numpy.random.Generator`` and returns a new batch of the
same shape and dtype; the input is never changed. They compose into a loader transform::

    def transform(xb, rng):
        return random_flip(random_crop(xb, 4, rng), rng)
"""

import numpy as np

from course.ops.checks import check_nonnegative_int


def _check_images(images):
    if not isinstance(images, np.ndarray) or images.ndim != 4:
        raise ValueError("images must be a numpy array of shape (N, C, H, W), got "
                         f"{getattr(images, 'shape', type(images).__name__)}")


def random_flip(images, rng):
    """Mirror each image left-right with probability 1/2 (used from lecture 6 on)."""
    _check_images(images)
    flip = rng.random(images.shape[0]) < 0.5
    out = images.copy()
    out[flip] = images[flip, :, :, ::-1]
    return out


def random_crop(images, padding, rng):
    """Pad each image with ``padding`` zeros on every side, then cut a random H x W window
    (used from lecture 6 on).

    The effect is a random shift of up to ``padding`` pixels in each direction, with the
    uncovered border filled with zeros (as torchvision's ``RandomCrop(size, padding)``).
    """
    _check_images(images)
    check_nonnegative_int("padding", padding)
    n, _, h, w = images.shape
    if padding == 0:
        return images.copy()
    padded = np.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    top = rng.integers(0, 2 * padding + 1, size=n)
    left = rng.integers(0, 2 * padding + 1, size=n)
    rows = top[:, None] + np.arange(h)  # (N, H) row of the padded image for each output row
    cols = left[:, None] + np.arange(w)  # (N, W)
    index = np.arange(n)[:, None, None, None]
    channel = np.arange(images.shape[1])[None, :, None, None]
    return padded[index, channel, rows[:, None, :, None], cols[:, None, None, :]]


def crop_and_flip(padding=4):
    """A loader transform ``transform(xb, rng)`` (used from lecture 6 on): a random crop with
    ``padding``, then a flip.

    >>> loader = DataLoader(X, y, batch_size=64, shuffle=True, seed=0,
    ...                     transform=crop_and_flip(4))
    """
    check_nonnegative_int("padding", padding)

    def transform(images, rng):
        return random_flip(random_crop(images, padding, rng), rng)

    return transform


def crop(padding=2):
    """A loader transform ``transform(xb, rng)`` (used from lecture 6 on): a random crop with
    ``padding`` and no flip.

    For digits and text, where a mirrored image is another symbol (a mirrored 2 is not a 2).
    """
    check_nonnegative_int("padding", padding)

    def transform(images, rng):
        return random_crop(images, padding, rng)

    return transform
