"""``python -m course.check_gpu``: it skips cleanly without a GPU, passes on one, covers every
kernel and op, and its harness (run here with the Numba kernels standing in for the GPU ones)
passes correct kernels and fails wrong ones."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from course import ops
from course.backend import gpu_available
from course.check_gpu import (
    check_gradients,
    check_kernels,
    check_op_on,
    check_training,
    kernel_cases,
    kernel_names,
    loss_cases,
    op_cases,
)
from course.gradcheck import GradientCheckError
from course.kernels import cpu

ROOT = Path(__file__).resolve().parents[1]


def run_check_gpu(*args):
    return subprocess.run([sys.executable, "-m", "course.check_gpu", *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=1200)


@pytest.mark.skipif(gpu_available(), reason="this machine has a GPU: nothing is skipped")
def test_without_a_gpu_it_says_so_and_exits_0():
    result = run_check_gpu()
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SKIPPED every GPU check: ")
    assert "CuPy" in result.stdout


@pytest.mark.gpu
def test_the_correctness_sections_pass_on_the_gpu():
    result = run_check_gpu("--no-bench")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout and "all checks PASSED" in result.stdout


def test_every_reference_kernel_has_inputs():
    assert {"conv2d_forward", "lstm_cell_backward"} <= set(kernel_names())
    for dtype in (np.float32, np.float64):
        assert set(kernel_cases(np.random.default_rng(0), dtype)) == set(kernel_names())


def test_every_op_and_loss_is_gradient_checked():
    rng = np.random.default_rng(0)
    forwards = {name.removesuffix("_forward") for name in dir(ops) if name.endswith("_forward")}
    assert {name for name, *_ in op_cases(rng)} == forwards
    losses = {name for name in dir(ops) if name.endswith("_loss")}
    assert {loss_fn.__name__ for loss_fn, *_ in loss_cases(rng)} == losses


def test_the_harness_passes_the_numba_kernels(capsys):
    assert check_kernels(cpu, "cpu")
    assert check_gradients("cpu")
    assert check_training("cpu", steps=2)
    out = capsys.readouterr().out
    rng = np.random.default_rng(0)
    checks = 2 * len(kernel_names()) + len(op_cases(rng)) + len(loss_cases(rng)) + 1
    assert out.count("PASS") == checks and "FAIL" not in out


def test_the_harness_fails_wrong_kernels(capsys):
    def off_by_a_little(x, w, b, stride, padding):
        return cpu.conv2d_forward(x, w, b, stride, padding) * x.dtype.type(1 + 1e-4)

    def raises(*args):
        raise IndexError("out of bounds")

    broken = SimpleNamespace(**{name: getattr(cpu, name) for name in kernel_names()})
    broken.conv2d_forward, broken.lstm_cell_backward = off_by_a_little, raises
    assert not check_kernels(broken, "cpu")
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert [line.split()[2:4] for line in failed] == [
        ["conv2d_forward", "float64"], ["lstm_cell_backward", "float64"],
        ["conv2d_forward", "float32"], ["lstm_cell_backward", "float32"]]
    assert "raised IndexError: out of bounds" in failed[1]


def test_the_device_gradient_check_catches_a_wrong_backward(rng):
    def backward_with_bug(dout, cache):
        dx, dw, db = ops.linear_backward(dout, cache)
        return dx, dw * 1.01, db

    inputs = [rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)]
    with pytest.raises(GradientCheckError, match="gradient of 'w' is wrong"):
        check_op_on("cpu", ops.linear_forward, backward_with_bug, inputs)
