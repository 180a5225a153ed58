"""Figures for lectures 1 and 2: activations, decision boundaries, training curves, graphs.

Like :mod:`course.viz.plots`, every function draws on a new figure (or the ``ax`` given) and
returns the figure.
"""

import matplotlib.pyplot as plt
import numpy as np

from course import ops
from course.autodiff import graph

# The activations the figures know: name -> its extra parameter's name, or None.
ACTIVATIONS = {
    "relu": None,
    "sigmoid": None,
    "tanh": None,
    "leaky_relu": "alpha",
    "elu": "alpha",
}


def _axes(ax, figsize):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def activation_and_derivative(name, x, alpha=None):
    """``f(x)`` and ``f'(x)`` from the ops pair ``NAME_forward``/``NAME_backward`` (lecture 1).

    The derivative is the backward pass with an upstream gradient of ones. ``alpha`` is passed
    to leaky ReLU and ELU and ignored by the others.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"name must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    params = {} if ACTIVATIONS[name] is None or alpha is None else {"alpha": alpha}
    forward = getattr(ops, f"{name}_forward")
    backward = getattr(ops, f"{name}_backward")
    out, cache = forward(np.asarray(x, dtype=np.float64), **params)
    return out, backward(np.ones_like(out), cache)


def plot_activation(name, alpha=None, x_range=4.0, ax=None):
    """An activation function and its derivative on ``[-x_range, x_range]`` (lecture 1)."""
    fig, ax = _axes(ax, (5, 3.2))
    x = np.linspace(-x_range, x_range, 401)
    out, grad = activation_and_derivative(name, x, alpha)
    ax.plot(x, out, label=f"{name}(x)", color="C0")
    ax.plot(x, grad, label=f"{name}'(x)", color="C3", linestyle="--")
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.axvline(0, color="grey", linewidth=0.5)
    suffix = f", alpha={alpha:g}" if alpha is not None and ACTIVATIONS[name] else ""
    ax.set_title(f"{name}{suffix}")
    ax.set_xlabel("x")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_decision_boundary(predict, X, y, ax=None, title="decision boundary", resolution=200):
    """2-D points coloured by class over the regions a classifier assigns (lecture 1).

    Args:
        predict: maps (M, 2) points to (M,) integer classes.
        X: (N, 2) points. y: (N,) integer labels.
    """
    fig, ax = _axes(ax, (4.5, 4))
    X, y = np.asarray(X), np.asarray(y)
    margin = 0.5
    (x0, y0), (x1, y1) = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    regions = np.asarray(predict(np.column_stack([gx.ravel(), gy.ravel()]))).reshape(gx.shape)
    ax.contourf(gx, gy, regions, alpha=0.25, cmap="coolwarm", levels=np.unique(y).size - 1 or 1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", edgecolors="k", s=20)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_curves(histories, key="train_loss", ax=None, title=None, logy=False):
    """One curve per run: ``histories`` maps a label to a ``Trainer`` history (lecture 2)."""
    fig, ax = _axes(ax, (5, 3.5))
    for label, history in histories.items():
        values = history[key]
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(key.replace("_", " "))
    ax.set_title(title or key.replace("_", " "))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _node_label(node):
    op = f"{node.op}\n" if node.op else ""
    return f"{op}data {node.data:.3g}\ngrad {node.grad:.3g}"


def plot_graph(root, names=None, ax=None, title="computational graph"):
    """Draw the graph of ``course.autodiff.Value`` s that produced ``root`` (lecture 2).

    Inputs sit on the left and ``root`` on the right; each node is placed one column to the
    right of its deepest parent. Every box shows the operation, the value and the gradient.

    Args:
        root: the output Value.
        names: optional dict mapping a Value to a name written above its box (e.g. ``{a: "a"}``).
    """
    nodes, edges = graph(root)
    names = {id(value): name for value, name in (names or {}).items()}
    depth = {}
    for node in nodes:  # topological order: parents first
        depth[id(node)] = 1 + max((depth[id(p)] for p in node.parents), default=-1)
    columns = {}
    for node in nodes:
        columns.setdefault(depth[id(node)], []).append(node)
    position = {}
    for column, members in columns.items():
        for row, node in enumerate(members):
            position[id(node)] = (column, row - (len(members) - 1) / 2)

    width = max(columns) + 1
    height = max(len(members) for members in columns.values())
    fig, ax = _axes(ax, (2.1 * width + 1, 1.4 * height + 1))
    for parent, child in edges:
        (x0, y0), (x1, y1) = position[id(parent)], position[id(child)]
        ax.annotate("", xy=(x1 - 0.3, y1), xytext=(x0 + 0.3, y0),
                    arrowprops={"arrowstyle": "->", "color": "grey"})
    for node in nodes:
        x, y = position[id(node)]
        ax.text(x, y, _node_label(node), ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "facecolor": "C0" if node.op else "C2", "alpha": 0.25})
        if id(node) in names:
            ax.text(x, y + 0.38, names[id(node)], ha="center", fontsize=10, weight="bold")
    ax.set_xlim(-0.6, width - 0.4)
    ax.set_ylim(-height / 2 - 0.2, height / 2 + 0.3)
    ax.axis("off")
    ax.set_title(title)
    fig.tight_layout()
    return fig
