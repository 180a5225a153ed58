"""Shared pytest setup: GPU tests skip cleanly without CuPy and a CUDA device."""

import numpy as np
import pytest

from course.backend import gpu_available


def pytest_collection_modifyitems(config, items):
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
