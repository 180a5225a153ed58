"""A generated image classification set: circles, squares, triangles and crosses,
used from lecture 6 on (deeper networks).

Each 32x32 RGB image shows one shape in one of several colours, at a random size, position and
rotation, on a random dark background, with Gaussian pixel noise. The set is drawn from a seeded
generator with vectorised numpy, so the same seed gives the same images on every machine in
about a second, and no download is needed. It is hard enough that a linear classifier fails
and small enough that a small ResNet learns it on a laptop CPU in minutes.
"""

import numpy as np

CLASSES = ("circle", "square", "triangle", "cross")
PALETTE = np.array([
    [0.90, 0.20, 0.20],  # red
    [0.20, 0.80, 0.30],  # green
    [0.25, 0.45, 0.95],  # blue
    [0.95, 0.85, 0.20],  # yellow
    [0.85, 0.30, 0.85],  # magenta
    [0.20, 0.85, 0.90],  # cyan
    [0.95, 0.95, 0.95],  # white
], dtype=np.float32)
SIZE = 32


def _shape_masks(labels, radius, cx, cy, angle):
    """(N, SIZE, SIZE) boolean masks: pixel inside the image's shape.

    ``radius`` is the distance from the centre to the shape's outer points; every shape is
    tested in coordinates (u, v) rotated by the image's ``angle`` about its centre.
    """
    grid = np.arange(SIZE, dtype=np.float32) + 0.5
    dx = grid[None, None, :] - cx[:, None, None]
    dy = grid[None, :, None] - cy[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = cos * dx + sin * dy, cos * dy - sin * dx
    r = radius[:, None, None]

    circle = u * u + v * v <= r * r
    half = r / np.sqrt(2.0)  # a square whose corners lie on the circle of radius r
    square = (np.abs(u) <= half) & (np.abs(v) <= half)
    triangle = np.ones_like(circle)
    for k in range(3):  # inside all three edges of an equilateral triangle
        a = np.pi / 2 + 2 * np.pi * k / 3
        triangle &= u * np.cos(a) + v * np.sin(a) <= r / 2
    arm = r / 3  # half-width of the cross's two bars
    cross = (((np.abs(u) <= arm) & (np.abs(v) <= r))
             | ((np.abs(v) <= arm) & (np.abs(u) <= r)))
    masks = np.stack([circle, square, triangle, cross])  # (4, N, SIZE, SIZE)
    return masks[labels, np.arange(len(labels))]


def make_shapes(n, rng, noise=0.06):
    """``n`` images (n, 3, 32, 32) float32 in [0, 1] and labels (n,) int64, from ``rng``
    (used from lecture 6 on)."""
    labels = rng.integers(0, len(CLASSES), size=n)
    radius = rng.uniform(6.0, 13.0, size=n).astype(np.float32)
    margin = radius * 0.75  # the shape may be cut a little at the border, never much
    cx = rng.uniform(margin, SIZE - margin).astype(np.float32)
    cy = rng.uniform(margin, SIZE - margin).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, size=n).astype(np.float32)
    mask = _shape_masks(labels, radius, cx, cy, angle)[:, None]  # (n, 1, 32, 32)

    colour = PALETTE[rng.integers(0, len(PALETTE), size=n)]  # (n, 3)
    colour = colour * rng.uniform(0.7, 1.0, size=(n, 1)).astype(np.float32)
    background = rng.uniform(0.0, 0.35, size=(n, 3)).astype(np.float32)
    images = np.where(mask, colour[:, :, None, None], background[:, :, None, None])
    images += noise * rng.standard_normal(images.shape, dtype=np.float32)
    np.clip(images, 0.0, 1.0, out=images)
    return images.astype(np.float32), labels.astype(np.int64)


def load_shapes(n_train=8000, n_val=1000, n_test=2000, seed=0):
    """The shapes data set, split into train, validation and test sets (used from lecture 6 on).

    Args:
        n_train, n_val, n_test: number of images in each split.
        seed: the same seed gives the same images everywhere.

    Returns:
        dict with ``X_train`` (n_train, 3, 32, 32) float32 in [0, 1], ``y_train`` (n_train,)
        int64 in [0, 4), the same for ``_val`` and ``_test``, and ``classes`` (the 4 names).
    """
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    for name, n in sizes.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n_{name} must be an int >= 0, got {n!r}")
    rng = np.random.default_rng(seed)
    data = {"classes": list(CLASSES)}
    for name, n in sizes.items():
        data[f"X_{name}"], data[f"y_{name}"] = make_shapes(n, rng)
    return data
