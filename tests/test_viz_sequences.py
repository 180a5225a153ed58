"""Figures and widgets of lectures 7-8 (course.viz.sequences), run headless."""

import base64

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from course.data.captions import decode, shape_vocabulary  # noqa: E402
from course.models.captioning import CaptioningModel  # noqa: E402
from course.viz import sequences  # noqa: E402

pytestmark = pytest.mark.rnn


@pytest.fixture(scope="module")
def captioner():
    word_to_idx, idx_to_word = shape_vocabulary()
    model = CaptioningModel(word_to_idx, wordvec_dim=8, hidden_dim=16, encoder="mlp",
                            encoder_dim=16, rng=0)
    images = np.random.default_rng(0).uniform(size=(3, 3, 32, 32)).astype(np.float32)
    return model, images, idx_to_word


def _png(explorer):
    return base64.b64decode(explorer._repr_mimebundle_()["image/png"])


@pytest.mark.parametrize("steps", [1, 4])
def test_plot_unrolled_rnn_draws_one_cell_per_step(steps):
    fig = sequences.plot_unrolled_rnn(steps)
    assert isinstance(fig, Figure)
    labels = [text.get_text() for text in fig.axes[1].texts]
    assert f"$h_{steps}$" in labels and f"$h_{steps + 1}$" not in labels


def test_plot_gradient_norms_draws_one_line_per_model_on_a_log_scale():
    norms = {"rnn": np.logspace(-10, 0, 30), "lstm": np.ones(30)}
    fig = sequences.plot_gradient_norms(norms)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == ["rnn", "lstm"]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), norms["rnn"])


def test_plot_gates_shows_the_four_gate_blocks():
    steps, hidden = 7, 5
    gates = np.concatenate([np.full((steps, hidden), k / 4) for k in range(4)], axis=1)
    fig = sequences.plot_gates(gates, labels="abc def", units=3)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 4
    for k, image in enumerate(images):  # units x time, the k-th gate block
        assert image.get_array().shape == (3, steps)
        np.testing.assert_allclose(image.get_array(), k / 4)


def test_plot_gates_rejects_a_width_that_is_not_four_blocks():
    with pytest.raises(ValueError, match=r"gates must be \(T, 4H\)"):
        sequences.plot_gates(np.zeros((5, 6)))


def test_plot_temperature_sorts_the_bars_by_probability():
    probs = np.array([0.1, 0.6, 0.3])
    fig = sequences.plot_temperature(probs, ["a", " ", "\n"], "sampled text", 0.5, top=2)
    bar_ax = fig.axes[0]
    assert [p.get_height() for p in bar_ax.patches] == [0.6, 0.3]
    assert [t.get_text() for t in bar_ax.get_xticklabels()] == ["space", "\\n"]


def test_temperature_explorer_resamples_when_the_slider_moves():
    calls = []

    def sample(temperature, seed):
        calls.append((temperature, seed))
        return np.array([0.5, 0.5]), ["a", "b"], "ab" * 10

    explorer = sequences.temperature_explorer(sample, temperature=0.7)
    assert calls == [(0.7, 0)] and _png(explorer).startswith(b"\x89PNG")
    explorer.children[0].children[0].value = 1.5
    assert calls[-1] == (1.5, 0)


def test_plot_captions_writes_every_caption_under_its_image():
    images = np.random.default_rng(0).uniform(size=(3, 3, 8, 8))
    fig = sequences.plot_captions(images, {"greedy": ["x", "y", "z"], "true": ["u", "v", "w"]},
                                  ncols=2)
    assert len(fig.axes) == 4
    assert fig.axes[1].get_xlabel() == "greedy: y\ntrue: v"
    assert not fig.axes[3].axison  # the empty slot


def test_caption_steps_follow_greedy_decoding(captioner):
    model, images, idx_to_word = captioner
    greedy = decode(model.sample(images, max_length=6), idx_to_word)
    for image, caption in zip(images, greedy, strict=True):
        steps = sequences.caption_steps(model, image, idx_to_word, k=4, max_length=6)
        chosen = [words[0] for words, _ in steps]
        assert " ".join(w for w in chosen if w != "<END>") == caption
        for words, probs in steps:
            assert len(words) == 4 and np.all(np.diff(probs) <= 0) and probs.sum() <= 1 + 1e-6


def test_plot_word_probabilities_draws_one_chart_per_step(captioner):
    model, images, idx_to_word = captioner
    steps = sequences.caption_steps(model, images[0], idx_to_word, k=3, max_length=8)
    fig = sequences.plot_word_probabilities(images[0], steps, title="a true caption", ncols=3)
    assert len(fig.axes) == 1 + len(steps)
    assert fig.axes[0].get_title() == "a true caption"


def test_caption_explorer_redraws_for_another_image(captioner):
    model, images, idx_to_word = captioner
    explorer = sequences.caption_explorer(model, images, idx_to_word, titles=["a", "b", "c"])
    first = _png(explorer)
    assert first.startswith(b"\x89PNG")
    explorer.children[0].children[0].value = 2
    assert _png(explorer) != first
