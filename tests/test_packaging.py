"""Packaging: ``pip install .`` pulls the library alone (no Jupyter, no nbgrader), and a
read-only install with no HOME still runs the Numba kernels (their cache falls back to a
per-user temporary folder, with one warning)."""

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numba
import pytest

from course import numba_cache

ROOT = Path(__file__).resolve().parents[1]
COURSE_TOOLS = ("jupyter", "jupyterlab", "notebook", "nbgrader", "nbclient", "nbformat",
                "ipykernel", "ipywidgets", "matplotlib", "h5py")


def test_the_core_dependencies_leave_the_course_tools_to_extras():
    import tomllib  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    assert not [tool for tool in COURSE_TOOLS if tool in core]
    extras = project["optional-dependencies"]
    assert {"lectures", "grading", "gpu", "dev"} <= set(extras)
    assert any("nbgrader" in d for d in extras["grading"])
    assert any("lectures" in d and "grading" in d for d in extras["dev"])


@pytest.mark.slow
def test_pip_install_resolves_no_jupyter_or_nbgrader_package(tmp_path):
    """pip's own resolver, without installing: every package ``pip install .`` would bring."""
    report = tmp_path / "report.json"
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "*.ipynb", "tests", "benchmarks", "assignments", "solutions"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
                    "--quiet", "--report", str(report), str(source)], check=True, timeout=600)
    names = {item["metadata"]["name"].lower() for item in json.loads(report.read_text())["install"]}
    assert {"numpy", "numba", "course"} <= names
    assert not [name for name in names if name.startswith(COURSE_TOOLS)], sorted(names)


def test_the_cache_falls_back_when_no_candidate_is_writable(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(numba_cache, "fallback_folder", lambda: tmp_path / "fallback")
    assert numba_cache.configure([tmp_path / "writable"]) is None  # Numba's own choice works
    with pytest.warns(UserWarning, match="not writable"):
        folder = numba_cache.configure([blocked / "pycache", None])
    assert folder == tmp_path / "fallback" and numba.config.CACHE_DIR == str(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert numba_cache.configure([blocked / "pycache"]) is None  # already set: no warning


SCRIPT = """
import warnings
warnings.simplefilter("always")
import numpy as np
from course import ops
x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
w = np.ones((4, 3, 3, 3), dtype=np.float32)
out, cache = ops.conv2d_forward(x, w, np.zeros(4, dtype=np.float32), padding=1)
dx, dw, db = ops.conv2d_backward(np.ones_like(out), cache)
print("ok", out.shape, dx.shape, dw.shape)
"""


@pytest.mark.slow
def test_a_read_only_install_without_home_runs_a_conv_forward_and_backward(tmp_path):
    """The package is copied to a read-only folder and imported with HOME unset, no
    NUMBA_CACHE_DIR and a user cache folder that cannot be made. Root ignores file
    permissions, so every ``__pycache__`` of the copy is also taken by a plain file: no user
    can write there."""
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    site = tmp_path / "site"
    shutil.copytree(ROOT / "course", site / "course", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [p for p in (site / "course").rglob("*") if p.is_dir()] + [site / "course"]:
        (folder / "__pycache__").write_text("taken")
    env = {k: v for k, v in os.environ.items() if k not in ("HOME", "NUMBA_CACHE_DIR")}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1",
               XDG_CACHE_HOME=str(blocked / "cache"))
    for path in [site, *site.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        run = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=site,
                             capture_output=True, text=True, timeout=600)
    finally:
        for path in [site, *site.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert run.returncode == 0, run.stderr
    assert "ok (2, 4, 6, 6) (2, 3, 6, 6) (4, 3, 3, 3)" in run.stdout
    assert run.stderr.count("Numba caches the compiled kernels in") == 1, run.stderr
