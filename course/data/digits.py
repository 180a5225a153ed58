"""The handwritten digits that ship with scikit-learn, split once and for all (lecture 1).

1,797 grey 8x8 images of the digits 0-9. The split is fixed: a permutation drawn with seed 0
gives 1,257 training, 180 validation and 360 test images, the same on every machine.
"""

import numpy as np
from scipy import ndimage

N_VAL, N_TEST = 180, 360


def resize_images(images, size):
    """Resize (N, H, W) images to (N, size, size) by bilinear interpolation (lecture 1)."""
    n, h, w = images.shape
    zoomed = ndimage.zoom(images, (1, size / h, size / w), order=1)
    return zoomed[:, :size, :size]


def load_digits(size=8, dtype=np.float32):
    """Digits as (N, 1, size, size) images in [0, 1] and int64 labels, in fixed splits (lecture 1).

    Args:
        size: 8 (the original resolution), or e.g. 28 or 32 to upsample for conv nets.
        dtype: float32 (training) or float64 (gradient checks).

    Returns:
        dict with ``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test`` and
        ``classes`` (the ten digit names).
    """
    from sklearn.datasets import load_digits as sklearn_digits

    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int of at least 8, got {size!r}")
    bunch = sklearn_digits()
    images = bunch.images / 16.0
    if size != 8:
        images = np.clip(resize_images(images, size), 0.0, 1.0)
    images = images[:, None].astype(dtype)
    labels = bunch.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(labels))
    test, val, train = np.split(order, [N_TEST, N_TEST + N_VAL])
    return {
        "X_train": images[train], "y_train": labels[train],
        "X_val": images[val], "y_val": labels[val],
        "X_test": images[test], "y_test": labels[test],
        "classes": [str(d) for d in range(10)],
    }
