"""The roofline arithmetic of lecture 9 (course.roofline): counts by hand, the roof, the timer."""

import time

import numpy as np
import pytest

from course import roofline


def test_conv_flops_and_bytes_match_a_count_by_hand():
    # N=2, C=3, F=4, 5x5, k=3, padding 1: a 5x5 output; x 150 values, w 108, out 200, b 4
    assert roofline.conv_flops(2, 3, 4, 5, 3, 1, 1) == 3 * 2 * (2 * 4 * 5 * 5) * (3 * 3 * 3)
    forward, data_gradient, weight_gradient = 150 + 108 + 4 + 200, 200 + 108 + 150, 200 + 150 + 112
    assert roofline.conv_bytes(2, 3, 4, 5, 3, 1, 1) == 4 * (
        forward + data_gradient + weight_gradient)
    columns = (3 * 3 * 3) * (2 * 5 * 5)  # written and read back by each of the three passes
    assert (roofline.conv_bytes(2, 3, 4, 5, 3, 1, 1, im2col=True, itemsize=8)
            == 2 * roofline.conv_bytes(2, 3, 4, 5, 3, 1, 1) + 8 * 6 * columns)
    assert roofline.conv_intensity(2, 3, 4, 5, 3, 1, 1) == pytest.approx(
        roofline.conv_flops(2, 3, 4, 5, 3, 1, 1) / roofline.conv_bytes(2, 3, 4, 5, 3, 1, 1))


def test_more_channels_mean_more_intensity():
    intensities = [roofline.conv_intensity(64, c, c, 16, 3, 1, 1) for c in (1, 4, 16, 64)]
    assert intensities == sorted(intensities)


def test_the_roof_is_the_bandwidth_slope_then_the_peak():
    np.testing.assert_allclose(roofline.attainable_gflops([1, 5, 10, 100], 100.0, 20.0),
                               [20, 100, 100, 100])
    assert roofline.bound_by(4.9, 100.0, 20.0) == "bandwidth"
    assert roofline.bound_by(5.0, 100.0, 20.0) == "compute"


def test_median_time_warms_up_then_syncs_around_every_timed_call():
    events = []
    ticks = iter(range(100))
    seconds = roofline.median_time(lambda: events.append("call"), repeats=3, warmup=2,
                                   sync=lambda: events.append("sync"),
                                   clock=lambda: next(ticks))
    assert events == ["call", "call", "sync"] + ["call", "sync"] * 3
    assert seconds == 1


def test_median_time_keeps_warming_up_until_warmup_s_have_passed():
    calls = []
    start = time.perf_counter()
    roofline.median_time(lambda: calls.append(time.perf_counter()), repeats=1, warmup=1,
                         warmup_s=0.05)
    assert calls[-1] - start >= 0.05  # the timed call came after 0.05 s of warm-up
    assert len(calls) > 3


def test_the_two_limits_are_measured_on_numpy_arrays():
    assert roofline.matmul_gflops(np, repeats=1, size=64) > 0
    assert roofline.copy_gbps(np, repeats=1, nbytes=2 ** 20) > 0
