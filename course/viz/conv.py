"""Figures and widgets of the convolution and pooling lectures (lectures 3 and 4).

Every ``plot_*`` function draws a new matplotlib figure and returns it. Every ``*_explorer``
returns a :class:`course.viz.widgets.Explorer` (controls above a figure, redrawn when a control
changes), which also carries its latest figure as a PNG, so a notebook run headless (nbclient,
nbconvert, a static viewer) still shows a picture where the widget would be.
"""

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import widgets
from matplotlib.patches import Rectangle

from course import ops
from course.nn.receptive_field import receptive_field
from course.viz.widgets import Explorer

KERNELS = {
    "vertical edges (Sobel x)": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges (Sobel y)": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "outline (Laplacian)": [[0, -1, 0], [-1, 4, -1], [0, -1, 0]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "blur (box)": [[1 / 9] * 3] * 3,
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
}
"""Hand-made 3x3 filters: name -> rows of weights."""


def filter2d(image, kernel, padding=1):
    """One grey (H, W) image filtered by one (K, K) kernel with ``course.ops.conv2d_forward``
    (lecture 3)."""
    x = np.asarray(image, dtype=np.float64)[None, None]
    w = np.asarray(kernel, dtype=np.float64)[None, None]
    out, _ = ops.conv2d_forward(x, w, np.zeros(1), padding=padding)
    return out[0, 0]


