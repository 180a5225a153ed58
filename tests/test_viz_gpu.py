"""Figures and the widget of lecture 9 (course.viz.gpu), run headless on a small fake record of a
GPU run (the fields that ``python -m course.check_gpu --record`` writes)."""

import base64

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course.check_gpu import LOSS_STEPS_COMPARED, LOSS_TOLERANCE  # noqa: E402
from course.roofline import CONV_LAYERS, conv_flops, conv_intensity  # noqa: E402
from course.viz import gpu as vg  # noqa: E402

CPU = (100.0, 20.0)  # peak GFLOP/s, bandwidth GB/s: ridge at 5 FLOP/byte
GPU = (40_000.0, 4_000.0)  # ridge at 10 FLOP/byte


@pytest.fixture
def record():
    """A made-up record: two measured layers, three LeNet-5 steps."""
    return {
        "gpu": "Fake GPU", "date": "2025-01-01T00:00:00+00:00", "cuda_runtime": "12.8",
        "cupy": "13.6.0", "checks": [{"label": "kernel conv2d_forward float32", "ok": True,
                                      "detail": "rel error 1.0e-07"}],
        "lenet5_losses": {"cpu": [2.3, 2.1, 1.9], "gpu": [2.3, 2.1000001, 1.9002]},
        "matmul_gflops": GPU[0], "copy_gbps": GPU[1],
        "conv": [{"layer": layer[0], "flops": conv_flops(*layer[1:]), "course_ms": ms,
                  "torch_ms": None} for layer, ms in zip(CONV_LAYERS[:2], (0.5, 0.25),
                                                         strict=True)],
        "lenet5_images_per_s": {"cpu": 2000.0, "gpu": 50_000.0},
        "lstm_sequences_per_s": {"cpu": 150.0, "gpu": 6000.0},
        "lstm_shape": [64, 16, 128, 256],
    }


def _lines(fig, label_start):
    return [line for line in fig.axes[0].get_lines() if line.get_label().startswith(label_start)]


def test_recorded_roofline_reads_the_gpu_roof_and_its_measured_layers(record):
    machines, achieved = vg.recorded_roofline(record)
    assert machines == {"Fake GPU": GPU}
    first, second = CONV_LAYERS[0], CONV_LAYERS[1]
    assert achieved == {"Fake GPU": {first[0]: conv_flops(*first[1:]) / 0.5e6,
                                     second[0]: conv_flops(*second[1:]) / 0.25e6}}


def test_the_roofline_has_a_roof_per_machine_a_line_per_layer_and_the_measured_points(record):
    machines, achieved = vg.recorded_roofline(record)
    machines = {"CPU": CPU, **machines}
    achieved["CPU"] = {CONV_LAYERS[4][0]: 30.0}
    fig = vg.plot_roofline(machines, CONV_LAYERS, achieved)
    for name, (peak, bandwidth) in machines.items():
        (roof,) = _lines(fig, f"{name} roof")
        x, y = roof.get_data()
        np.testing.assert_allclose(y, np.minimum(peak, bandwidth * x))
        assert y.max() == peak
    intensities = [conv_intensity(*layer[1:]) for layer in CONV_LAYERS]
    verticals = [line.get_xdata()[0] for line in fig.axes[0].get_lines()
                 if line.get_linestyle() == ":"]
    np.testing.assert_allclose(verticals, intensities)
    assert [text.get_text() for text in fig.axes[0].texts] == ["1", "2", "3", "4", "5"]
    (gpu_points,) = _lines(fig, "Fake GPU: measured")
    np.testing.assert_allclose(gpu_points.get_xdata(), intensities[:2])
    np.testing.assert_allclose(gpu_points.get_ydata(),
                               list(achieved["Fake GPU"].values()))
    (cpu_points,) = _lines(fig, "CPU: measured")
    assert list(cpu_points.get_data()[1]) == [30.0]


def test_counting_the_im2col_columns_moves_the_layers_to_the_left():
    ideal = vg.plot_roofline({"CPU": CPU}, CONV_LAYERS[:1])
    im2col = vg.plot_roofline({"CPU": CPU}, CONV_LAYERS[:1], im2col=True)
    assert (_vertical(im2col) == conv_intensity(*CONV_LAYERS[0][1:], im2col=True)
            < _vertical(ideal))


def _vertical(fig):
    (line,) = [line for line in fig.axes[0].get_lines() if line.get_linestyle() == ":"]
    return line.get_xdata()[0]


def test_a_layer_on_the_roofline_says_where_it_is_compute_or_bandwidth_bound():
    layer = CONV_LAYERS[0]  # about 12 FLOP/byte: right of the CPU's ridge, left of this GPU's
    intensity = conv_intensity(*layer[1:])
    assert 5 < intensity < 40
    fig = vg.plot_layer_on_roofline({"CPU": CPU, "GPU": (40_000.0, 1_000.0)}, layer)
    title = fig.axes[0].get_title()
    assert "CPU: compute-bound, at most 100 GFLOP/s (100% of its peak)" in title
    assert f"GPU: bandwidth-bound, at most {1000 * intensity:,.0f} GFLOP/s" in title
    stars = [line for line in fig.axes[0].get_lines() if line.get_marker() == "*"]
    assert [float(star.get_ydata()[0]) for star in stars] == pytest.approx(
        [100.0, 1000 * intensity])


def test_the_explorer_moves_the_layer_when_a_slider_moves():
    explorer = vg.roofline_explorer({"CPU": CPU, "GPU": GPU}, batch=64, channels=32)
    batch, channels, im2col = explorer.children[0].children
    first = explorer.png
    assert first.startswith(b"\x89PNG")
    channels.value = 256
    assert explorer.png != first
    im2col.value = True
    batch.value = 1
    assert base64.b64decode(explorer._repr_mimebundle_()["image/png"]) == explorer.png


def test_the_training_speed_figure_shows_the_recorded_throughputs(record):
    fig = vg.plot_training_speed(record)
    lenet, lstm = fig.axes
    assert [bar.get_height() for bar in lenet.patches] == [2000.0, 50_000.0]
    assert [bar.get_height() for bar in lstm.patches] == [150.0, 6000.0]
    assert "GPU 25.0x the CPU" in lenet.get_title() and "GPU 40.0x" in lstm.get_title()
    assert "N64 T16 D128 H256" in lstm.get_title()


def test_the_loss_figure_draws_both_recorded_curves_and_their_difference(record):
    fig = vg.plot_recorded_losses(record)
    losses, diff = fig.axes
    cpu, gpu = (line.get_ydata() for line in losses.get_lines())
    np.testing.assert_array_equal(cpu, record["lenet5_losses"]["cpu"])
    np.testing.assert_array_equal(gpu, record["lenet5_losses"]["gpu"])
    drawn, expected = diff.get_lines()[0].get_ydata(), np.abs(cpu - gpu)
    assert np.isnan(drawn[0])  # equal losses: nothing to draw on a log axis
    np.testing.assert_allclose(drawn[1:], expected[1:])
    (tolerance,) = diff.collections
    np.testing.assert_allclose(tolerance.get_segments()[0], [[0, LOSS_TOLERANCE],
                                                             [LOSS_STEPS_COMPARED - 1,
                                                              LOSS_TOLERANCE]])
