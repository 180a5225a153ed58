"""The student's own library (course.mine) and ``use("mine")``: export, reload, dispatch."""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import numpy as np
import pytest

import course.mine
from course import nn, ops, optim
from course.backend import use
from course.data import DataLoader
from course.train import Trainer

STUDENT = '''
import numpy as np

def _positive(x):
    return x > 0


def relu_forward(x):
    return np.maximum(x, 0).astype(np.float64), x


def relu_backward(dout, cache):
    return dout * _positive(cache)


def linear_forward(x, w, b):
    return x.reshape(x.shape[0], -1) @ w + b, (x, w)


def linear_backward(dout, cache):
    """Still the released stub."""
    # YOUR CODE HERE
    raise NotImplementedError()


def softmax_loss(scores, y):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return -log_probs[np.arange(n), y].mean(), dscores / n
'''


@pytest.fixture
def library(tmp_path, monkeypatch):
    """An empty library folder (COURSE_MINE) and the student's functions, from a real file
    (as in a notebook, their source can be read)."""
    monkeypatch.setenv("COURSE_MINE", str(tmp_path / "mine"))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    path = tmp_path / "student.py"
    path.write_text(STUDENT)
    spec = importlib.util.spec_from_file_location("student", path)
    student = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(student)
    return tmp_path / "mine", student


def test_export_writes_a_module_with_helpers_and_skips_stubs(library, capsys):
    folder, student = library
    exported = course.mine.export("a1_backprop", student.relu_forward, student.relu_backward,
                                  student.linear_forward, student.linear_backward)
    assert exported == ["relu_forward", "relu_backward", "linear_forward", "_positive"]
    assert "not exported" in capsys.readouterr().out
    text = (folder / "a1_backprop.py").read_text()
    assert "def _positive" in text and "NotImplementedError" not in text
    mine = course.mine.load()
    assert mine.origin == {name: "a1_backprop" for name in exported}
    x = np.array([[-1.0, 2.0]])
    assert mine.relu_backward(np.ones((1, 2)), x).tolist() == [[0.0, 1.0]]


def test_export_again_replaces_and_keeps_the_others(library):
    folder, student = library
    course.mine.export("a1_backprop", student.relu_forward, student.softmax_loss, quiet=True)
    course.mine.export("a1_backprop", student.relu_forward, quiet=True)
    assert set(course.mine.load().origin) == {"relu_forward", "softmax_loss"}
    assert (folder / "a1_backprop.py").read_text().count("def relu_forward") == 1


