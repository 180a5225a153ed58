"""Figures and widgets of lectures 1-2 (course.viz.figures, course.viz.widgets), run headless."""

import base64

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course import viz  # noqa: E402
from course.autodiff import Value  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


X = np.linspace(-3, 3, 61) + 0.05  # no point exactly at the kink


@pytest.mark.parametrize("name, alpha, expected, derivative", [
    ("relu", None, np.maximum(X, 0), (X > 0).astype(float)),
    ("sigmoid", None, 1 / (1 + np.exp(-X)), np.exp(-X) / (1 + np.exp(-X)) ** 2),
    ("tanh", None, np.tanh(X), 1 / np.cosh(X) ** 2),
    ("leaky_relu", 0.2, np.where(X > 0, X, 0.2 * X), np.where(X > 0, 1, 0.2)),
    ("elu", 0.5, np.where(X > 0, X, 0.5 * np.expm1(X)), np.where(X > 0, 1, 0.5 * np.exp(X))),
])
def test_activation_and_derivative_match_the_formulas(name, alpha, expected, derivative):
    out, grad = viz.activation_and_derivative(name, X, alpha)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad, derivative, rtol=1e-12, atol=1e-12)


def test_activation_and_derivative_rejects_unknown_names():
    with pytest.raises(ValueError, match="name must be one of"):
        viz.activation_and_derivative("swish", X)


@pytest.mark.parametrize("name", list(viz.figures.ACTIVATIONS))
def test_plot_activation_draws_function_and_derivative(name):
    fig = viz.plot_activation(name, alpha=0.3, x_range=2.0)
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    labels = [line.get_label() for line in lines]
    assert f"{name}(x)" in labels and f"{name}'(x)" in labels
    x = lines[0].get_xdata()
    assert x.min() == -2.0 and x.max() == 2.0


def test_plot_decision_boundary_on_given_axes():
    fig, ax = plt.subplots()
    X2 = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    y2 = np.array([0, 1, 1, 0])
    out = viz.plot_decision_boundary(lambda P: (P[:, 1] > 0.5).astype(int), X2, y2, ax=ax)
    assert out is fig
    assert ax.collections  # the regions and the points


def test_plot_curves_draws_one_line_per_run():
    histories = {"a": {"train_loss": [3.0, 2.0, 1.0]}, "b": {"train_loss": [2.0, 1.5]}}
    fig = viz.plot_curves(histories, "train_loss", logy=True)
    lines = fig.axes[0].get_lines()
    assert [line.get_label() for line in lines] == ["a", "b"]
    assert list(lines[1].get_xdata()) == [1, 2]
    assert fig.axes[0].get_yscale() == "log"


def test_plot_graph_shows_every_node_with_its_gradient():
    a, b = Value(2.0), Value(-3.0)
    c = a * b + a.exp()
    c.backward()
    fig = viz.plot_graph(c, names={a: "a", b: "b", c: "c"})
    texts = [text.get_text() for text in fig.axes[0].texts]
    boxes = [text for text in texts if text.count("\n") >= 1]
    assert len(boxes) == 5  # a, b, a*b, exp(a), the sum
    assert any(f"grad {a.grad:.3g}" in text for text in boxes)
    assert {"a", "b", "c"} <= set(texts)


def test_activation_explorer_constructs_and_redraws_headless():
    explorer = viz.activation_explorer(name="elu", alpha=0.5)
    assert isinstance(explorer, viz.Explorer)
    first = explorer.png
    assert first.startswith(b"\x89PNG")
    bundle = explorer._repr_mimebundle_()
    assert WIDGET_MIME in bundle
    assert base64.b64decode(bundle["image/png"]) == first

    choose, alpha_slider, _ = explorer.children[0].children
    assert not alpha_slider.disabled
    choose.value = "relu"
    assert alpha_slider.disabled  # relu has no alpha
    assert explorer.png != first


def test_training_explorer_retrains_on_slider_changes():
    calls = []

    def train(lr, momentum):
        calls.append((lr, momentum))
        return {"train_loss": [1.0, 0.5 / (1 + lr)], "val_acc": [0.5, 0.6 + momentum / 10]}

    explorer = viz.training_explorer(train, lr=0.1, momentum=0.0)
    assert calls == [(0.1, 0.0)]
    lr_slider, momentum_slider = explorer.children[0].children
    momentum_slider.value = 0.9
    assert calls[-1] == (pytest.approx(0.1), pytest.approx(0.9))
    assert len(calls) == 2
    assert explorer.png.startswith(b"\x89PNG")


def test_training_explorer_survives_a_diverging_run():
    def train(lr, momentum):
        return {"train_loss": [1.0, float("inf")], "val_acc": [0.1, float("nan")]}

    explorer = viz.training_explorer(train)
    assert explorer.png.startswith(b"\x89PNG")