def _show(ax, image, title=None, cmap="gray", symmetric=False, scale=1.0):
    """imshow without ticks; ``symmetric`` centres a diverging colour map on zero, and
    ``scale`` > 1 makes its colours paler."""
    limit = scale * (np.abs(image).max() or 1.0)
    kwargs = {"vmin": -limit, "vmax": limit} if symmetric else {}
    ax.imshow(image, cmap=cmap, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def plot_filter_responses(image, kernels=None):
    """An image and its response to each filter in ``kernels`` (name -> (K, K) weights)
    (lecture 3)."""
    kernels = KERNELS if kernels is None else kernels
    fig, axes = plt.subplots(1, len(kernels) + 1, figsize=(2.2 * (len(kernels) + 1), 2.6))
    _show(axes[0], image, "input")
    for ax, (name, kernel) in zip(axes[1:], kernels.items(), strict=True):
        _show(ax, filter2d(image, kernel), name, cmap="RdBu_r", symmetric=True)
    fig.tight_layout()
    return fig


def plot_sliding_window(image, kernel, position, padding=1):
    """One step of a convolution (lecture 3): the window at ``position`` (row-major output index),
    the products of window and kernel, and the output computed up to that position."""
    image = np.asarray(image, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    k = kernel.shape[0]
    padded = np.pad(image, padding)
    out = filter2d(image, kernel, padding)
    i, j = divmod(int(position), out.shape[1])
    window = padded[i:i + k, j:j + k]

    fig, (ax_in, ax_mul, ax_out) = plt.subplots(1, 3, figsize=(10, 3.6))
    _show(ax_in, padded, f"padded input, window at ({i}, {j})")
    ax_in.add_patch(Rectangle((j - 0.5, i - 0.5), k, k, fill=False, color="C3", lw=2))

    _show(ax_mul, kernel, f"kernel x window: sum = {out[i, j]:+.2f}", cmap="RdBu_r",
          symmetric=True, scale=2)
    for (a, b), weight in np.ndenumerate(kernel):
        ax_mul.text(b, a, f"{weight:+.2g}\nx{window[a, b]:.2f}", ha="center", va="center",
                    fontsize=8)

    shown = np.full(out.shape, np.nan)
    shown.flat[:i * out.shape[1] + j + 1] = out.flat[:i * out.shape[1] + j + 1]
    limit = np.abs(out).max() or 1.0
    ax_out.imshow(shown, cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax_out.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, color="C3", lw=2))
    ax_out.set_xticks([])
    ax_out.set_yticks([])
    ax_out.set_title(f"output {out.shape[0]}x{out.shape[1]}", fontsize=9)
    fig.tight_layout()
    return fig


def sliding_window_explorer(image, kernels=None, padding=1, position=0):
    """Slide a kernel over ``image`` (lecture 3): a position slider (with a play button) and a
    kernel dropdown. Small images (8x8 to 16x16) keep the numbers readable."""
    kernels = KERNELS if kernels is None else kernels
    image = np.asarray(image, dtype=np.float64)
    k = np.asarray(next(iter(kernels.values()))).shape[0]
    size = (image.shape[0] + 2 * padding - k + 1) * (image.shape[1] + 2 * padding - k + 1)
    choose = widgets.Dropdown(options=list(kernels), description="kernel")
    slider = widgets.IntSlider(value=position, min=0, max=size - 1, description="position")
    play = widgets.Play(value=position, min=0, max=size - 1, interval=300)
    widgets.jslink((play, "value"), (slider, "value"))
    return Explorer([choose, play, slider], lambda: plot_sliding_window(
        image, kernels[choose.value], slider.value, padding))


def plot_filter_fit(losses, true, learned):
    """Loss curve of fitting a filter by gradient descent, and the true and learned (K, K)
    filters with their weights written in (lecture 3)."""
    fig, (ax_loss, ax_true, ax_learned) = plt.subplots(
        1, 3, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1.6, 1, 1]})
    ax_loss.semilogy(losses)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("MSE loss")
    ax_loss.set_title("fitting the filter", fontsize=9)
    for ax, kernel, title in ((ax_true, true, "hand-made filter"),
                              (ax_learned, learned, "learned filter")):
        kernel = np.asarray(kernel)
        _show(ax, kernel, title, cmap="RdBu_r", symmetric=True, scale=2)
        for (a, b), weight in np.ndenumerate(kernel):
            ax.text(b, a, f"{weight:+.2f}", ha="center", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def plot_im2col(height=4, width=4, kernel=3, column=0):
    """im2col on a ``height`` x ``width`` one-channel image with numbered pixels (lecture 3): each
    window of ``kernel`` x ``kernel`` pixels becomes one column; window ``column`` is
    highlighted."""
    pixels = np.arange(height * width).reshape(height, width)
    ho, wo = height - kernel + 1, width - kernel + 1
    windows = np.lib.stride_tricks.sliding_window_view(pixels, (kernel, kernel))
    cols = windows.reshape(ho * wo, kernel * kernel).T  # (K*K, Ho*Wo)
    i, j = divmod(column, wo)

    fig, (ax_in, ax_cols) = plt.subplots(
        1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [width, ho * wo + 1]})
    for ax, grid, title in ((ax_in, pixels, f"input {height}x{width}, pixel numbers"),
                            (ax_cols, cols, f"cols: {kernel * kernel} rows x {ho * wo} "
                                            f"windows")):
        ax.imshow(np.zeros_like(grid), cmap="Greys", vmin=0, vmax=1)
        for (a, b), value in np.ndenumerate(grid):
            ax.text(b, a, value, ha="center", va="center", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
    ax_in.add_patch(Rectangle((j - 0.5, i - 0.5), kernel, kernel, color="C1", alpha=0.4))
    ax_cols.add_patch(Rectangle((column - 0.5, -0.5), 1, kernel * kernel, color="C1",
                                alpha=0.4))
    ax_cols.set_xlabel("column n = i * Wo + j  (one per output pixel)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_pooling(image, sizes=(2, 4)):
    """An image max-pooled (top row) and average-pooled (bottom row) with each window size
    (lecture 4)."""
    x = np.asarray(image)[None, None]
    fig, axes = plt.subplots(2, len(sizes) + 1, figsize=(2.4 * (len(sizes) + 1), 5))
    for row, (name, forward) in enumerate((("max", ops.max_pool2d_forward),
                                           ("average", ops.avg_pool2d_forward))):
        _show(axes[row, 0], image, f"input {image.shape[0]}x{image.shape[1]}")
        for ax, size in zip(axes[row, 1:], sizes, strict=True):
            out = forward(x, size)[0][0, 0]
            _show(ax, out, f"{name} {size}x{size}: {out.shape[0]}x{out.shape[1]}")
    fig.tight_layout()
    return fig


def plot_shift(image, shifted, size=2):
    """An image and a shifted copy, raw (top) and max-pooled with ``size`` (bottom), with the
    absolute difference of each pair (lecture 4)."""
    pooled = [ops.max_pool2d_forward(np.asarray(a)[None, None], size)[0][0, 0]
              for a in (image, shifted)]
    fig, axes = plt.subplots(2, 3, figsize=(6.5, 4.6))
    for row, (a, b, name) in enumerate(((image, shifted, "pixels"),
                                        (*pooled, f"max-pooled {size}x{size}"))):
        difference = np.abs(a - b)
        _show(axes[row, 0], a, f"{name}")
        _show(axes[row, 1], b, f"{name}, shifted")
        _show(axes[row, 2], difference, f"|difference|: {np.count_nonzero(difference)} of "
                                        f"{difference.size} differ", cmap="Reds")
        axes[row, 2].images[0].set_clim(0, 1)
    fig.tight_layout()
    return fig


def pooling_explorer(image, size=2, stride=2):
    """Choose max or average pooling, the window size and the stride (lecture 4)."""
    image = np.asarray(image)
    mode = widgets.Dropdown(options=["max", "average"], description="pooling")
    size_slider = widgets.IntSlider(value=size, min=1, max=min(image.shape) // 2,
                                    description="size")
    stride_slider = widgets.IntSlider(value=stride, min=1, max=min(image.shape) // 2,
                                      description="stride")

    def draw():
        forward = ops.max_pool2d_forward if mode.value == "max" else ops.avg_pool2d_forward
        k, s = size_slider.value, stride_slider.value
        out = forward(image[None, None], k, s)[0][0, 0]
        fig, (ax_in, ax_out) = plt.subplots(1, 2, figsize=(7, 3.6))
        _show(ax_in, image, f"input {image.shape[0]}x{image.shape[1]}, first windows")
        for n in range(min(3, out.shape[1])):
            ax_in.add_patch(Rectangle((n * s - 0.5, -0.5), k, k, fill=False, color=f"C{n + 1}",
                                      lw=2))
        _show(ax_out, out, f"{mode.value} pool {k}x{k}, stride {s}: "
                           f"{out.shape[0]}x{out.shape[1]}")
        fig.tight_layout()
        return fig

    return Explorer([mode, size_slider, stride_slider], draw)


def plot_receptive_fields(model, image):
    """Receptive field of the centre unit after each convolution and pooling layer of
    ``model`` (from :func:`course.nn.receptive_field`) (lecture 4): sizes per layer, and squares on
    ``image`` (H, W)."""
    rows = [row for row in receptive_field(model, image.shape)
            if row["layer"].startswith(("Conv2d", "MaxPool2d", "AvgPool2d"))]
    fig, (ax_bar, ax_img) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [f"{row['name']}: {row['layer'].split('(')[0]}" for row in rows]
    ax_bar.bar(names, [row["receptive_field"][0] for row in rows], color="C0",
               label="receptive field")
    ax_bar.bar(names, [row["jump"][0] for row in rows], color="C1", width=0.4, label="jump")
    ax_bar.set_ylabel("input pixels")
    ax_bar.tick_params(axis="x", rotation=30, labelsize=8)
    ax_bar.legend(fontsize=8)
    ax_bar.set_title("field and jump after each layer", fontsize=9)

    _show(ax_img, image, "fields of the centre unit, one square per layer")
    for n, row in enumerate(rows):
        centre = [row["start"][a] + (row["output_size"][a] - 1) // 2 * row["jump"][a]
                  for a in (0, 1)]
        rh, rw = row["receptive_field"]
        ax_img.add_patch(Rectangle((centre[1] - rw / 2, centre[0] - rh / 2), rw, rh,
                                   fill=False, color=f"C{n}", lw=2, label=names[n]))
    ax_img.set_xlim(-4.5, image.shape[1] + 3.5)
    ax_img.set_ylim(image.shape[0] + 3.5, -4.5)
    ax_img.legend(fontsize=7, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.tight_layout()
    return fig


def feature_maps(model, images, layer):
    """The maps (N, C', H', W') that layers 0 to ``layer`` of the ``Sequential`` ``model``
    compute for a batch of (N, C, H, W) images (lecture 4)."""
    x = images
    for module in model.layers[:layer + 1]:
        x = module(x)
    return x


def plot_feature_maps(model, image, layer, ncols=8):
    """Every channel of ``model``'s output after layer number ``layer`` for one (C, H, W) image
    (lecture 4)."""
    maps = feature_maps(model, np.asarray(image)[None], layer)[0]
    nrows = -(-len(maps) // ncols)
    fig, axes = plt.subplots(nrows, ncols + 1, figsize=(1.3 * (ncols + 1), 1.4 * nrows + 0.4),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    _show(axes[0, 0], image[0], "input")
    for n, feature in enumerate(maps):
        _show(axes[n // ncols, 1 + n % ncols], feature, f"{n}", cmap="viridis")
        axes[n // ncols, 1 + n % ncols].axis("on")
    fig.suptitle(f"after layer {layer} ({type(model[layer]).__name__}): "
                 f"{maps.shape[0]} maps of {maps.shape[1]}x{maps.shape[2]}", fontsize=10)
    fig.tight_layout()
    return fig


def feature_map_explorer(model, images, labels=None, index=0, layer=0):
    """Choose a digit and a layer, see the feature maps of ``model`` for it (lecture 4).

    Args:
        model: a ``Sequential`` of image layers first (LeNet-5); only the layers before the
            first ``Flatten`` are offered.
        images: (N, C, H, W). labels: optional (N,) labels, shown in the digit's title.
    """
    spatial = []
    for n, module in enumerate(model.layers):
        if type(module).__name__ == "Flatten":
            break
        spatial.append((f"{n}: {type(module).__name__}", n))
    choose = widgets.Dropdown(options=spatial, value=layer, description="layer")
    digit = widgets.IntSlider(value=index, min=0, max=len(images) - 1, description="image")

    def draw():
        fig = plot_feature_maps(model, images[digit.value], choose.value)
        if labels is not None:
            fig.axes[0].set_title(f"label {labels[digit.value]}", fontsize=9)
        return fig

    return Explorer([digit, choose], draw)
