"""Figures and the widget of the GPU lecture (lecture 9): the roofline, and the recorded GPU run.

Every ``plot_*`` function draws a new figure and returns it; ``roofline_explorer`` returns a
:class:`course.viz.widgets.Explorer`. A *machine* is an entry ``name: (peak GFLOP/s, bandwidth
GB/s)`` of a dict; a *layer* is an entry of ``course.roofline.CONV_LAYERS``, ``(label, N, C, F,
size, k, stride, padding)``. A *record* is the dict that ``python -m course.check_gpu --record``
writes and ``course.check_gpu.read_record`` reads back.
"""

import matplotlib.pyplot as plt
import numpy as np
from ipywidgets import widgets

from course.check_gpu import LOSS_STEPS_COMPARED, LOSS_TOLERANCE
from course.roofline import CONV_LAYERS, attainable_gflops, bound_by, conv_intensity
from course.viz.widgets import Explorer

INTENSITIES = np.logspace(-1, 3, 200)  # FLOP/byte: the x range of every roofline
POWERS_OF_TWO = [2 ** i for i in range(10)]  # the explorer's batch sizes and channel counts


def recorded_roofline(record):
    """The recorded GPU as a machine, and the speed of its conv layers (lecture 9).

    Returns ``({gpu name: (peak, bandwidth)}, {gpu name: {layer label: GFLOP/s}})``, the
    ``machines`` and ``achieved`` arguments of ``plot_roofline``.
    """
    name = record["gpu"]
    achieved = {row["layer"]: row["flops"] / row["course_ms"] / 1e6 for row in record["conv"]}
    return {name: (record["matmul_gflops"], record["copy_gbps"])}, {name: achieved}


def plot_roofline(machines, layers=CONV_LAYERS, achieved=None, im2col=False):
    """Each machine's roof ``min(peak, bandwidth * I)`` on log-log axes, and a dotted line at
    each layer's arithmetic intensity I, numbered in ``layers`` order (lecture 9).

    ``achieved``: ``{machine name: {layer label: GFLOP/s}}``, measured speeds, drawn as dots on
    their layer's line (machines and layers missing from it are not drawn). ``im2col=True``
    counts the im2col columns in the bytes moved (``course.roofline.conv_bytes``).
    """
    intensities = [conv_intensity(*layer[1:], im2col=im2col) for layer in layers]
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for number, intensity in enumerate(intensities, 1):
        ax.axvline(intensity, color="0.6", ls=":", lw=1)
        ax.text(intensity, 1.01, str(number), transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=8)
    for index, (name, (peak, bandwidth)) in enumerate(machines.items()):
        ax.plot(INTENSITIES, attainable_gflops(INTENSITIES, peak, bandwidth), color=f"C{index}",
                label=f"{name} roof: {peak:,.0f} GFLOP/s, {bandwidth:,.0f} GB/s")
        measured = (achieved or {}).get(name, {})
        points = [(intensity, measured[layer[0]])
                  for layer, intensity in zip(layers, intensities, strict=True)
                  if layer[0] in measured]
        if points:
            ax.plot(*zip(*points, strict=True), "o", color=f"C{index}",
                    label=f"{name}: measured")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("GFLOP/s")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_layer_on_roofline(machines, layer, im2col=False):
    """One layer on every machine's roof (lecture 9): a star where it can run at best, and a
    title that says whether it is compute-bound or bandwidth-bound there."""
    intensity = conv_intensity(*layer[1:], im2col=im2col)
    fig = plot_roofline(machines, [layer], im2col=im2col)
    ax = fig.axes[0]
    lines = [f"{layer[0]}: {intensity:.1f} FLOP/byte"]
    for index, (name, (peak, bandwidth)) in enumerate(machines.items()):
        best = float(attainable_gflops(intensity, peak, bandwidth))
        ax.plot(intensity, best, "*", ms=14, color=f"C{index}")
        lines.append(f"{name}: {bound_by(intensity, peak, bandwidth)}-bound, at most "
                     f"{best:,.0f} GFLOP/s ({best / peak:.0%} of its peak)")
    ax.set_title("\n".join(lines), fontsize=9, pad=14)
    fig.tight_layout()
    return fig


def roofline_explorer(machines, batch=64, channels=32, size=16, kernel=3):
    """Sliders over a 3x3 (``kernel``) conv layer's batch size and channel count, C in = F out,
    that move it along the roofs of ``machines`` (lecture 9), and a box that counts the im2col
    columns in its memory traffic."""
    batch_slider = widgets.SelectionSlider(options=POWERS_OF_TWO, value=batch,
                                           description="batch N")
    channel_slider = widgets.SelectionSlider(options=POWERS_OF_TWO, value=channels,
                                             description="channels")
    im2col_box = widgets.Checkbox(value=False, description="count im2col's columns")

    def draw():
        n, c, padding = batch_slider.value, channel_slider.value, kernel // 2
        layer = (f"N{n} C{c}->{c} {size}x{size} k{kernel} p{padding}", n, c, c, size, kernel, 1,
                 padding)
        return plot_layer_on_roofline(machines, layer, im2col_box.value)

    return Explorer([batch_slider, channel_slider, im2col_box], draw)


def plot_training_speed(record):
    """Training throughput of the recorded run, Numba CPU against GPU on the same machine
    (lecture 9): LeNet-5 images/s and LSTM sequences/s, with the GPU's speed-up."""
    n, t, d, h = record["lstm_shape"]
    panels = [("lenet5_images_per_s", "LeNet-5 training, batch 64", "images/s"),
              ("lstm_sequences_per_s", f"LSTM N{n} T{t} D{d} H{h}, forward + backward",
               "sequences/s")]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, (key, title, unit) in zip(axes, panels, strict=True):
        cpu, gpu = record[key]["cpu"], record[key]["gpu"]
        bars = ax.bar(["Numba CPU", f"GPU ({record['gpu']})"], [cpu, gpu], color=["C0", "C1"])
        ax.bar_label(bars, fmt="{:,.0f}", fontsize=8)
        ax.set_title(f"{title}: GPU {gpu / cpu:.1f}x the CPU", fontsize=9)
        ax.set_ylabel(unit)
    fig.tight_layout()
    return fig


def plot_recorded_losses(record):
    """LeNet-5's per-step training losses in the recorded run, CPU and GPU from one seed, and
    their difference against the tolerance that ``course.check_gpu`` allows (lecture 9)."""
    cpu, gpu = (np.array(record["lenet5_losses"][key]) for key in ("cpu", "gpu"))
    diff = np.abs(cpu - gpu)
    fig, (ax_loss, ax_diff) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax_loss.plot(cpu, label="Numba CPU")
    ax_loss.plot(gpu, "--", label="GPU")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.legend()
    ax_diff.plot(np.where(diff > 0, diff, np.nan), "o-", color="C2", label="|CPU - GPU|")
    ax_diff.hlines(LOSS_TOLERANCE, 0, LOSS_STEPS_COMPARED - 1, color="C3", ls="--",
                   label=f"tolerance on the first {LOSS_STEPS_COMPARED} steps")
    ax_diff.set_yscale("log")
    ax_diff.set_xlabel("step")
    ax_diff.set_ylabel("loss difference")
    ax_diff.legend(fontsize=8)
    fig.tight_layout()
    return fig
