"""Figures and explorers for lectures 7 (RNN and LSTM) and 8 (captioning).

Every figure function draws a new figure and returns it; the explorers are
:class:`course.viz.widgets.Explorer` objects (controls above a figure, with a PNG fallback when a
notebook runs without a browser).
"""

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import widgets

from course.viz.widgets import Explorer

GATE_NAMES = ("input gate i", "forget gate f", "output gate o", "candidate g")


def _box(ax, x, y, text, colour):
    ax.text(x, y, text, ha="center", va="center", fontsize=11, zorder=3,
            bbox={"boxstyle": "round,pad=0.45", "facecolor": colour, "edgecolor": "k"})


def _arrow(ax, start, end, label=None, **style):
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "lw": 1.3, "color": "k", **style})
    if label:
        vertical = start[0] == end[0]
        ax.text((start[0] + end[0]) / 2 + (0.12 if vertical else 0),
                (start[1] + end[1]) / 2 + (0 if vertical else 0.12), label,
                ha="left" if vertical else "center", va="center", fontsize=9,
                color=style.get("color", "k"))


def plot_unrolled_rnn(steps=4):
    """A recurrent cell with its loop (left) and the same cell unrolled over time (lecture 7).

    Unrolling turns the loop into a chain of ``steps`` copies that share ``Wx``, ``Wh`` and
    ``b``: a feed-forward graph that backpropagation can walk through (BPTT).
    """
    fig, (loop_ax, chain_ax) = plt.subplots(
        1, 2, figsize=(3 + 1.9 * steps, 3.2), gridspec_kw={"width_ratios": [1.2, steps + 0.8]})
    _box(loop_ax, 0, 0, "$h_t$", "#cfe2f3")
    _box(loop_ax, 0, -1, "$x_t$", "#fff2cc")
    _box(loop_ax, 0, 1, "$y_t$", "#d9ead3")
    _arrow(loop_ax, (0, -0.75), (0, -0.28))
    _arrow(loop_ax, (0, 0.28), (0, 0.75))
    loop_ax.annotate("", xy=(0.22, -0.12), xytext=(0.22, 0.12),
                     arrowprops={"arrowstyle": "-|>", "lw": 1.3, "color": "C3",
                                 "connectionstyle": "arc,angleA=0,angleB=0,armA=28,armB=28,rad=8"})
    loop_ax.text(0.62, 0, "$W_h$", color="C3", fontsize=10, va="center")
    loop_ax.set_title("recurrence")
    loop_ax.set_xlim(-0.7, 0.9)

    _box(chain_ax, 0, 0, "$h_0$", "#eeeeee")
    for t in range(1, steps + 1):
        _box(chain_ax, t, 0, f"$h_{t}$", "#cfe2f3")
        _box(chain_ax, t, -1, f"$x_{t}$", "#fff2cc")
        _box(chain_ax, t, 1, f"$y_{t}$", "#d9ead3")
        _arrow(chain_ax, (t, -0.75), (t, -0.28), "$W_x$" if t == 1 else None)
        _arrow(chain_ax, (t, 0.28), (t, 0.75))
        _arrow(chain_ax, (t - 0.78, 0), (t - 0.22, 0), "$W_h$", color="C3")
    chain_ax.text(steps + 0.45, 0, "...", fontsize=14, va="center")
    chain_ax.set_title("unrolled: the same $W_x$, $W_h$, $b$ at every step")
    chain_ax.set_xlim(-0.5, steps + 0.8)
    for ax in (loop_ax, chain_ax):
        ax.set_ylim(-1.5, 1.5)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_gradient_norms(norms, ax=None, title="gradient flowing back through time"):
    """``||dL/dh_t||`` against the step t, one line per model, on a log scale (lecture 7).

    Args:
        norms: dict label -> (T,) array, the gradient norm at steps t = 1..T of a loss that
            depends on the last step only.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
    fig = ax.figure
    for label, values in norms.items():
        values = np.asarray(values, dtype=float)
        ax.semilogy(np.arange(1, values.size + 1), np.maximum(values, 1e-300), label=label)
    ax.set_xlabel("time step t (the loss sits at the last step)")
    ax.set_ylabel(r"$\|\partial L / \partial h_t\|$")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_gates(gates, labels=None, units=20):
    """Heatmaps of the four LSTM gates over a sequence: rows are units, columns steps (lecture 7).

    Args:
        gates: (T, 4H) gate activations of one sequence, order i, f, o, g (i, f, o in (0, 1),
            g in (-1, 1)).
        labels: T strings for the time axis (e.g. the characters read), or None.
        units: how many of the H units to show (the first ones).
    """
    gates = np.asarray(gates)
    if gates.ndim != 2 or gates.shape[1] % 4:
        raise ValueError(f"gates must be (T, 4H), got shape {gates.shape}")
    steps, hidden = gates.shape[0], gates.shape[1] // 4
    units = min(units, hidden)
    fig, axes = plt.subplots(4, 1, figsize=(min(16, 2 + 0.22 * steps), 7.5), sharex=True)
    for k, (ax, name) in enumerate(zip(axes, GATE_NAMES, strict=True)):
        block = gates[:, k * hidden:k * hidden + units].T
        low, cmap = (-1, "RdBu_r") if k == 3 else (0, "viridis")
        image = ax.imshow(block, aspect="auto", vmin=low, vmax=1, cmap=cmap,
                          interpolation="nearest")
        ax.set_ylabel(name, fontsize=9)
        ax.set_yticks([])
        fig.colorbar(image, ax=ax, pad=0.01, fraction=0.02)
    if labels is not None:
        axes[-1].set_xticks(np.arange(steps))
        axes[-1].set_xticklabels([repr(c)[1:-1] if c != " " else "_" for c in labels],
                                 fontsize=8, family="monospace")
    axes[-1].set_xlabel("time step")
    axes[0].set_title(f"LSTM gates of {units} units over the sequence")
    fig.tight_layout()
    return fig


def plot_temperature(probs, symbols, text, temperature, top=20):
    """Next-symbol distribution at a temperature (bar chart) above text sampled with it (lecture 7).

    Args:
        probs: (V,) probabilities of the next symbol. symbols: V display names.
        text: the sampled text, shown wrapped under the chart.
    """
    probs = np.asarray(probs)
    order = np.argsort(-probs)[:top]
    fig, (bar_ax, text_ax) = plt.subplots(2, 1, figsize=(9, 5),
                                          gridspec_kw={"height_ratios": [1, 1]})
    names = [repr(symbols[i])[1:-1] if symbols[i] != " " else "space" for i in order]
    bar_ax.bar(np.arange(order.size), probs[order], color="C0")
    bar_ax.set_xticks(np.arange(order.size))
    bar_ax.set_xticklabels(names, family="monospace")
    bar_ax.set_ylim(0, 1)
    bar_ax.set_ylabel("probability")
    bar_ax.set_title(f"next character after the prompt, temperature {temperature:.2f}")
    wrapped = "\n".join(textwrap.wrap(text.replace("\n", " "), 90))
    text_ax.text(0, 1, wrapped, va="top", ha="left", family="monospace", fontsize=9,
                 transform=text_ax.transAxes)
    text_ax.axis("off")
    fig.tight_layout()
    return fig


def temperature_explorer(sample, temperature=1.0, seed=0):
    """A temperature slider (and a seed) that resamples text and redraws (lecture 7).

    Args:
        sample: ``sample(temperature, seed) -> (probs, symbols, text)``: the first step's
            next-symbol probabilities, their names, and the sampled text.
    """
    temperature_slider = widgets.FloatSlider(value=temperature, min=0.1, max=2.0, step=0.05,
                                             description="temperature", continuous_update=False)
    seed_slider = widgets.IntSlider(value=seed, min=0, max=20, description="seed",
                                    continuous_update=False)

    def draw():
        probs, symbols, text = sample(temperature_slider.value, seed_slider.value)
        return plot_temperature(probs, symbols, text, temperature_slider.value)

    return Explorer([temperature_slider, seed_slider], draw)


def _show_image(ax, image):
    ax.imshow(np.clip(np.asarray(image).transpose(1, 2, 0), 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_captions(images, captions, ncols=4):
    """Images with one or more captions each, wrapped under the image (lecture 8).

    Args:
        images: (N, 3, H, W) in [0, 1].
        captions: dict label -> list of N caption strings (e.g. "greedy", "beam 5", "true").
    """
    n = len(images)
    nrows = -(-n // ncols)
    labels = ["\n".join(textwrap.fill(f"{name}: {texts[i]}", 34)
                         for name, texts in captions.items()) for i in range(n)]
    lines = max(label.count("\n") + 1 for label in labels)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, (3.3 + 0.19 * lines) * nrows),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        if i >= n:
            ax.axis("off")
            continue
        _show_image(ax, images[i])
        ax.set_xlabel(labels[i], fontsize=8)
    fig.tight_layout()
    return fig


def caption_steps(model, image, idx_to_word, k=5, max_length=16):
    """Greedy decoding of one image, keeping the decoder's top-k words at every step (lecture 8).

    Args:
        model: a :class:`course.models.captioning.CaptioningModel`.
        image: one image (3, 32, 32) (or one feature vector).

    Returns:
        list, one entry per step until ``<END>``, of ``(words, probs)``: the k most likely next
        words and their probabilities, most likely first (the first one is the word chosen).
    """
    h, c = model._initial_state(np.asarray(image)[None])
    word = np.array([model.start])
    steps = []
    for _ in range(max_length):
        log_probs, h, c = model._step(word, h, c)
        probs = np.exp(log_probs[0])
        top = np.argsort(-probs)[:k]
        steps.append(([idx_to_word[i] for i in top], probs[top]))
        word = top[:1]
        if word[0] == model.end:
            break
    return steps


def plot_word_probabilities(image, steps, title=None, ncols=6):
    """The image, then one bar chart per decoding step of its top-k next words (lecture 8).

    Args:
        image: (3, H, W) in [0, 1]. steps: from :func:`caption_steps`.
        title: shown above the image (e.g. a true caption).
    """
    nrows = max(1, -(-len(steps) // ncols))
    fig = plt.figure(figsize=(2.6 + 1.9 * ncols, 1.9 * nrows + 0.6))
    grid = fig.add_gridspec(nrows, ncols + 2)
    image_ax = fig.add_subplot(grid[:, :2] if nrows > 1 else grid[0, :2])
    _show_image(image_ax, image)
    caption = " ".join(words[0] for words, _ in steps if words[0] != "<END>")
    image_ax.set_xlabel(textwrap.fill(f"greedy: {caption}", 30), fontsize=9)
    if title:
        image_ax.set_title(textwrap.fill(title, 30), fontsize=9)
    for t, (words, probs) in enumerate(steps):
        ax = fig.add_subplot(grid[t // ncols, 2 + t % ncols])
        y = np.arange(len(words))[::-1]
        ax.barh(y, probs, color=["C3"] + ["C0"] * (len(words) - 1))
        ax.set_yticks(y)
        ax.set_yticklabels(words, fontsize=8)
        ax.set_xlim(0, 1)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"step {t + 1}", fontsize=8)
    fig.tight_layout()
    return fig


def caption_explorer(model, images, idx_to_word, titles=None, k=5, index=0):
    """Pick an image; see its greedy caption and the top-k words at every step (lecture 8).

    Args:
        model: a trained :class:`course.models.captioning.CaptioningModel`.
        images: (N, 3, 32, 32). titles: N strings shown above the image (e.g. a true caption).
    """
    index_slider = widgets.IntSlider(value=index, min=0, max=len(images) - 1,
                                     description="image", continuous_update=False)
    k_slider = widgets.IntSlider(value=k, min=2, max=10, description="top k",
                                 continuous_update=False)

    def draw():
        i = index_slider.value
        steps = caption_steps(model, images[i], idx_to_word, k=k_slider.value)
        title = None if titles is None else f"true: {titles[i]}"
        return plot_word_probabilities(images[i], steps, title)

    return Explorer([index_slider, k_slider], draw)
