"""Figures and widgets of lectures 3-4 (course.viz.conv), run headless."""

import base64

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course import nn  # noqa: E402
from course.models import lenet5  # noqa: E402
from course.viz import conv as vc  # noqa: E402

pytestmark = pytest.mark.conv

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PNG_MAGIC = b"\x89PNG"


@pytest.fixture
def image():
    return np.random.default_rng(0).random((10, 10))


def test_filter2d_matches_a_hand_computed_correlation(image):
    kernel = np.arange(9.0).reshape(3, 3) - 4
    padded = np.pad(image, 1)
    expected = np.array([[np.sum(padded[i:i + 3, j:j + 3] * kernel) for j in range(10)]
                         for i in range(10)])
    np.testing.assert_allclose(vc.filter2d(image, kernel), expected, rtol=1e-12, atol=1e-12)
    assert vc.filter2d(image, kernel, padding=0).shape == (8, 8)


def test_hand_made_kernels_are_3x3_and_sobel_finds_vertical_edges():
    assert all(np.asarray(k).shape == (3, 3) for k in vc.KERNELS.values())
    step = np.zeros((6, 6))
    step[:, 3:] = 1.0  # dark left half, bright right half: one vertical edge
    response = vc.filter2d(step, vc.KERNELS["vertical edges (Sobel x)"])
    assert response[2:4, 2:4].min() > 0  # the edge columns respond
    np.testing.assert_allclose(response[1:-1, 0], 0.0)  # flat dark region
    np.testing.assert_allclose(vc.filter2d(step, vc.KERNELS["horizontal edges (Sobel y)"])
                               [1:-1, 1:-1], 0.0)


@pytest.mark.parametrize("make", [
    lambda img: vc.plot_filter_responses(img),
    lambda img: vc.plot_filter_responses(img, {"blur": vc.KERNELS["blur (box)"]}),
    lambda img: vc.plot_sliding_window(img, vc.KERNELS["sharpen"], position=57),
    lambda img: vc.plot_filter_fit([3.0, 1.0, 0.1], np.eye(3), np.eye(3) * 0.9),
    lambda img: vc.plot_im2col(),
    lambda img: vc.plot_im2col(height=5, width=6, kernel=2, column=7),
    lambda img: vc.plot_pooling(img.astype(np.float32), sizes=(2, 3, 5)),
    lambda img: vc.plot_shift(img, np.roll(img, 1, axis=1), size=2),
    lambda img: vc.plot_receptive_fields(lenet5(input_size=28), np.zeros((28, 28))),
    lambda img: vc.plot_feature_maps(lenet5(input_size=28), np.zeros((1, 28, 28), np.float32),
                                     layer=3),
])
def test_figures_are_returned(make, image):
    assert isinstance(make(image), Figure)


def test_sliding_window_highlights_the_requested_output_pixel(image):
    fig = vc.plot_sliding_window(image, vc.KERNELS["identity"], position=23)
    ax_in, ax_mul, ax_out = fig.axes[:3]
    # 10x10 output, position 23 = row 2, column 3: the window's corner in padded coordinates.
    assert ax_in.patches[0].get_xy() == (2.5, 1.5)
    assert ax_out.patches[0].get_xy() == (2.5, 1.5)
    assert f"{image[2, 3]:+.2f}" in ax_mul.get_title()  # identity kernel: the pixel itself
    shown = ax_out.images[0].get_array()
    assert np.ma.count(shown) == 24  # positions 0..23 computed so far


def test_plot_shift_counts_the_changed_values():
    a = np.zeros((4, 4))
    a[0, 0] = 1.0
    b = np.roll(a, 1, axis=1)  # the bright pixel moves within its 2x2 window
    fig = vc.plot_shift(a, b, size=2)
    assert fig.axes[2].get_title().startswith("|difference|: 2 of 16")
    assert fig.axes[5].get_title().startswith("|difference|: 0 of 4")


def test_feature_maps_follow_the_network():
    model = lenet5(input_size=32)
    x = np.random.default_rng(1).random((3, 1, 32, 32)).astype(np.float32)
    assert vc.feature_maps(model, x, 0).shape == (3, 6, 28, 28)
    assert vc.feature_maps(model, x, 5).shape == (3, 16, 5, 5)
    np.testing.assert_array_equal(vc.feature_maps(model, x, 11), model(x))


def test_receptive_field_squares_match_course_nn():
    model = lenet5(input_size=32)
    fig = vc.plot_receptive_fields(model, np.zeros((32, 32)))
    sizes = [patch.get_width() for patch in fig.axes[1].patches]
    assert sizes == [5, 6, 14, 16]  # conv 5, pool 2, conv 5, pool 2
    bars = [bar.get_height() for bar in fig.axes[0].patches][:4]
    assert bars == sizes


def _png(widget):
    bundle = widget._repr_mimebundle_()
    assert WIDGET_MIME in bundle
    data = base64.b64decode(bundle["image/png"])
    assert data.startswith(PNG_MAGIC)
    return data


def test_sliding_window_explorer_redraws_on_each_control(image):
    widget = vc.sliding_window_explorer(image[:6, :6], position=3)
    choose, play, slider = widget.children[0].children
    assert (slider.min, slider.max, slider.value) == (0, 35, 3)
    first = _png(widget)
    slider.value = 20
    second = _png(widget)
    choose.value = "blur (box)"
    assert len({first, second, _png(widget)}) == 3


def test_pooling_explorer_redraws(image):
    widget = vc.pooling_explorer(image.astype(np.float32))
    mode, size, stride = widget.children[0].children
    first = _png(widget)
    mode.value = "average"
    size.value, stride.value = 3, 1
    assert _png(widget) != first


def test_feature_map_explorer_offers_only_the_layers_before_flatten():
    model = lenet5(input_size=28)
    images = np.random.default_rng(2).random((4, 1, 28, 28)).astype(np.float32)
    widget = vc.feature_map_explorer(model, images, labels=[3, 1, 4, 1], layer=2)
    digit, choose = widget.children[0].children
    assert [value for _, value in choose.options] == [0, 1, 2, 3, 4, 5]
    assert digit.max == 3
    first = _png(widget)
    digit.value = 1
    assert _png(widget) != first


def test_feature_map_explorer_accepts_a_plain_stack():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU())
    widget = vc.feature_map_explorer(model, np.zeros((2, 1, 8, 8), np.float32))
    assert len(widget.children[0].children[1].options) == 2
