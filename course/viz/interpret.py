"""Figures and a widget for understanding a trained network (lecture 6d).

Filters and feature maps of any layer (by name, see :func:`course.interpret.named_layers`),
saliency and occlusion maps laid over their images, deconvnet projections, adversarial
examples, and :func:`interpret_explorer`, which picks an image, a class and a layer. Every
``plot_*`` function draws a new figure and returns it; arrays may be numpy or CuPy.
"""

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import widgets

from course import interpret
from course.backend import to_host
from course.viz.widgets import Explorer


def _picture(image):
    """A (C, H, W) image as something imshow draws: (H, W) for grey, (H, W, 3) in [0, 1]."""
    image = np.asarray(to_host(image), dtype=np.float64)
    if image.shape[0] == 1:
        return image[0]
    low, high = image.min(), image.max()
    return ((image - low) / (high - low + 1e-12)).transpose(1, 2, 0)


def _off(ax, title=None):
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _grid(count, ncols, scale=1.3, extra_rows=0):
    ncols = max(1, min(ncols, count))
    nrows = -(-count // ncols) + extra_rows
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * ncols, scale * nrows + 0.5),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    return fig, axes


def plot_filters(model, layer, max_filters=16, max_channels=8):
    """The filters of the convolution ``layer`` (lecture 6d): one row per filter and one column
    per input channel (at most ``max_filters`` x ``max_channels``), on a blue-red scale
    centred on zero; a first layer with 3 input channels shows each filter as a colour image.
    """
    weights = interpret.layer_filters(model, layer)[:max_filters]
    f, c = weights.shape[:2]
    if c == 3:
        fig, axes = _grid(f, 8)
        for n, w in enumerate(weights):
            axes.flat[n].axis("on")
            _off(axes.flat[n], f"{n}")
            axes.flat[n].imshow(_picture(w))
    elif c == 1:
        fig, axes = _grid(f, 8)
        limit = np.abs(weights).max() or 1.0
        for n, w in enumerate(weights):
            axes.flat[n].axis("on")
            _off(axes.flat[n], f"{n}")
            axes.flat[n].imshow(w[0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    else:
        shown = weights[:, :max_channels]
        fig, axes = plt.subplots(f, shown.shape[1], figsize=(0.9 * shown.shape[1] + 0.6,
                                                             0.9 * f + 0.6), squeeze=False)
        limit = np.abs(shown).max() or 1.0
        for (n, k), ax in np.ndenumerate(axes):
            ax.imshow(shown[n, k], cmap="RdBu_r", vmin=-limit, vmax=limit)
            _off(ax)
            if k == 0:
                ax.set_ylabel(f"filter {n}", fontsize=7)
            if n == 0:
                ax.set_title(f"in {k}", fontsize=7)
    fig.suptitle(f"layer {layer}: filters {tuple(interpret.layer_filters(model, layer).shape)}"
                 f" (F, C, KH, KW)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_layer_maps(model, image, layer, max_maps=16, ncols=8):
    """The feature maps of layer ``layer`` for one (C, H, W) image (lecture 6d), strongest
    first (by their largest value), at most ``max_maps`` of them, with the image."""
    maps = to_host(interpret.layer_output(model, image[None], layer)[0])
    if maps.ndim != 3:
        raise ValueError(f"layer {layer!r} gives outputs of shape {tuple(maps.shape)}, not "
                         f"feature maps (C, H, W)")
    order = np.argsort(-maps.reshape(len(maps), -1).max(axis=1))[:max_maps]
    fig, axes = _grid(len(order) + 1, ncols + 1, scale=1.2)
    axes.flat[0].axis("on")
    _off(axes.flat[0], "input")
    axes.flat[0].imshow(_picture(image), cmap="gray")
    for ax, k in zip(axes.flat[1:], order, strict=False):
        ax.axis("on")
        ax.imshow(maps[k], cmap="viridis")
        _off(ax, f"{k}: max {maps[k].max():.2f}")
    fig.suptitle(f"layer {layer} ({type(interpret.get_layer(model, layer)).__name__}): "
                 f"{maps.shape[0]} maps of {maps.shape[1]}x{maps.shape[2]}", fontsize=9)
    fig.tight_layout()
    return fig


def _extent(grid, image_size, patch, stride):
    """imshow extent that puts cell (i, j) of an occlusion grid on the centre of its patch,
    or stretches the map over the whole image when no patch is given."""
    (h, w) = image_size
    if patch is None:
        return (-0.5, w - 0.5, h - 0.5, -0.5)
    (ph, pw), (sh, sw) = (_pair(patch), _pair(stride))
    top, left = (ph - 1) / 2 - sh / 2, (pw - 1) / 2 - sw / 2
    return (left, left + grid[1] * sw, top + grid[0] * sh, top)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def plot_heatmaps(images, maps, titles=None, cmap="hot", symmetric=False, label="saliency",
                  patch=None, stride=None):
    """Images (top row), their heat maps (middle) and the maps laid over them (bottom)
    (lecture 6d).

    Args:
        images: (N, C, H, W). maps: (N, h, w): a saliency map (the image's size) or an
            occlusion grid, which is laid over the image with each cell on the centre of its
            patch when ``patch`` and ``stride`` are given (else stretched over the image).
        symmetric: centre the colour scale on zero (for maps with a sign).
        label: name of the maps, in the row labels.
    """
    images, maps = to_host(images), np.asarray(to_host(maps), dtype=np.float64)
    n = len(images)
    fig, axes = plt.subplots(3, n, figsize=(1.7 * n + 0.4, 5.4), squeeze=False)
    for k in range(n):
        picture = _picture(images[k])
        h, w = picture.shape[:2]
        limit = np.abs(maps[k]).max() or 1.0
        scale = {"vmin": -limit, "vmax": limit} if symmetric else {"vmin": 0, "vmax": limit}
        axes[0, k].imshow(picture, cmap="gray")
        axes[1, k].imshow(maps[k], cmap=cmap, **scale)
        axes[2, k].imshow(picture, cmap="gray")
        axes[2, k].imshow(maps[k], cmap=cmap, alpha=0.55, **scale,
                          extent=_extent(maps[k].shape, (h, w), patch, stride))
        axes[2, k].set_xlim(-0.5, w - 0.5)
        axes[2, k].set_ylim(h - 0.5, -0.5)
        for row in range(3):
            _off(axes[row, k], titles[k] if (row == 0 and titles is not None) else None)
    axes[1, 0].set_ylabel(label, fontsize=8)
    axes[2, 0].set_ylabel("overlay", fontsize=8)
    fig.tight_layout()
    return fig


def plot_projections(images, projections, titles=None):
    """Images (top) and deconvnet projections (bottom, each on its own blue-red scale centred
    on zero; grey channels, or the channels' sum for colour images) (lecture 6d)."""
    images, projections = to_host(images), np.asarray(to_host(projections), dtype=np.float64)
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.7 * n + 0.4, 3.8), squeeze=False)
    for k in range(n):
        signal = projections[k].sum(axis=0)
        limit = np.abs(signal).max() or 1.0
        axes[0, k].imshow(_picture(images[k]), cmap="gray")
        axes[1, k].imshow(signal, cmap="RdBu_r", vmin=-limit, vmax=limit)
        _off(axes[0, k], titles[k] if titles is not None else None)
        _off(axes[1, k])
    axes[1, 0].set_ylabel("projection", fontsize=8)
    fig.tight_layout()
    return fig


def plot_adversarial(x, x_adv, before, after, classes=None):
    """Originals (top), the perturbations ``x_adv - x`` (middle, blue-red) and the adversarial
    images (bottom), titled with the model's predictions ``before`` and ``after`` (lecture 6d).
    """
    x, x_adv = to_host(x), to_host(x_adv)
    name = (lambda k: str(k)) if classes is None else (lambda k: str(classes[int(k)]))
    n = len(x)
    fig, axes = plt.subplots(3, n, figsize=(1.7 * n + 0.4, 5.6), squeeze=False)
    for k in range(n):
        delta = (x_adv[k] - x[k]).sum(axis=0)
        limit = np.abs(delta).max() or 1.0
        axes[0, k].imshow(_picture(x[k]), cmap="gray")
        axes[1, k].imshow(delta, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axes[2, k].imshow(_picture(x_adv[k]), cmap="gray")
        _off(axes[0, k], f"says {name(before[k])}")
        _off(axes[1, k], f"max |change| {np.abs(x_adv[k] - x[k]).max():.2f}")
        _off(axes[2, k], f"says {name(after[k])}")
        axes[2, k].title.set_color("C3" if after[k] != before[k] else "k")
    fig.tight_layout()
    return fig


def plot_accuracy_vs_eps(eps, accuracies, ax=None):
    """Accuracy against the attack size ``eps`` (lecture 6d): ``accuracies`` maps a label
    (e.g. "FGSM", "iterative FGSM") to one accuracy per eps."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3.2))
    for n, (label, values) in enumerate(accuracies.items()):
        ax.plot(eps, values, "os^v"[n % 4] + "-", label=label)
    ax.set_xlabel("eps (largest change of a pixel)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def spatial_layers(model, image):
    """Names of the layers of ``model`` without children whose output for one (C, H, W) image
    is a stack of feature maps (lecture 6d): what :func:`interpret_explorer` offers."""
    names = []
    for name, module in interpret.named_layers(model):
        if next(module.named_children(), None) is None:
            if interpret.layer_output(model, image[None], name).ndim == 4:
                names.append(name)
    return names


def interpret_explorer(model, images, labels, classes=None, patch=6, stride=2, layer=None):
    """Pick an image, a class and a layer; see what the network looks at (lecture 6d).

    Top row: the image with the model's prediction, the saliency map and the occlusion map of
    the chosen class, and the deconvnet projection of the layer's strongest feature map.
    Bottom row: that layer's eight strongest feature maps.

    Args:
        model: a trained image classifier. images: (N, C, H, W). labels: (N,) true classes.
        classes: class names (default "0", "1", ...). patch, stride: of the occlusion.
        layer: the layer shown first (default: the first one offered).
    """
    layers = spatial_layers(model, images[0])
    if classes is None:
        classes = [str(k) for k in range(interpret.probabilities(model, images[:1]).shape[1])]
    index = widgets.IntSlider(value=0, min=0, max=len(images) - 1, description="image")
    target = widgets.Dropdown(options=[("its label", -1)] + [(str(c), k) for k, c in
                                                            enumerate(classes)],
                              value=-1, description="class")
    choose = widgets.Dropdown(options=layers, value=layer or layers[0], description="layer")

    def draw():
        x, label = images[index.value:index.value + 1], int(labels[index.value])
        cls = label if target.value < 0 else target.value
        probs = to_host(interpret.probabilities(model, x))[0]
        maps = to_host(interpret.layer_output(model, x, choose.value))[0]
        order = np.argsort(-maps.reshape(len(maps), -1).max(axis=1))
        panels = [
            (f"saliency of {classes[cls]}", interpret.saliency(model, x, cls)[0], False),
            (f"occlusion: drop in p({classes[cls]})",
             interpret.occlusion_map(model, x, cls, patch, stride)[0], True),
            (f"deconv of map {order[0]}",
             interpret.deconv_visualize(model, x, choose.value, int(order[0]))[0].sum(axis=0),
             True),
        ]
        fig = plt.figure(figsize=(11, 4.2))
        grid = fig.add_gridspec(2, 8, height_ratios=[2, 1])
        top = [fig.add_subplot(grid[0, 2 * k:2 * k + 2]) for k in range(4)]
        top[0].imshow(_picture(x[0]), cmap="gray")
        said = int(probs.argmax())
        _off(top[0], f"label {classes[label]}, says {classes[said]} (p={probs[said]:.2f})")
        for ax, (title, heat, symmetric) in zip(top[1:], panels, strict=True):
            heat = np.asarray(to_host(heat), dtype=np.float64)
            limit = np.abs(heat).max() or 1.0
            ax.imshow(heat, cmap="RdBu_r" if symmetric else "hot",
                      vmin=-limit if symmetric else 0, vmax=limit)
            _off(ax, title)
        for k, channel in enumerate(order[:8]):
            ax = fig.add_subplot(grid[1, k])
            ax.imshow(maps[channel], cmap="viridis")
            _off(ax, f"map {channel}")
        kind = type(interpret.get_layer(model, choose.value)).__name__
        fig.suptitle(f"layer {choose.value} ({kind}): {maps.shape[0]} maps of "
                     f"{maps.shape[1]}x{maps.shape[2]}, strongest first", fontsize=9)
        fig.tight_layout()
        return fig

    return Explorer([index, target, choose], draw)
