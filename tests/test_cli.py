"""The ``course`` command: the tour trains to the promised accuracy; doctor reports."""

import os
import subprocess
import sys

import pytest

from course import tour
from course.backend import gpu_available
from course.cli import main
from course.doctor import report


def test_tour_mlp_reaches_97_percent(tmp_path, capsys):
    assert main(["tour", "--models", "mlp", "--out", str(tmp_path)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("mlp:")][0]
    accuracy = float(line.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0
    for name in ("best.npz", "last.npz", "loss_curve.png", "confusion_matrix.png"):
        assert (tmp_path / "mlp" / name).stat().st_size > 0


@pytest.mark.skipif(gpu_available(), reason="checks the message shown without a GPU")
@pytest.mark.parametrize("step", list(tour.STEPS))
def test_tour_on_cuda_without_a_gpu_fails_before_training(tmp_path, monkeypatch, step):
    # --device reaches the training of every step: no silent training on the CPU
    def evaluation_reached(*args, **kwargs):
        raise AssertionError(f"{step} trained on the CPU although --device cuda was asked for")

    monkeypatch.setattr(tour, "predict", evaluation_reached)
    monkeypatch.setattr(tour, "caption_bleu", evaluation_reached)
    with pytest.raises(RuntimeError, match="CuPy is not installed|no CUDA device"):
        main(["tour", "--models", step, "--device", "cuda", "--out", str(tmp_path)])
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_unknown_tour_step_is_an_error(tmp_path):
    try:
        main(["tour", "--models", "nope", "--out", str(tmp_path)])
    except ValueError as error:
        assert "unknown tour step" in str(error)
    else:
        raise AssertionError("an unknown step must fail")


def test_doctor_reports_the_environment():
    lines = report()
    assert lines[0].startswith("python") and any(x.startswith("numba") for x in lines)
    assert any(x.startswith("cupy") for x in lines)
    (blas,) = [x for x in lines if x.startswith("openblas")]
    assert "OPENBLAS_THREAD_TIMEOUT=" in blas


def test_import_course_before_numpy_sets_the_openblas_thread_timeout():
    """In a fresh process with the variable unset, ``import course`` sets it (numpy not yet
    loaded); importing numpy first leaves it unset, and doctor says so."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    code = ("import {first}, os; import course.doctor; "
            "print(os.environ.get('OPENBLAS_THREAD_TIMEOUT')); print(course.doctor.report()[3])")
    course_first = subprocess.run([sys.executable, "-c", code.format(first="course")], env=env,
                                  capture_output=True, text=True, check=True).stdout.splitlines()
    numpy_first = subprocess.run([sys.executable, "-c", code.format(first="numpy")], env=env,
                                 capture_output=True, text=True, check=True).stdout.splitlines()
    assert course_first == ["20", "openblas    OPENBLAS_THREAD_TIMEOUT=20"]
    assert numpy_first[0] == "None" and "numpy was imported before course" in numpy_first[1]


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "course", "doctor"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "numpy" in result.stdout


def test_tour_help_names_every_step(capsys):
    with pytest.raises(SystemExit):
        main(["tour", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for step in tour.STEPS:
        assert step in help_text


def test_doctor_and_grade_run_without_matplotlib_and_tour_says_what_is_missing():
    # a library-only install (pip install course) has no matplotlib
    script = ("import sys; sys.modules['matplotlib'] = None\n"
              "from course.cli import main\n"
              "main(['doctor']); main(['grade', '--help'])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0 and "numba" in done.stdout.lower(), done.stderr
    script = ("import sys; sys.modules['matplotlib'] = None\n"
              "from course.cli import main\nmain(['tour', '--models', 'mlp'])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 2 and "course[lectures]" in done.stderr, done.stderr
