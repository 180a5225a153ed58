"""Figures and explorers for regularisation: lecture 5 (dropout) and lecture 6 (batch norm).

Every figure function draws a new figure and returns it. The explorers are
:class:`course.viz.widgets.Explorer` s: controls above a figure that is redrawn when a control
moves (and shown as a still picture where no browser runs the widget).
"""

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import widgets

from course import nn, ops
from course.viz.widgets import Explorer

METRIC_NAMES = {"acc": "accuracy", "loss": "loss"}
CHANCE_LOSS = float(np.log(10))  # softmax loss of a uniform guess over 10 classes


def plot_histories(histories, metrics=("acc", "loss"), title=None, axes=None):
    """Training (solid) and validation (dashed) curves of several runs, one panel per metric
    (lecture 5).

    Args:
        histories: ``{label: history}`` with ``Trainer`` histories (``train_acc``, ``val_acc``,
            ``train_loss``, ``val_loss``); each label gets one colour.
        metrics: "acc" and/or "loss".
        axes: optional axes, one per metric.
    """
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.4), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, metric in zip(axes, metrics, strict=True):
        for color, (label, history) in enumerate(histories.items()):
            for split, style in (("train", "-"), ("val", "--")):
                values = history.get(f"{split}_{metric}")
                if values:
                    ax.plot(np.arange(1, len(values) + 1), values, style, color=f"C{color}",
                            label=f"{label} ({split})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(METRIC_NAMES[metric])
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_thinned_predictions(image, thinned, averaged, eval_mode, label=None):
    """What one digit looks like to several thinned networks, their average and eval mode
    (lecture 5).

    Args:
        image: (H, W) or (1, H, W) input image.
        thinned: (K, C) class probabilities of K thinned networks (dropout on, one mask each).
        averaged: (C,) the mean of many thinned networks' probabilities.
        eval_mode: (C,) probabilities of the full network in eval mode (dropout off).
        label: the true class, marked on every panel.
    """
    thinned = np.asarray(thinned)
    rows = [(f"thinned net {k + 1}", probs) for k, probs in enumerate(thinned)]
    rows += [("mean of thinned", averaged), ("eval mode (no dropout)", eval_mode)]
    fig, axes = plt.subplots(1, len(rows) + 1, figsize=(1.9 * (len(rows) + 1), 2.2))
    axes[0].imshow(np.asarray(image).reshape(np.shape(image)[-2:]), cmap="gray")
    axes[0].set_title("input" if label is None else f"input (label {label})", fontsize=8)
    axes[0].axis("off")
    classes = np.arange(thinned.shape[1])
    for ax, (title, probs) in zip(axes[1:], rows, strict=True):
        colors = ["C3" if c == label else "C0" for c in classes]
        ax.bar(classes, probs, color=colors)
        ax.set_ylim(0, 1)
        ax.set_xticks(classes)
        ax.tick_params(labelsize=6)
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def layer_activations(model, x, kind=nn.ReLU, inputs=False):
    """The outputs (or, with ``inputs=True``, the inputs) of every layer of type ``kind`` in a
    ``Sequential``, for the input batch ``x`` (lectures 5 and 6).

    The model runs in its current mode (train or eval); nothing is trained.

    Returns:
        list of (N, ...) arrays, one per matching layer, in order.
    """
    found = []
    for layer in model:
        if inputs and isinstance(layer, kind):
            found.append(x)
        x = layer(x)
        if not inputs and isinstance(layer, kind):
            found.append(x)
    return found


def plot_layer_histograms(rows, bins=60, value_range=None, skip_zeros=False, title=None):
    """Histograms of activations, one column per layer and one row per model (lecture 6).

    Args:
        rows: ``{label: [activations of layer 1, layer 2, ...]}``; every row has the same
            number of layers. Each array is flattened.
        value_range: (low, high) shared by all panels; by default each row gets the range of
            its own values, so that every row's histograms can be compared across layers.
        skip_zeros: leave exact zeros out of the histogram and give their share in the
            title instead (for ReLU outputs, whose zeros would dwarf everything else).
    """
    nrows, ncols = len(rows), len(next(iter(rows.values())))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.7 * ncols, 1.7 * nrows + 0.4),
                             sharey="row", squeeze=False)
    for r, (label, layers) in enumerate(rows.items()):
        flat = [np.ravel(np.asarray(a, dtype=np.float64)) for a in layers]
        low_high = value_range or (min(v.min() for v in flat), max(v.max() for v in flat))
        for c, values in enumerate(flat):
            ax = axes[r, c]
            caption = f"layer {c + 1}: std {values.std():.2g}"
            if skip_zeros:
                caption += f"\n{np.mean(values == 0):.0%} zero"
                values = values[values != 0]
            ax.hist(values, bins=bins, range=low_high, color=f"C{r}", histtype="stepfilled")
            ax.set_yticks([])
            ax.tick_params(labelsize=6)
            ax.set_title(caption, fontsize=7)
        axes[r, 0].set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    # fixed margins: tight_layout would lay out the many panels again on every redraw
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.1, top=0.78 if title else 0.85,
                        wspace=0.15, hspace=0.7)
    return fig


