"""``benchmarks/bench_conv.py``: its numpy baselines compute what the library computes (so the
table compares equal work), and its timing keeps each library's fastest round."""

import sys
from pathlib import Path

import numpy as np
import pytest

from course import ops

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_conv  # noqa: E402

pytestmark = pytest.mark.conv


@pytest.mark.parametrize("stride, padding", [(1, 1), (2, 1), (2, 0), (3, 2)])
def test_the_numpy_baseline_gives_the_library_s_output_and_gradients(stride, padding):
    x, w, b = bench_conv.conv_inputs(np, 3, 4, 5, 9, 3)
    x, w, b = (a.astype(np.float64) for a in (x, w, b))
    out, cache = ops.conv2d_forward(x, w, b, stride, padding)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    dx, dw, db = ops.conv2d_backward(dout, cache)

    base_out, cols = bench_conv.numpy_conv_forward(x, w, b, stride, padding)
    base_dx, base_dw, base_db = bench_conv.numpy_conv_backward(dout, x, w, cols, stride, padding)
    for ours, base in [(out, base_out), (dx, base_dx), (dw, base_dw), (db, base_db)]:
        np.testing.assert_allclose(base, ours, rtol=1e-10, atol=1e-12)


def test_the_numpy_max_pool_baseline_gives_the_library_s_output_and_gradient():
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 6))
    x[0, 0, :2, :2] = 1.5  # a tie: the gradient goes to the first maximum only
    out, cache = ops.max_pool2d_forward(x, 2)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    base_out, base_dx = bench_conv.numpy_max_pool(x, dout)
    np.testing.assert_array_equal(base_out, out)
    np.testing.assert_array_equal(base_dx, ops.max_pool2d_backward(dout, cache))


def test_race_keeps_each_candidate_s_fastest_round(monkeypatch):
    """Each call advances a fake clock by the candidate's next duration; a round's time is the
    median of its ``repeats`` calls after the warm-up call."""
    now = [0.0]
    monkeypatch.setattr(bench_conv, "CLOCK", lambda: now[0])
    monkeypatch.setattr(bench_conv, "WARMUP_S", 0)

    def candidate(durations):
        durations = iter(durations)

        def call():
            now[0] += next(durations)
        return call

    # rounds of (warm-up, 3 timed calls): medians 5, 2, 4 and 3, 9, 1
    fast_second = candidate([99, 5, 5, 6, 99, 1, 2, 2, 99, 4, 4, 4])
    fast_third = candidate([99, 3, 3, 3, 99, 9, 9, 9, 99, 1, 1, 7])
    best = bench_conv.race({"a": fast_second, "b": fast_third}, rounds=3, repeats=3)
    assert best == {"a": 2, "b": 1}


def test_the_machine_description_names_the_costs_of_a_hand_off_and_a_page_fault(monkeypatch):
    monkeypatch.setattr(bench_conv, "handoff_us", lambda: 103.4)
    monkeypatch.setattr(bench_conv, "page_fault_us", lambda: 5.46)
    assert ("a hand-off to a waiting thread and back: 103 us (median)   "
            "a page fault: 5.5 us a 4 KiB page (median)") in bench_conv.describe_machine()


def test_a_hand_off_and_a_page_fault_take_a_measurable_time_under_a_second():
    for measured in (bench_conv.handoff_us(rounds=20), bench_conv.page_fault_us(pages=64)):
        assert 0 < measured < 1e6
