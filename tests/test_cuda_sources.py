"""Every CUDA source in course/kernels/gpu compiles with nvcc, for float and double."""

import importlib
import pkgutil
import shutil
import subprocess

import numpy as np
import pytest

import course.kernels.gpu as gpu_package
from course.kernels.gpu.compile import with_real_type


def all_cuda_sources():
    sources = []
    for info in pkgutil.iter_modules(gpu_package.__path__):
        module = importlib.import_module(f"course.kernels.gpu.{info.name}")
        for name, source in getattr(module, "CUDA_SOURCES", {}).items():
            sources.append((f"{info.name}.{name}", source))
    return sources


def assignment_cuda_sources():
    """The CUDA sources (string constants holding ``__global__``) of the solution notebooks'
    answer cells: assignment 6's RawKernel im2col."""
    import ast
    from pathlib import Path

    import nbformat

    sources = []
    for path in sorted(Path(__file__).resolve().parents[1].glob("solutions/*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Constant) and "__global__" in str(node.value):
                    grade_id = cell.metadata["nbgrader"]["grade_id"]
                    sources.append((f"{path.stem}.{grade_id}", node.value))
    return sources


SOURCES = all_cuda_sources() + assignment_cuda_sources()


def test_gpu_modules_import_without_cupy():
    # Importing every GPU kernel file works on a machine without CuPy: CuPy loads lazily.
    assert isinstance(SOURCES, list)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, source", SOURCES, ids=[name for name, _ in SOURCES])
def test_cuda_source_compiles(tmp_path, name, source, dtype):
    path = tmp_path / "kernel.cu"
    path.write_text(with_real_type(source, dtype))
    result = subprocess.run(
        ["nvcc", "--ptx", "-std=c++14", "-o", str(tmp_path / "kernel.ptx"), str(path)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{name} does not compile:\n{result.stderr}"
