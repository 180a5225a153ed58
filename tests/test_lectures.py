"""Execute every lecture notebook top to bottom with nbclient (marker: notebooks).

Notebooks are found by globbing ``lectures/*.ipynb``, so new lectures are picked up without
editing this file. The kernel inherits this process's environment; the repository root is put on
its ``PYTHONPATH`` so that ``import course`` works without installing the package.
"""

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell
ANSI_COLOURS = re.compile(r"\x1b\[[0-9;]*m")  # tracebacks come coloured


@pytest.mark.parametrize("path", LECTURES, ids=[path.stem for path in LECTURES])
def test_lecture_runs_top_to_bottom(path, monkeypatch):
    pythonpath = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), pythonpath])))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    failure = None
    try:
        client.execute()
    except CellExecutionError as error:
        failure = ANSI_COLOURS.sub("", str(error))
    if failure is not None:
        pytest.fail(f"{path.name} failed in a cell:\n{failure}", pytrace=False)
