"""Dense prediction: the per-pixel loss, the scenes generator, pixel accuracy and IoU."""

import numpy as np
import pytest

from course import ops
from course.data import load_shape_scenes
from course.gradcheck import check_loss
from course.metrics import class_iou, confusion_matrix, mean_iou, pixel_accuracy

pytestmark = pytest.mark.arch


@pytest.mark.parametrize("shape", [(2, 4, 3, 5), (3, 3, 7), (1, 2, 2, 2, 3)])
@pytest.mark.parametrize("ignore_index", [None, 255, -1])
def test_pixel_softmax_loss_gradient(rng, shape, ignore_index):
    scores = rng.standard_normal(shape)
    y = rng.integers(0, shape[1], size=(shape[0],) + shape[2:])
    if ignore_index is not None:
        y[rng.random(y.shape) < 0.3] = ignore_index
    check_loss(ops.pixel_softmax_loss, scores, y, ignore_index)


@pytest.mark.parametrize("ignore_index", [None, 4])
def test_pixel_softmax_loss_matches_torch(rng, ignore_index):
    torch = pytest.importorskip("torch")
    scores = rng.standard_normal((2, 4, 5, 3))
    y = rng.integers(0, 4, size=(2, 5, 3))
    if ignore_index is not None:
        y[0, :2] = ignore_index
    loss, dscores = ops.pixel_softmax_loss(scores, y, ignore_index)
    ts = torch.tensor(scores, requires_grad=True)
    tloss = torch.nn.functional.cross_entropy(
        ts, torch.tensor(y), ignore_index=-100 if ignore_index is None else ignore_index)
    tloss.backward()
    np.testing.assert_allclose(loss, tloss.item(), rtol=1e-12)
    np.testing.assert_allclose(dscores, ts.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_pixel_softmax_loss_is_softmax_loss_per_pixel(rng):
    scores = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=(2, 4, 4))
    loss, dscores = ops.pixel_softmax_loss(scores, y)
    flat_loss, flat_d = ops.softmax_loss(scores.transpose(0, 2, 3, 1).reshape(-1, 3),
                                         y.reshape(-1))
    assert dscores.dtype == np.float32 and dscores.flags.c_contiguous
    np.testing.assert_allclose(loss, flat_loss, rtol=1e-6)
    np.testing.assert_allclose(dscores, flat_d.reshape(2, 4, 4, 3).transpose(0, 3, 1, 2),
                               rtol=1e-5, atol=1e-8)


def test_all_pixels_ignored_gives_zero(rng):
    scores = rng.standard_normal((1, 3, 2, 2))
    loss, dscores = ops.pixel_softmax_loss(scores, np.full((1, 2, 2), 9), ignore_index=9)
    assert loss == 0 and not dscores.any()


@pytest.mark.parametrize("y, ignore_index, error, match", [
    (np.full((2, 4, 4), 3), None, ValueError, r"must be in \[0, 3\).*class id"),
    (np.full((2, 4, 4), -1), None, ValueError, r"got values from -1 to -1"),
    (np.full((2, 4, 4), 5), 255, ValueError, r"or ignore_index=255"),
    (np.zeros((2, 4, 5), dtype=np.int64), None, ValueError, r"y must have shape \(2, 4, 4\)"),
    (np.zeros((2, 4, 4)), None, TypeError, "integer"),
    ([[0]], None, TypeError, "y must be an integer array"),
])
def test_pixel_softmax_loss_rejects_bad_masks(rng, y, ignore_index, error, match):
    scores = rng.standard_normal((2, 3, 4, 4))
    with pytest.raises(error, match=match):
        ops.pixel_softmax_loss(scores, y, ignore_index)


def test_pixel_softmax_loss_rejects_bad_scores():
    with pytest.raises(ValueError, match="scores must have at least 3 dimensions"):
        ops.pixel_softmax_loss(np.zeros((2, 3)), np.zeros(2, dtype=np.int64))


# -- data ------------------------------------------------------------------------------------------

