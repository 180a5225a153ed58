"""Execute every lecture notebook top to bottom with nbclient (marker: notebooks).

Notebooks are found by globbing ``lectures/*.ipynb``, so new lectures are picked up without
editing this file. The kernel inherits this process's environment, with one Numba thread (see
below); the repository root is put on its ``PYTHONPATH`` so that ``import course`` works without
installing the package.

Each executed notebook is kept in ``build/executed/`` with its source's hash, where the course
site (``course site``, tests/test_site.py) takes it instead of running the lecture again; a
lecture that fails leaves ``build/executed/<name>.failed`` instead.
"""

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course.site import executed_path, save_executed

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell
ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # tracebacks come coloured


@pytest.mark.parametrize("path", LECTURES, ids=[path.stem for path in LECTURES])
def test_lecture_runs_top_to_bottom(path, monkeypatch):
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), pythonpath])))
    # One Numba thread in the lecture's kernel: the suite runs three workers and their kernels
    # on two cores, where a process whose parallel sections wait for both of its threads
    # stalls whenever one is descheduled (lecture 6c took 460 s in one CI run, 80 s alone).
    # The sandboxed grading kernels run on one thread too.
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    failure, finished = None, False
    failed = executed_path(path).with_suffix(".failed")  # tells tests/test_site.py not to wait
    failed.unlink(missing_ok=True)
    try:
        client.execute()
        finished = True
    except CellExecutionError as error:
        failure = ANSI_COLOURS.sub("", str(error))
    finally:
        if finished:
            save_executed(notebook, path)
        else:
            failed.parent.mkdir(parents=True, exist_ok=True)
            failed.write_text(failure or "the lecture did not finish")
    if failure is not None:
        pytest.fail(f"{path.name} failed in a cell:\n{failure}", pytrace=False)
