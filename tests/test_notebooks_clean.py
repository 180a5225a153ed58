"""Committed notebooks carry no outputs and no execution counts (they are run by the tests)."""

from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    path
    for folder in ("lectures", "solutions", "assignments")
    for path in (ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in path.parts
)


def _name(path):
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[_name(path) for path in NOTEBOOKS])
def test_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [index for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (
        f"{_name(path)}: code cells {dirty} have outputs or execution counts; clear them "
        f"(jupyter nbconvert --clear-output --inplace {_name(path)})")


LECTURES = [path for path in NOTEBOOKS if path.parts[len(ROOT.parts)] == "lectures"]


@pytest.mark.parametrize("path", LECTURES, ids=[_name(path) for path in LECTURES])
def test_lecture_uses_the_python3_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"