def plot_percentiles(steps, tracks, percentiles=(15, 50, 85), sharey=False, title=None):
    """How a unit's input distribution moves during training, one panel per model (lecture 6).

    Args:
        steps: (S,) training steps at which the distribution was measured.
        tracks: ``{label: (S, P) array}``: the given percentiles of the unit's inputs at each
            step (the figure of Ioffe and Szegedy, 2015).
        percentiles: increasing; the band between the first and the last is shaded, the
            others are drawn as lines.
        sharey: one vertical scale for all panels.
    """
    fig, axes = plt.subplots(1, len(tracks), figsize=(4.5 * len(tracks), 3), squeeze=False,
                             sharey=sharey)
    for ax, (label, values) in zip(axes[0], tracks.items(), strict=True):
        values = np.asarray(values)
        ax.fill_between(steps, values[:, 0], values[:, -1], color="C0", alpha=0.25,
                        label=f"{percentiles[0]}th to {percentiles[-1]}th percentile")
        for j in range(1, len(percentiles) - 1):
            ax.plot(steps, values[:, j], color="C0", label=f"{percentiles[j]}th percentile")
        ax.set_xlabel("training step")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _grid(values):
    """A 1-D vector as the most square 2-D grid whose rows divide its length."""
    n = values.size
    rows = max(d for d in range(1, int(np.sqrt(n)) + 1) if n % d == 0)
    return values.reshape(rows, n // rows)


def dropout_explorer(activations, histories, p=0.5, seed=0):
    """Move the drop probability: one example's hidden units thinned, and the val curves
    (lecture 5).

    Args:
        activations: (D,) one example's hidden activations (before dropout).
        histories: ``{p: history}`` of networks trained with each drop probability ``p``
            (precomputed: the slider only selects among them).
        p: the drop probability shown first (one of the keys of ``histories``).
        seed: the mask for each ``p`` is drawn with this seed.
    """
    activations = np.asarray(activations, dtype=np.float64).ravel()
    choices = sorted(histories)
    slider = widgets.SelectionSlider(options=choices, value=p, description="drop p")

    def draw():
        chosen = slider.value
        thinned, _ = ops.dropout_forward(activations, chosen, rng=seed)
        kept = ops.dropout_forward(np.ones_like(activations), chosen, rng=seed)[0] > 0
        fig, axes = plt.subplots(1, 4, figsize=(14, 3),
                                 gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
        top = max(float(thinned.max()), float(activations.max()), 1e-12)
        panels = ((activations, "hidden units (eval mode)", "viridis", top),
                  (kept, f"mask: {kept.mean():.0%} kept", "gray", 1),
                  (thinned, f"thinned: mask * h / (1 - {chosen})", "viridis", top))
        for ax, (values, title, cmap, vmax) in zip(axes, panels, strict=False):
            ax.imshow(_grid(np.asarray(values, dtype=np.float64)), cmap=cmap, vmin=0, vmax=vmax)
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        ax = axes[3]
        for q in choices:
            values = histories[q]["val_loss"]
            epochs = np.arange(1, len(values) + 1)
            if q == chosen:
                ax.plot(epochs, values, color="C3", linewidth=2.5, label=f"p = {q}")
            else:
                ax.plot(epochs, values, color="0.6", linewidth=1)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation loss")
        final = histories[chosen]["val_acc"][-1]
        ax.set_title(f"grey: the other p; final val accuracy {final:.3f}", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    return Explorer([slider], draw)


def failed(history, chance_loss):
    """True when a run's last training loss is not finite or no better than chance (lecture 6)."""
    final = history["train_loss"][-1]
    return not np.isfinite(final) or final >= chance_loss


def plot_lr_sweep(sweep, lr, chance_loss=CHANCE_LOSS, axes=None):
    """Loss curves of several models at one learning rate, and final loss against the rate
    (lecture 6).

    Args:
        sweep: ``{label: {lr: history}}``: each model trained once per learning rate.
        lr: the learning rate whose curves the left panel shows.
        chance_loss: the loss of a uniform guess (log of the number of classes): a run that
            ends at or above it (or at NaN/inf) has failed, and is marked with a cross.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.4))
    fig = axes[0].figure
    ceiling = 2 * chance_loss
    for color, (label, runs) in enumerate(sweep.items()):
        losses = np.asarray(runs[lr]["train_loss"], dtype=np.float64)
        epochs = np.arange(1, len(losses) + 1)
        shown = np.where(np.isfinite(losses), np.minimum(losses, ceiling), ceiling)
        state = "FAILED" if failed(runs[lr], chance_loss) else f"ends at {losses[-1]:.3f}"
        axes[0].plot(epochs, shown, color=f"C{color}", marker=".", label=f"{label}: {state}")
        rates = sorted(runs)
        finals = np.array([runs[r]["train_loss"][-1] for r in rates], dtype=np.float64)
        bad = np.array([failed(runs[r], chance_loss) for r in rates])
        shown = np.where(np.isfinite(finals), np.minimum(finals, ceiling), ceiling)
        axes[1].plot(rates, shown, color=f"C{color}", marker="o", label=label)
        axes[1].plot(np.array(rates)[bad], shown[bad], "x", color="k", markersize=10)
    axes[0].axhline(chance_loss, color="0.5", linestyle=":", label="chance")
    axes[0].set_ylim(0, ceiling * 1.05)
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    axes[0].set_title(f"learning rate {lr:g}", fontsize=9)
    axes[0].legend(fontsize=7)
    axes[1].axvline(lr, color="0.5", linestyle="--")
    axes[1].axhline(chance_loss, color="0.5", linestyle=":")
    axes[1].set_xscale("log")
    axes[1].set_ylim(0, ceiling * 1.05)
    axes[1].set_xlabel("learning rate")
    axes[1].set_ylabel("final training loss")
    axes[1].set_title("x: failed (NaN, inf or no better than chance)", fontsize=9)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def lr_explorer(sweep, lr=None, chance_loss=CHANCE_LOSS):
    """Slide through a precomputed learning-rate sweep (see :func:`plot_lr_sweep`) (lecture 6).

    Args:
        sweep: ``{label: {lr: history}}`` with the same learning rates for every label.
        lr: the rate shown first (default: the smallest).
    """
    rates = sorted(next(iter(sweep.values())))
    slider = widgets.SelectionSlider(options=[(f"{r:g}", r) for r in rates],
                                     value=rates[0] if lr is None else lr,
                                     description="learning rate")
    return Explorer([slider],
                          lambda: plot_lr_sweep(sweep, slider.value, chance_loss=chance_loss))


def histogram_explorer(rows_for, options, description, value=None, **hist_args):
    """A control that picks an option and redraws :func:`plot_layer_histograms` (lecture 6).

    Args:
        rows_for: ``rows_for(option) -> {label: [activations per layer]}``; keep it fast
            (it runs on every change), e.g. one forward pass of a small batch.
        options: the values offered, as for an ipywidgets ``SelectionSlider``.
        description: the control's label.
        hist_args: passed on to :func:`plot_layer_histograms`.
    """
    slider = widgets.SelectionSlider(options=options, description=description,
                                     value=options[0] if value is None else value)
    return Explorer([slider],
                          lambda: plot_layer_histograms(rows_for(slider.value), **hist_args))
