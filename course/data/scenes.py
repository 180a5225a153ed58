"""Generated scenes for semantic segmentation, with a class id for every pixel (lecture 6c).

Each 32x32 RGB image shows one or two shapes (circle, square, triangle, cross: the shapes set
of ``course.data.shapes``) in different colours, sizes, positions and rotations on a noisy dark
background; a later shape covers an earlier one where they overlap. The mask gives every pixel's
class: 0 for the background, 1 + the shape's index in ``CLASSES`` for a shape. Drawn from a
seeded generator with vectorised numpy: the same seed gives the same scenes everywhere, and
nothing is downloaded.
"""

import numpy as np

from course.data.shapes import CLASSES, PALETTE, SIZE, _shape_masks

SCENE_CLASSES = ("background",) + CLASSES


def make_scenes(n, rng, max_shapes=2, radius=(6.0, 12.0), noise=0.06):
    """``n`` images (n, 3, 32, 32) float32 in [0, 1] and masks (n, 32, 32) int64 in [0, 5),
    drawn from ``rng`` (lecture 6c).

    Args:
        max_shapes: each scene has 1 to ``max_shapes`` shapes.
        radius: (low, high) of the shapes' outer radius in pixels. noise: pixel noise std.
    """
    background = rng.uniform(0.0, 0.35, size=(n, 3)).astype(np.float32)
    images = np.broadcast_to(background[:, :, None, None], (n, 3, SIZE, SIZE)).copy()
    masks = np.zeros((n, SIZE, SIZE), dtype=np.int64)
    count = rng.integers(1, max_shapes + 1, size=n)
    for k in range(max_shapes):
        labels = rng.integers(0, len(CLASSES), size=n)
        r = rng.uniform(*radius, size=n).astype(np.float32)
        cx = rng.uniform(r * 0.75, SIZE - r * 0.75).astype(np.float32)
        cy = rng.uniform(r * 0.75, SIZE - r * 0.75).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi, size=n).astype(np.float32)
        colour = PALETTE[rng.integers(0, len(PALETTE), size=n)]
        colour = colour * rng.uniform(0.7, 1.0, size=(n, 1)).astype(np.float32)
        inside = _shape_masks(labels, r, cx, cy, angle) & (k < count)[:, None, None]
        images = np.where(inside[:, None], colour[:, :, None, None], images)
        masks = np.where(inside, labels[:, None, None] + 1, masks)
    images += noise * rng.standard_normal(images.shape, dtype=np.float32)
    np.clip(images, 0.0, 1.0, out=images)
    return images.astype(np.float32), masks


def load_shape_scenes(n_train=2000, n_val=200, n_test=500, seed=0, max_shapes=2):
    """The segmentation scenes, split into train, validation and test sets (lecture 6c).

    Args:
        n_train, n_val, n_test: number of scenes in each split.
        seed: the same seed gives the same scenes everywhere.
        max_shapes: shapes per scene, from 1 up to this.

    Returns:
        dict with ``X_train`` (n_train, 3, 32, 32) float32 in [0, 1], ``y_train``
        (n_train, 32, 32) int64 masks in [0, 5), the same for ``_val`` and ``_test``, and
        ``classes`` (the 5 names, ``"background"`` first).
    """
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    for name, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n_{name} must be an int >= 0, got {n!r}")
    if isinstance(max_shapes, bool) or not isinstance(max_shapes, int) or max_shapes < 1:
        raise ValueError(f"max_shapes must be an int >= 1, got {max_shapes!r}")
    rng = np.random.default_rng(seed)
    data = {"classes": list(SCENE_CLASSES)}
    for name, n in sizes.items():
        data[f"X_{name}"], data[f"y_{name}"] = make_scenes(n, rng, max_shapes)
    return data
