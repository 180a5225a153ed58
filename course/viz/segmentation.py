"""Segmentation figures: class masks drawn over their images (lecture 6c, dense prediction)."""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch

# one colour per class id; the background (0) stays transparent
MASK_COLOURS = np.array([
    [0.0, 0.0, 0.0],
    [1.0, 0.1, 0.1],
    [0.1, 0.9, 0.1],
    [0.2, 0.4, 1.0],
    [1.0, 0.9, 0.0],
    [1.0, 0.2, 1.0],
    [0.0, 1.0, 1.0],
])


def overlay(image, mask, alpha=0.6):
    """An (H, W, 3) picture: ``image`` (3, H, W) in [0, 1] in grey, so that its own colours do
    not mix with the classes', with every non-background pixel of ``mask`` (H, W) blended with
    its class colour (lecture 6c)."""
    grey = np.asarray(image).astype(np.float64).mean(axis=0)
    picture = np.repeat(grey[:, :, None], 3, axis=2)
    mask = np.asarray(mask)
    colours = MASK_COLOURS[mask % len(MASK_COLOURS)]
    blend = np.where((mask > 0)[:, :, None], (1 - alpha) * picture + alpha * colours, picture)
    return np.clip(blend, 0.0, 1.0)


def show_masks(images, masks, classes, truth=None, ncols=4, scale=2.0, label="predicted"):
    """Images with their ``masks`` drawn over them; with ``truth``, a second row per image
    with the true masks (lecture 6c).

    Args:
        images: (N, 3, H, W) in [0, 1]. masks, truth: (N, H, W) class ids.
        classes: the class names, background first (for the legend).
        label: the title over each of ``masks``.
    """
    rows = [(label, masks)] + ([] if truth is None else [("true", truth)])
    n = len(images)
    nrows = -(-n // ncols) * len(rows)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale + 0.4),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        for r, (label, shown) in enumerate(rows):
            ax = axes[(i // ncols) * len(rows) + r, i % ncols]
            ax.imshow(overlay(images[i], shown[i]), interpolation="nearest")
            ax.set_title(label, fontsize=8)
    handles = [Patch(color=MASK_COLOURS[k % len(MASK_COLOURS)], label=name)
               for k, name in enumerate(classes) if k > 0]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
