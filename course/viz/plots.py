"""Matplotlib figures used by the lectures and ``course tour``.

Every function draws on a new figure (or the ``ax`` given) and returns the figure, so a
notebook shows it and a script can ``fig.savefig(path)``.
"""

import matplotlib.pyplot as plt
import numpy as np


def _axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def plot_history(history, ax=None, title="training"):
    """Loss (left axis) and accuracy (right axis) per epoch from a ``Trainer`` history
    (lecture 1)."""
    fig, ax = _axes(ax, (6, 3.5))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    ax.plot(epochs, history["train_loss"], label="train loss", color="C0")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="val loss", color="C0", linestyle="--")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(title)
    acc_ax = ax.twinx()
    acc_ax.plot(epochs, history["train_acc"], label="train acc", color="C1")
    if history.get("val_acc"):
        acc_ax.plot(epochs, history["val_acc"], label="val acc", color="C1", linestyle="--")
    acc_ax.set_ylabel("accuracy")
    lines = ax.get_lines() + acc_ax.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="center right", fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true, y_pred, num_classes):
    """(num_classes, num_classes) counts (lecture 1): row = true class, column = predicted class."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def plot_confusion(y_true, y_pred, classes, ax=None, title="confusion matrix"):
    """Confusion matrix with the counts written in each cell (lecture 1)."""
    matrix = confusion_matrix(y_true, y_pred, len(classes))
    fig, ax = _axes(ax, (4.5, 4.5))
    ax.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, classes)
    ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    threshold = matrix.max() / 2
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, count, ha="center", va="center", fontsize=7,
                    color="white" if count > threshold else "black")
    fig.tight_layout()
    return fig


def show_images(images, titles=None, ncols=8, cmap="gray", scale=1.2):
    """Grid of images (lecture 1): (N, H, W), (N, 1, H, W) or (N, 3, H, W) arrays."""
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.transpose(0, 2, 3, 1)
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            image = images[i]
            low, high = image.min(), image.max()
            ax.imshow((image - low) / (high - low + 1e-12), cmap=cmap)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig
