"""The ``course`` command: the tour trains to the promised accuracy; doctor reports."""

import subprocess
import sys

from course.cli import main
from course.doctor import report


def test_tour_mlp_reaches_97_percent(tmp_path, capsys):
    assert main(["tour", "--models", "mlp", "--out", str(tmp_path)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith("mlp:")][0]
    accuracy = float(line.split("test accuracy ")[1].split("%")[0])
    assert accuracy >= 97.0
    for name in ("best.npz", "last.npz", "loss_curve.png", "confusion_matrix.png"):
        assert (tmp_path / "mlp" / name).stat().st_size > 0


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


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "course", "doctor"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "numpy" in result.stdout
