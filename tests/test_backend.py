"""Array modules, devices and kernel-set selection without a GPU."""

import numpy as np
import pytest

from course import backend


def test_numpy_arrays_use_numpy_and_numba_by_default():
    x = np.ones(3)
    assert backend.get_array_module(x) is np
    assert backend.device_of(x) == "cpu"
    assert backend.kernel_set_name(x) == "numba"
    assert backend.kernels_for(x).__name__ == "course.kernels.cpu"


def test_use_switches_the_kernel_set_and_restores_it():
    x = np.ones(3)
    with backend.use("reference"):
        assert backend.kernels_for(x).__name__ == "course.kernels.reference"
    assert backend.kernel_set_name(x) == "numba"
    with pytest.raises(ValueError, match="kernel_set must be 'reference' or 'numba'"):
        with backend.use("fast"):
            pass
    with pytest.raises(RuntimeError), backend.use("reference"):
        raise RuntimeError
    assert backend.kernel_set_name(x) == "numba"


def test_host_moves():
    x = np.arange(3.0)
    assert backend.to_host(x) is x
    assert backend.to_device(x, "cpu") is x
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        backend.to_device(x, "tpu")


@pytest.mark.skipif(backend.gpu_available(), reason="checks the message shown without a GPU")
def test_asking_for_the_gpu_without_one_says_what_is_missing():
    with pytest.raises(RuntimeError, match="CuPy is not installed|no CUDA device"):
        backend.to_device(np.ones(2), "cuda")


@pytest.mark.gpu
def test_round_trip_to_the_gpu():
    import cupy

    x = np.arange(6.0).reshape(2, 3)
    on_gpu = backend.to_device(x, "cuda")
    assert isinstance(on_gpu, cupy.ndarray)
    assert backend.get_array_module(on_gpu) is cupy
    assert backend.kernels_for(on_gpu).__name__ == "course.kernels.gpu"
    np.testing.assert_array_equal(backend.to_host(on_gpu), x)