def test_the_library_survives_a_restart_and_imports_by_name(library):
    folder, student = library
    course.mine.export("a1_backprop", student.linear_forward, quiet=True)
    code = textwrap.dedent("""
        import numpy as np
        from course.mine import linear_forward
        out, _ = linear_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4))
        print(out.sum())
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "COURSE_MINE": str(folder)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "24.0"
    with pytest.raises(AttributeError, match="not in your library"):
        course.mine.conv2d_forward  # noqa: B018


def test_nothing_is_exported_while_nbgrader_grades(library, monkeypatch):
    folder, student = library
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert course.mine.export("a1_backprop", student.relu_forward, quiet=True) == []
    assert not folder.exists()


def test_use_mine_runs_modules_and_the_trainer_on_the_students_ops(library, capsys):
    _, student = library
    course.mine.export("a1_backprop", student.relu_forward, student.relu_backward,
                       student.linear_forward, student.linear_backward, student.softmax_loss,
                       quiet=True)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    with use("mine") as dispatcher:
        history = Trainer(model, optim.SGD(model.parameters(), lr=0.5),
                          progress=False).fit(DataLoader(X, y, 16, shuffle=True, seed=0),
                                              epochs=15)
        scores = model(X)
    lines = capsys.readouterr().out.splitlines()
    said = [line for line in lines if line.startswith("use('mine')")]
    assert sorted(said) == sorted(set(said)) and len(said) == 3  # once per op
    assert dispatcher.choices == {"relu": "yours (a1_backprop)", "linear": "library",
                                  "softmax_loss": "yours (a1_backprop)"}
    assert any("linear: the library's (linear_backward not in your library)" in s
               for s in said)
    assert scores.dtype == np.float32  # the student's float64 results are cast back
    assert (scores.argmax(axis=1) == y).mean() > 0.9
    assert history["train_loss"][-1] < history["train_loss"][0]
    # outside the block, the library's ops again
    assert ops.relu_forward(np.array([-1.0]))[0].tolist() == [0.0]


def test_use_mine_with_an_empty_library_falls_back_everywhere(library, capsys):
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6))
    layer = nn.Conv2d(3, 4, 3, padding=1, dtype=np.float64)
    expected = layer(x)
    with use("mine") as dispatcher:
        got = layer(x)
        layer(x)
    assert np.array_equal(got, expected)
    assert dispatcher.choices == {"conv2d": "library"}
    assert capsys.readouterr().out.count("conv2d: the library's") == 1


def test_use_rejects_unknown_names():
    with pytest.raises(ValueError, match="'mine'"):
        with use("yours"):
            pass


def test_graded_names_are_unique_across_assignments():
    names = [name for names in course.mine.GRADED.values() for name in names]
    assert len(names) == len(set(names))


# ---------------------------------------------------------------------------------------------
# The assignments build the library


ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = sorted(course.mine.GRADED)


def answer_module(notebook, path):
    """The answer cells of an assignment notebook as a module file (their source readable,
    as in a kernel), imported."""
    cells = [c.source for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    path.write_text("import numpy as np\n\nNULL, START, END = 0, 1, 2\n\n\n"
                    + "\n\n\n".join(cells) + "\n")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_blank_release_exports_nothing_and_falls_back_to_the_library(library, capsys):
    folder, _ = library
    for assignment in ASSIGNMENTS:
        release = nbformat.read(ROOT / "assignments" / assignment / f"{assignment}.ipynb", 4)
        module = answer_module(release, folder.parent / f"blank_{assignment}.py")
        functions = [getattr(module, name) for name in course.mine.GRADED[assignment]]
        assert course.mine.export(assignment, *functions) == []
    assert "not exported" in capsys.readouterr().out
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Linear(64, 8), nn.BatchNorm1d(8), nn.Dropout(0.5, rng=0),
                          nn.Linear(8, 3))
    x = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    with use("mine") as dispatcher:
        loss, dscores = ops.softmax_loss(model(x), np.arange(5) % 3)
        model.backward(dscores)
        model(x)
    said = [line for line in capsys.readouterr().out.splitlines() if line.startswith("use(")]
    assert len(said) == len(set(said)) == len(dispatcher.choices) == 7  # once per op
    assert set(dispatcher.choices.values()) == {"library"}
    assert all("the library's" in line for line in said)


@pytest.mark.notebooks
@pytest.mark.slow
def test_the_solutions_build_a_library_that_trains_the_captioner(tmp_path, monkeypatch):
    """a1 to a4 in order, as a student works through them: each solution notebook runs top to
    bottom and exports its functions; a4's last cell trains the library's captioning model on
    the exported ops under use("mine")."""
    from nbclient import NotebookClient

    monkeypatch.setenv("COURSE_MINE", str(tmp_path / "mine"))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                  "")]))
    printed = {}
    for assignment in ASSIGNMENTS:
        notebook = nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", 4)
        NotebookClient(notebook, timeout=900, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
        printed[assignment] = "".join(output.get("text", "") for cell in notebook.cells
                                      if cell.cell_type == "code" for output in cell.outputs)
        exported = course.mine.load(tmp_path / "mine").origin
        assert {n for n, a in exported.items() if a == assignment} >= set(
            course.mine.GRADED[assignment])
    text = printed["a4_captioning"]
    for op in ("linear", "lstm", "lstm_step", "temporal_softmax_loss"):
        assert f"{op}: yours" in text, text
    bleu = [float(b) for b in re.findall(r"beam width \d: BLEU-4 ([0-9.]+)", text)]
    assert len(bleu) == 3 and bleu[0] >= 0.4, text
    assert "held-out accuracy of the library's modules on your ops" in printed["a2_convnets"]
