"""The generated shapes data set and batch augmentation (lecture 6)."""

import numpy as np
import pytest

from course.data import DataLoader, crop_and_flip, load_shapes, random_crop, random_flip
from course.data.shapes import CLASSES, _shape_masks, make_shapes

pytestmark = pytest.mark.norm


def test_shapes_layout_and_reproducibility():
    data = load_shapes(n_train=200, n_val=30, n_test=50, seed=3)
    assert data["classes"] == list(CLASSES) == ["circle", "square", "triangle", "cross"]
    for split, n in (("train", 200), ("val", 30), ("test", 50)):
        X, y = data[f"X_{split}"], data[f"y_{split}"]
        assert X.shape == (n, 3, 32, 32) and X.dtype == np.float32
        assert y.shape == (n,) and y.dtype == np.int64
        assert X.min() >= 0 and X.max() <= 1
        assert set(np.unique(y)) <= {0, 1, 2, 3}
    again = load_shapes(n_train=200, n_val=30, n_test=50, seed=3)
    np.testing.assert_array_equal(data["X_test"], again["X_test"])
    other = load_shapes(n_train=200, n_val=30, n_test=50, seed=4)
    assert not np.array_equal(data["X_train"], other["X_train"])
    assert np.bincount(data["y_train"], minlength=4).min() > 30  # roughly balanced


def test_shape_masks_have_the_right_areas():
    # Pixel counts of each shape drawn at radius 12 in the middle, against the geometry.
    r = 12.0
    labels = np.arange(4)
    ones = np.ones(4, dtype=np.float32)
    masks = _shape_masks(labels, r * ones, 16 * ones, 16 * ones, 0.3 * ones)
    expected = [np.pi * r**2, 2 * r**2, 3 * np.sqrt(3) / 4 * r**2, 20 / 9 * r**2]
    np.testing.assert_allclose(masks.sum(axis=(1, 2)), expected, rtol=0.05)


def test_noise_free_images_hold_two_colours():
    images, _ = make_shapes(20, np.random.default_rng(0), noise=0.0)
    for image in images:
        assert len(np.unique(image.reshape(3, -1), axis=1).T) == 2  # shape and background


def test_bad_sizes():
    with pytest.raises(ValueError, match="n_val must be an int >= 0"):
        load_shapes(n_train=10, n_val=-1)


def test_random_flip(rng):
    images = rng.standard_normal((64, 3, 5, 6)).astype(np.float32)
    out = random_flip(images, np.random.default_rng(0))
    flipped = np.array([np.array_equal(o, i[:, :, ::-1]) for o, i in zip(out, images,
                                                                         strict=True)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, images, strict=True)])
    assert np.all(flipped | kept) and 10 < flipped.sum() < 54
    assert out.dtype == images.dtype


def test_random_crop_is_a_shift_with_zero_fill(rng):
    images = rng.uniform(1, 2, (50, 2, 8, 8)).astype(np.float32)
    out = random_crop(images, 2, np.random.default_rng(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    for o, i in zip(out, images, strict=True):
        padded = np.pad(i, ((0, 0), (2, 2), (2, 2)))
        matches = [(t, s) for t in range(5) for s in range(5)
                   if np.array_equal(o, padded[:, t:t + 8, s:s + 8])]
        assert len(matches) == 1
    assert (out == 0).any()  # some crops reach into the padding
    np.testing.assert_array_equal(random_crop(images, 0, rng), images)
    with pytest.raises(ValueError, match="padding must be at least 0"):
        random_crop(images, -1, rng)
    with pytest.raises(ValueError, match=r"images must be a numpy array of shape \(N, C, H, W\)"):
        random_crop(images[0], 1, rng)


def test_transform_in_a_loader():
    data = load_shapes(n_train=40, n_val=0, n_test=0)
    loader = DataLoader(data["X_train"], data["y_train"], batch_size=16, shuffle=True, seed=0,
                        transform=crop_and_flip(4))
    batches = [xb for xb, _ in loader]
    assert [b.shape for b in batches] == [(16, 3, 32, 32), (16, 3, 32, 32), (8, 3, 32, 32)]
    again = DataLoader(data["X_train"], data["y_train"], batch_size=16, shuffle=True, seed=0,
                       transform=crop_and_flip(4))
    np.testing.assert_array_equal(batches[0], next(iter(again))[0])  # repeatable with a seed
