"""Shared pytest setup: one BLAS thread per process, GPU tests skip cleanly without a device."""

import os
import sys

# The suite runs three xdist workers, and the notebook kernels they start, on two cores: BLAS
# threads that wait for each other on a busy machine make a step many times slower (README,
# "Threads"). Set before numpy is imported here; the workers and kernels inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numba
import numpy as np
import pytest

from course.backend import gpu_available

# The lectures first, then the site and browser tests (which use the notebooks that
# tests/test_lectures.py executes, kept in build/executed/, and wait for them), then the other
# long tests (grading in the sandbox, slow ones), then the rest: xdist hands tests out in this
# order, so the long ones start at once on every worker instead of trailing at the end.
BROWSER = ("test_site.py", "test_browser_widgets.py")
LONG_FILES = ("test_pipeline.py", "test_grading_attacks.py", "test_sandbox.py")


def rank(item):
    """Where a test goes in the run: 0 first."""
    if item.path.name == "test_lectures.py":
        return 0
    if item.path.name in BROWSER:
        return 1
    return 2 if "slow" in item.keywords or item.path.name in LONG_FILES else 3


def pytest_collection_modifyitems(config, items):
    items.sort(key=rank)  # stable: the order is otherwise kept
    if gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def rng():
    """A seeded generator, so that every test draws the same numbers on every run."""
    return np.random.default_rng(1234)


@pytest.fixture
def numba_threads():
    """``numba_threads(k)`` sets Numba's thread count (which the CPU kernels follow) for one test;
    the count is restored afterwards."""
    before = numba.get_num_threads()
    yield numba.set_num_threads
    numba.set_num_threads(before)


@pytest.fixture(autouse=True)
def close_figures():
    """Close the matplotlib figures a test opened (where pyplot was imported at all)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