def test_scenes_are_deterministic_and_well_formed():
    a = load_shape_scenes(n_train=50, n_val=5, n_test=20, seed=3)
    b = load_shape_scenes(n_train=50, n_val=5, n_test=20, seed=3)
    np.testing.assert_array_equal(a["X_test"], b["X_test"])
    np.testing.assert_array_equal(a["y_train"], b["y_train"])
    assert not np.array_equal(a["y_train"], load_shape_scenes(50, 5, 20, seed=4)["y_train"])
    x, y = a["X_train"], a["y_train"]
    assert x.shape == (50, 3, 32, 32) and x.dtype == np.float32
    assert y.shape == (50, 32, 32) and y.dtype == np.int64
    assert 0 <= x.min() and x.max() <= 1 and set(np.unique(y)) == {0, 1, 2, 3, 4}
    assert a["classes"] == ["background", "circle", "square", "triangle", "cross"]
    # several shapes per scene: some scenes show two or more classes besides the background
    kinds = [len(set(np.unique(m)) - {0}) for m in y]
    assert min(kinds) >= 1 and max(kinds) >= 2
    # a shape's pixels are brighter in some channel than its scene's background
    background = x.transpose(0, 2, 3, 1)[y == 0].mean(axis=0)
    foreground = x.transpose(0, 2, 3, 1)[y > 0].mean(axis=0)
    assert (foreground > background + 0.2).any()


def test_scenes_reject_bad_sizes():
    with pytest.raises(ValueError, match="n_val must be an int >= 0"):
        load_shape_scenes(n_val=-1)
    with pytest.raises(ValueError, match="max_shapes must be an int >= 1"):
        load_shape_scenes(max_shapes=0)


# -- metrics ---------------------------------------------------------------------------------------

def test_iou_and_pixel_accuracy_by_hand():
    target = np.array([[0, 0, 1, 1], [2, 2, 2, 0]])
    pred = np.array([[0, 1, 1, 1], [2, 2, 0, 0]])
    counts = confusion_matrix(pred, target, 3)
    np.testing.assert_array_equal(counts, [[2, 1, 0], [0, 2, 0], [1, 0, 2]])
    assert pixel_accuracy(pred, target, 3) == 6 / 8
    # class 0: 2 / (3 + 3 - 2); class 1: 2 / 3; class 2: 2 / 3
    np.testing.assert_allclose(class_iou(pred, target, 3), [0.5, 2 / 3, 2 / 3])
    assert mean_iou(pred, target, 3) == pytest.approx((0.5 + 4 / 3) / 3)
    assert mean_iou(target, target, 3) == 1.0


def test_iou_skips_absent_classes_and_ignored_pixels():
    target = np.array([0, 0, 1, 9])
    pred = np.array([0, 0, 1, 2])
    assert np.isnan(class_iou(pred, target, 4, ignore_index=9)[3])
    assert mean_iou(pred, target, 4, ignore_index=9) == 1.0
    assert pixel_accuracy(pred, target, 4, ignore_index=9) == 1.0


def test_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="one shape"):
        mean_iou(np.zeros((2, 2), int), np.zeros((2, 3), int), 2)
    with pytest.raises(ValueError, match=r"target must be in \[0, 2\)"):
        mean_iou(np.zeros(3, int), np.array([0, 1, 2]), 2)
    with pytest.raises(TypeError, match="pred must hold integers"):
        pixel_accuracy(np.zeros(3), np.zeros(3, int), 2)


def test_masks_are_drawn_over_grey_images():
    from course.viz.segmentation import MASK_COLOURS, overlay, show_masks

    image = np.zeros((3, 4, 4), dtype=np.float32)
    image[0] = 0.9                                    # a red image: grey 0.3 everywhere
    mask = np.zeros((4, 4), dtype=np.int64)
    mask[0, 0] = 2
    picture = overlay(image, mask, alpha=0.5)
    np.testing.assert_allclose(picture[1, 1], [0.3, 0.3, 0.3])
    np.testing.assert_allclose(picture[0, 0], 0.5 * 0.3 + 0.5 * MASK_COLOURS[2])
    fig = show_masks(image[None].repeat(3, 0), mask[None].repeat(3, 0), ["bg", "a", "b"],
                     truth=mask[None].repeat(3, 0), ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles.count("predicted") == 3 and titles.count("true") == 3
