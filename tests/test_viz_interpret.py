"""Figures and the explorer of lecture 6d (course.viz.interpret), run headless."""

import base64

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course import interpret  # noqa: E402
from course.models import lenet5, small_resnet  # noqa: E402
from course.viz import interpret as vi  # noqa: E402

pytestmark = pytest.mark.interpret

PNG_MAGIC = b"\x89PNG"


@pytest.fixture
def model():
    return lenet5(input_size=16, rng=0)


@pytest.fixture
def images(rng):
    return rng.random((3, 1, 16, 16)).astype(np.float32)


def test_plot_filters_draws_every_filter_of_any_convolution(model):
    first = vi.plot_filters(model, "0")
    assert sum(bool(ax.images) for ax in first.axes) == 6  # 6 filters, one input channel
    second = vi.plot_filters(model, 3, max_filters=5, max_channels=4)
    assert sum(bool(ax.images) for ax in second.axes) == 5 * 4
    shown = second.axes[4 + 2].images[0].get_array()  # filter 1, input channel 2
    np.testing.assert_array_equal(shown, model[3].weight.data[1, 2])
    colour = vi.plot_filters(small_resnet(widths=(4, 6, 8)), "0")
    assert colour.axes[0].images[0].get_array().shape == (3, 3, 3)  # RGB filters
    with pytest.raises(TypeError, match="not a convolution"):
        vi.plot_filters(model, "2")


def test_plot_layer_maps_shows_the_strongest_maps_first(model, images):
    fig = vi.plot_layer_maps(model, images[0], "4", max_maps=5)
    maps = interpret.layer_output(model, images[:1], "4")[0]
    drawn = [ax.images[0].get_array() for ax in fig.axes[1:] if ax.images]
    assert len(drawn) == 5
    strongest = np.argsort(-maps.reshape(16, -1).max(axis=1))[:5]
    for array, k in zip(drawn, strongest, strict=True):
        np.testing.assert_array_equal(array, maps[k])
    with pytest.raises(ValueError, match="not feature maps"):
        vi.plot_layer_maps(model, images[0], "8")


@pytest.mark.parametrize("make", [
    lambda m, x: vi.plot_heatmaps(x, interpret.saliency(m, x, 1), titles=["a", "b", "c"]),
    lambda m, x: vi.plot_heatmaps(x, interpret.occlusion_map(m, x, 1, 4, 4), symmetric=True,
                                  cmap="RdBu_r", label="occlusion"),
    lambda m, x: vi.plot_projections(x, interpret.deconv_visualize(m, x, "3", 2)),
    lambda m, x: vi.plot_adversarial(x, interpret.fgsm(m, x, np.array([0, 1, 2]), 0.1)[0],
                                     [0, 1, 2], [0, 5, 2], classes=list("abcdefghij")),
    lambda m, x: vi.plot_accuracy_vs_eps([0, 0.1], {"FGSM": [1.0, 0.5], "iterative": [1, 0]}),
])
def test_figures_are_returned(make, model, images):
    assert isinstance(make(model, images), Figure)


def test_heatmaps_put_each_occlusion_cell_on_its_patch(model, images):
    drops = interpret.occlusion_map(model, images, 1, patch=8, stride=4)  # a 3x3 grid
    overlay = vi.plot_heatmaps(images, drops, symmetric=True).axes[6].images[1]  # bottom row
    assert overlay.get_array().shape == (3, 3)
    assert tuple(overlay.get_extent()) == (-0.5, 15.5, 15.5, -0.5)  # stretched
    overlay = vi.plot_heatmaps(images, drops, patch=8, stride=4).axes[6].images[1]
    # patches start at 0, 4, 8 and cover 8 pixels: centres 3.5, 7.5, 11.5, cells 4 wide
    assert tuple(overlay.get_extent()) == (1.5, 13.5, 13.5, 1.5)
    overlay = vi.plot_heatmaps(images, interpret.occlusion_map(
        model, images, 1, patch=(3, 5), stride=(1, 2)), patch=(3, 5), stride=(1, 2)).axes[6]
    assert tuple(overlay.images[1].get_extent()) == (1.0, 1.0 + 6 * 2, 0.5 + 14, 0.5)


def test_adversarial_titles_mark_changed_predictions(model, images):
    fig = vi.plot_adversarial(images, images + 0.1, [3, 4, 5], [3, 7, 5])
    assert [ax.get_title() for ax in fig.axes[6:]] == ["says 3", "says 7", "says 5"]
    assert fig.axes[7].title.get_color() == "C3" and fig.axes[6].title.get_color() == "k"


def test_spatial_layers_are_the_leaf_layers_with_feature_maps(model, images):
    assert vi.spatial_layers(model, images[0]) == ["0", "1", "2", "3", "4", "5"]
    resnet = small_resnet(widths=(4, 6, 8))
    names = vi.spatial_layers(resnet, np.zeros((3, 16, 16), np.float32))
    assert "4.0.block.0" in names and "5.0.shortcut.1" in names and "7" not in names


def _png(widget):
    bundle = widget._repr_mimebundle_()
    data = base64.b64decode(bundle["image/png"])
    assert data.startswith(PNG_MAGIC)
    return data


def test_interpret_explorer_redraws_for_each_image_class_and_layer(model, images):
    widget = vi.interpret_explorer(model, images, np.array([1, 2, 3]), patch=4, stride=4)
    index, target, layer = widget.children[0].children
    assert index.max == 2 and len(target.options) == 11 and layer.value == "0"
    pictures = [_png(widget)]
    index.value = 2
    pictures.append(_png(widget))
    target.value = 7
    pictures.append(_png(widget))
    layer.value = "4"
    pictures.append(_png(widget))
    assert len(set(pictures)) == 4
    model.train()
    assert model.training  # the explorer leaves the model's mode alone
