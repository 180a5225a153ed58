"""Shared pytest setup: one BLAS thread per process, GPU tests skip cleanly without a device."""

import dataclasses
import fcntl
import os
import pickle
import shutil
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
# Modules whose tests share a module fixture that a worker cannot share with the others (a
# JupyterLab server, a sandboxed kernel, the built site): each runs on one worker, in one go.
# pytest tears a module fixture down when a worker's next test is from another module, and
# rebuilt the site's and the sandbox's several times a run when their tests were spread out.
ONE_WORKER = ("test_site.py", "test_browser_widgets.py", "test_sandbox.py")


def rank(item):
    """Where a test goes in the run: 0 first."""
    if item.path.name == "test_lectures.py":
        return 0
    if item.path.name in BROWSER:
        return 1
    return 2 if "slow" in item.keywords or item.path.name in LONG_FILES else 3


def pytest_collection_modifyitems(config, items):
    items.sort(key=rank)  # stable: the order is otherwise kept
    for item in items:
        if item.path.name in ONE_WORKER:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))
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


@pytest.fixture(scope="session")
def made_once(tmp_path_factory, worker_id):
    """``made_once(name, make)`` -> ``(folder, result)``: ``result = make(folder)``, run once per
    test run however many workers ask for it.

    Under pytest-xdist the first worker to ask makes it in a folder the workers share (holding a
    lock); every worker then gets its own copy of the folder (its tests may change it) and the
    unpickled result, so ``result`` must hold paths relative to the folder, not absolute ones.
    A module fixture built this way costs one copy where it is built again (each worker built the
    grading fixtures itself, and again each time its tests resumed: a minute or more each time).
    """
    def make_or_copy(name, make):
        folder = tmp_path_factory.mktemp(name)
        if worker_id == "master":  # not under xdist
            return folder, make(folder)
        shared = tmp_path_factory.getbasetemp().parent / name
        with open(f"{shared}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            if not os.path.exists(f"{shared}.pickle"):
                shutil.rmtree(shared, ignore_errors=True)  # left by a worker whose make failed
                shared.mkdir()
                result = make(shared)
                with open(f"{shared}.pickle", "wb") as f:
                    pickle.dump(result, f)
        with open(f"{shared}.pickle", "rb") as f:
            result = pickle.load(f)
        shutil.copytree(shared, folder, dirs_exist_ok=True)
        return folder, result

    return make_or_copy


@pytest.fixture(scope="session")
def graded_once(made_once):
    """``graded_once(name, grade)`` -> ``(course root, summary, log)``: ``grade(root)``, a
    grading run into the course ``root`` returning (summary, log), made once per test run by
    ``made_once``; the summary's CSV path names the file in this worker's copy."""
    def run(name, grade):
        def make(root):
            summary, log = grade(root)
            return dataclasses.replace(summary,
                                       csv_path=os.path.relpath(summary.csv_path, root)), log

        root, (summary, log) = made_once(name, make)
        return root, dataclasses.replace(summary, csv_path=str(root / summary.csv_path)), log

    return run


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
