"""``benchmarks/bench_activations.py``: every activation with kernels has its line, each line's
PyTorch function computes what the op computes (so the table compares equal work), and the
script prints its table."""

import contextlib
import io
import sys
from pathlib import Path

import numpy as np
import pytest

from course.kernels.reference import activations as reference_activations

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_activations  # noqa: E402

pytestmark = pytest.mark.dense

KERNEL_ACTIVATIONS = sorted(name.removesuffix("_forward") for name in vars(reference_activations)
                            if name.endswith("_forward"))


def test_every_activation_with_kernels_has_a_benchmark_line():
    assert "gelu" in KERNEL_ACTIVATIONS
    assert sorted(bench_activations.ACTIVATIONS) == KERNEL_ACTIVATIONS


@pytest.mark.parametrize("name", KERNEL_ACTIVATIONS)
def test_the_pytorch_line_computes_the_op(rng, name):
    x, dout = rng.standard_normal((5, 7)) * 3, rng.standard_normal((5, 7))
    for ours, theirs in zip(bench_activations.course_pass(name, x, dout),
                            bench_activations.torch_pass(name, x, dout), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_the_script_prints_one_row_per_activation_and_version(numba_threads):
    import torch

    torch_threads = torch.get_num_threads()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        bench_activations.main(["--size", "1000", "--repeats", "1", "--threads", "1"])
    torch.set_num_threads(torch_threads)
    rows = [line for line in output.getvalue().splitlines() if line.startswith("| ")][2:]
    assert len(rows) == 3 * len(KERNEL_ACTIVATIONS)
    assert all(row.endswith("x |") for row in rows)
