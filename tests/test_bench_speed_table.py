"""``benchmarks/speed_table.py``: one row per case of the CPU speed issue, with its target, and
a table that says which rows missed their target in any run."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import speed_table  # noqa: E402

from course.roofline import CONV_LAYERS  # noqa: E402

pytestmark = pytest.mark.conv


def test_the_rows_are_the_conv_layers_pool_norm_lstm_and_lenet_step():
    torch = pytest.importorskip("torch")
    rows = speed_table.cases(torch)
    labels = [label for label, _, _ in rows]
    assert len(rows) == len(CONV_LAYERS) + 4
    assert labels[len(CONV_LAYERS):] == [
        "max-pool 2x2, 64x32x32x32", "spatial batch norm, 64x32x32x32",
        "LSTM N64 T16 D128 H256", "LeNet-5 training step, batch 128, SGD momentum"]
    targets = [target for _, target, _ in rows]
    assert targets == [1.2] * len(CONV_LAYERS) + [1.0, 1.0, 1.2, 1.2]
    assert all(set(steps) == {"course", "torch"} for _, _, steps in rows)


def test_a_row_is_met_only_if_every_run_is_within_its_target(capsys):
    rows = [("fast", 1.2, {}), ("once slow", 1.2, {}), ("memory-bound", 1.0, {})]
    runs = [[(1.0, 1.0), (1.0, 1.0), (0.9, 1.0)],
            [(1.1, 1.0), (1.3, 1.0), (1.05, 1.0)]]
    assert speed_table.print_runs(rows, runs) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[-3:] == ["1.00-1.10x", "1.2x", "yes"]
    assert lines[2].split()[-3:] == ["1.00-1.30x", "1.2x", "NO"]
    assert lines[3].split()[-3:] == ["0.90-1.05x", "1.0x", "NO"]
