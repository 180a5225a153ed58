"""Figures and explorers of lectures 5-6 (course.viz.regularization)."""

import numpy as np
import pytest

from course import nn
from course.viz.regularization import (
    CHANCE_LOSS,
    dropout_explorer,
    failed,
    histogram_explorer,
    layer_activations,
    lr_explorer,
    plot_histories,
    plot_layer_histograms,
    plot_lr_sweep,
    plot_percentiles,
    plot_thinned_predictions,
)
from course.viz.widgets import Explorer

pytestmark = pytest.mark.norm


def history(epochs=5, start=2.0, val=True):
    losses = list(np.linspace(start, 0.1, epochs))
    h = {"train_loss": losses, "train_acc": list(np.linspace(0.2, 1.0, epochs)),
         "val_loss": [], "val_acc": [], "lr": [0.1] * epochs}
    if val:
        h["val_loss"] = [v + 0.2 for v in losses]
        h["val_acc"] = list(np.linspace(0.2, 0.9, epochs))
    return h


def test_plot_histories_draws_train_and_val_of_each_run():
    fig = plot_histories({"a": history(), "b": history(val=False)}, metrics=("acc", "loss"))
    acc_ax, loss_ax = fig.axes
    assert [line.get_label() for line in acc_ax.get_lines()] == ["a (train)", "a (val)",
                                                                 "b (train)"]
    assert loss_ax.get_ylabel() == "loss"
    np.testing.assert_allclose(loss_ax.get_lines()[0].get_ydata(), history()["train_loss"])


def test_plot_thinned_predictions_has_a_panel_per_network():
    probs = np.full((3, 10), 0.1)
    fig = plot_thinned_predictions(np.zeros((1, 8, 8)), probs, probs[0], probs[0], label=4)
    assert len(fig.axes) == 1 + 3 + 2
    bars = fig.axes[1].patches
    assert len(bars) == 10
    assert bars[4].get_facecolor() != bars[0].get_facecolor()  # the true class stands out


def small_model():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 6, rng=rng), nn.ReLU(),
                         nn.Linear(6, 5, rng=rng), nn.ReLU(), nn.Linear(5, 3, rng=rng))


def test_layer_activations_returns_outputs_or_inputs_of_the_chosen_layers():
    model = small_model()
    x = np.random.default_rng(1).standard_normal((7, 4)).astype(np.float32)
    outputs = layer_activations(model, x, kind=nn.ReLU)
    inputs = layer_activations(model, x, kind=nn.ReLU, inputs=True)
    assert [o.shape for o in outputs] == [(7, 6), (7, 5)]
    np.testing.assert_allclose(outputs[0], np.maximum(inputs[0], 0))
    np.testing.assert_allclose(inputs[0], model[1](x))
    assert layer_activations(model, x, kind=nn.Dropout) == []


def test_plot_layer_histograms_grid_and_zero_share():
    layers = [np.array([0.0, 0.0, 1.0, 2.0]), np.array([0.0, 3.0, 3.0, 3.0])]
    fig = plot_layer_histograms({"a": layers, "b": layers}, bins=4, skip_zeros=True)
    assert len(fig.axes) == 4
    assert "50% zero" in fig.axes[0].get_title()
    assert "25% zero" in fig.axes[1].get_title()
    counts = fig.axes[0].patches[0].get_xy()[:, 1]  # the outline of the filled histogram
    assert counts.max() == 1  # the two zeros are left out: 1.0 and 2.0 remain, one per bin


def test_plot_percentiles_one_panel_per_track():
    steps = np.arange(4)
    tracks = {"x": np.tile([-1.0, 0.0, 1.0], (4, 1)), "y": np.zeros((4, 3))}
    fig = plot_percentiles(steps, tracks)
    assert len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), 0.0)


def test_failed_flags_nan_inf_and_chance_level():
    assert failed({"train_loss": [2.0, np.nan]}, CHANCE_LOSS)
    assert failed({"train_loss": [2.0, np.inf]}, CHANCE_LOSS)
    assert failed({"train_loss": [2.0, 2.4]}, CHANCE_LOSS)
    assert not failed({"train_loss": [2.0, 0.3]}, CHANCE_LOSS)


def sweep():
    diverged = history()
    diverged["train_loss"] = [3.0, np.nan, np.nan, np.nan, np.nan]
    return {"plain": {0.1: history(), 1.0: diverged}, "bn": {0.1: history(), 1.0: history()}}


def test_plot_lr_sweep_marks_failed_runs_and_clips_nan():
    fig = plot_lr_sweep(sweep(), lr=1.0)
    curves, finals = fig.axes
    plain = curves.get_lines()[0]
    assert "FAILED" in plain.get_label()
    assert np.all(np.isfinite(plain.get_ydata()))
    crosses = [line for line in finals.get_lines() if line.get_marker() == "x"]
    assert [len(line.get_xdata()) for line in crosses] == [1, 0]


def test_explorers_redraw_when_the_control_moves():
    explorer = lr_explorer(sweep(), lr=0.1)
    assert isinstance(explorer, Explorer)
    first = explorer.png
    assert first.startswith(b"\x89PNG")
    slider = explorer.children[0].children[0]
    slider.value = 1.0
    assert explorer.png != first
    assert "image/png" in explorer._repr_mimebundle_()


def test_dropout_explorer_thins_the_activations():
    histories = {0.0: history(), 0.5: history(start=1.5)}
    explorer = dropout_explorer(np.linspace(0, 1, 32), histories, p=0.0)
    first = explorer.png
    explorer.children[0].children[0].value = 0.5
    assert explorer.png != first


def test_histogram_explorer_calls_back_with_the_option():
    seen = []

    def rows_for(scale):
        seen.append(scale)
        return {"a": [np.arange(5.0) * scale]}

    explorer = histogram_explorer(rows_for, options=[1.0, 2.0], description="scale")
    explorer.children[0].children[0].value = 2.0
    assert seen == [1.0, 2.0]
