"""``python -m course.check_gpu``: it skips cleanly without a GPU, passes on one, covers every
kernel and op, its harness (run here with the Numba kernels standing in for the GPU ones)
passes correct kernels and fails wrong ones, and the record of a run (``--record``) round-trips
through JSON with the fields that lecture 9 reads."""

import contextlib
import io
import json
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
    check_kernels,
    check_op_on,
    kernel_cases,
    kernel_names,
    loss_cases,
    op_cases,
    passed,
    read_record,
    run_sections,
    write_record,
)
from course.gradcheck import GradientCheckError
from course.kernels import cpu
from course.roofline import CONV_LAYERS, conv_flops

ROOT = Path(__file__).resolve().parents[1]


def run_check_gpu(*args):
    return subprocess.run([sys.executable, "-m", "course.check_gpu", *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=1200)


@pytest.fixture(scope="module")
def cpu_run():
    """Every section, the speed section cut short (one small conv layer, two LeNet-5 steps, one
    timed repeat), with the Numba kernels and the CPU standing in for the GPU: (record, output)."""
    output = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(output):
        patch.syspath_prepend(str(ROOT))  # the speed section imports benchmarks/ from there
        record = run_sections(cpu, "cpu", steps=2, repeats=1, layers=CONV_LAYERS[2:3],
                              rounds=1)
    return record, output.getvalue()


@pytest.mark.skipif(gpu_available(), reason="this machine has a GPU: nothing is skipped")
def test_without_a_gpu_it_says_so_exits_0_and_records_nothing(tmp_path):
    result = run_check_gpu("--record", str(tmp_path / "run.json"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SKIPPED every GPU check: ")
    assert "CuPy" in result.stdout
    assert not (tmp_path / "run.json").exists()


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


def test_the_harness_passes_the_numba_kernels(cpu_run):
    record, out = cpu_run
    rng = np.random.default_rng(0)
    checks = 2 * len(kernel_names()) + len(op_cases(rng)) + len(loss_cases(rng)) + 1
    assert out.count("PASS") == checks and "FAIL" not in out
    assert len(record["checks"]) == checks and passed(record["checks"])
    assert "== 4. speed" in out and "LeNet-5 training, batch 64, GPU:" in out


def test_the_record_round_trips_through_json_with_the_fields_lecture_9_reads(cpu_run, tmp_path):
    record, _ = cpu_run
    path = tmp_path / "data" / "09_gpu_run.json"
    write_record(path, record)
    assert path.stat().st_size < 20_000
    assert read_record(path) == json.loads(json.dumps(record)) == record
    assert {"gpu", "date", "cuda_runtime", "cupy", "checks", "lenet5_losses", "matmul_gflops",
            "copy_gbps", "conv", "lenet5_images_per_s", "lstm_sequences_per_s",
            "lstm_shape"} == set(record)
    assert record["cuda_runtime"] is None and record["cupy"] is None  # no GPU ran this
    assert set(record["checks"][0]) == {"label", "ok", "detail"}
    assert [len(record["lenet5_losses"][key]) for key in ("cpu", "gpu")] == [2, 2]
    assert record["matmul_gflops"] > 0 and record["copy_gbps"] > 0
    (row,) = record["conv"]
    assert row["layer"] == CONV_LAYERS[2][0] and row["flops"] == conv_flops(*CONV_LAYERS[2][1:])
    assert row["course_ms"] > 0 and row["torch_ms"] > 0  # torch CPU is installed here
    for key in ("lenet5_images_per_s", "lstm_sequences_per_s"):
        assert set(record[key]) == {"cpu", "gpu"} and min(record[key].values()) > 0
    assert record["lstm_shape"] == [64, 16, 128, 256]


def test_there_is_no_record_of_a_run_that_did_not_happen(tmp_path):
    assert read_record(tmp_path / "09_gpu_run.json") is None


def test_the_harness_fails_wrong_kernels(capsys):
    def off_by_a_little(x, w, b, stride, padding):
        return cpu.conv2d_forward(x, w, b, stride, padding) * x.dtype.type(1 + 1e-4)

    def raises(*args):
        raise IndexError("out of bounds")

    broken = SimpleNamespace(**{name: getattr(cpu, name) for name in kernel_names()})
    broken.conv2d_forward, broken.lstm_cell_backward = off_by_a_little, raises
    assert not passed(check_kernels(broken, "cpu"))
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
