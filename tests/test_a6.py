"""Assignment 6's grading machinery: the reference loops, guard bands, the race test, the GPU
part without a GPU, and Numba kernels in the student's library.

The assignment itself (solution, mutants, release, autograde) is tested with the others in
``tests/test_assignments.py``; the speed check under load is measured by
``benchmarks/bench_a6_grading.py``, never here.
"""

import numba
import numpy as np
import pytest
from numba import njit, prange

import course.mine
from course.grading import CHECKS
from course.grading import a6_fast_kernels as a6
from course.kernels import reference

pytestmark = pytest.mark.grading


def conv_cols(x, k, stride, padding):
    ho = a6.output_size(x.shape[2], k, stride, padding)
    wo = a6.output_size(x.shape[3], k, stride, padding)
    cols = np.zeros((x.shape[1] * k * k, x.shape[0] * ho * wo))
    a6.reference_im2col(x, k, k, stride, padding, cols)
    return cols, ho, wo


@pytest.mark.parametrize("shape, k, stride, padding", [
    ((2, 3, 5, 7), 3, 1, 1), ((1, 2, 6, 5), 2, 2, 0), ((3, 1, 4, 4), 3, 3, 2)])
def test_reference_loops_match_the_library(shape, k, stride, padding):
    """W @ im2col is the library's convolution; col2im is im2col's adjoint (<A x, y> =
    <x, A^T y>); max pooling and its switches are the library's reference pooling."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((4, shape[1], k, k))
    cols, ho, wo = conv_cols(x, k, stride, padding)
    out = (w.reshape(4, -1) @ cols).reshape(4, shape[0], ho, wo).transpose(1, 0, 2, 3)
    expected = reference.conv2d_forward(x, w, np.zeros(4), (stride, stride), (padding, padding))
    np.testing.assert_allclose(out, expected, atol=1e-12)
    y = rng.standard_normal(cols.shape)
    dx = np.empty(shape)
    a6.reference_col2im(y, k, k, stride, padding, dx)
    assert np.sum(cols * y) == pytest.approx(np.sum(x * dx), rel=1e-12)

    size = min(k, shape[2], shape[3])
    pool_shape = (shape[0], shape[1], a6.output_size(shape[2], size, stride, 0),
                  a6.output_size(shape[3], size, stride, 0))
    pooled, argmax = np.empty(pool_shape), np.empty(pool_shape, dtype=np.int64)
    a6.reference_maxpool_forward(x, size, stride, pooled, argmax)
    want, want_argmax = reference.max_pool2d_forward(x, (size, size), (stride, stride))
    np.testing.assert_array_equal(pooled, want)
    np.testing.assert_array_equal(argmax, want_argmax)
    dout = rng.standard_normal(pool_shape)
    a6.reference_maxpool_backward(dout, argmax, dx)
    np.testing.assert_array_equal(dx, reference.max_pool2d_backward(
        dout, want_argmax, shape[2:], (size, size), (stride, stride)))
    b = rng.standard_normal(shape[1])
    a6.reference_bias_relu(x, b, dx)
    np.testing.assert_array_equal(dx, np.maximum(x + b[:, None, None], 0))


@njit
def _copy_one_too_many(x, b, out):
    flat_out, flat_x = out.reshape(-1), x.reshape(-1)
    for p in range(flat_out.size + 1):  # one past the end of out
        flat_out[p] = max(flat_x[p] + b[0], 0.0) if p < flat_x.size else 0.0


@njit
def _reads_one_too_far(x, b, out):
    n, f, h, w = x.shape
    flat_x = x.reshape(-1)
    for s in range(n):
        for k in range(f):
            for y in range(h):
                for z in range(w):
                    p = ((s * f + k) * h + y) * w + z + 1  # the next pixel: past the end last
                    out[s, k, y, z] = max(flat_x[p - 1] + b[k], 0.0) if p < flat_x.size \
                        else flat_x[p]


@pytest.mark.parametrize("kernel, what", [(_copy_one_too_many, "wrote outside"),
                                          (_reads_one_too_far, "read outside")])
def test_guard_bands_catch_out_of_range_access(kernel, what):
    spec = CHECKS["a6.bias_relu"]
    inputs = spec.make_inputs(0)
    result = spec.judge(inputs, spec.call([kernel], inputs))
    assert not result.passed and what in result.message


@njit(parallel=True)
def _racy_col2im(cols, kh, kw, stride, padding, dx):
    """The mutant's bug in brief: prange over the rows of cols, scattering into dx."""
    n, c, h, w = dx.shape
    ho = (h + 2 * padding - kh) // stride + 1
    wo = (w + 2 * padding - kw) // stride + 1
    dx[...] = 0.0
    for row in prange(c * kh * kw):
        ch, ki, kj = row // (kh * kw), row // kw % kh, row % kw
        for s in range(n):
            for i in range(ho):
                for j in range(wo):
                    y, z = i * stride - padding + ki, j * stride - padding + kj
                    if 0 <= y < h and 0 <= z < w:
                        dx[s, ch, y, z] += cols[row, (s * ho + i) * wo + j]


@pytest.mark.parametrize("threads", [1, 2])
def test_a_racy_prange_fails_deterministically_whatever_the_threads(threads):
    """Overlapping windows race, on any number of threads; windows that tile the image
    (stride = kernel size, no padding) do not overlap, and the same kernel passes there."""
    spec = CHECKS["a6.col2im_fast"]
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        for seed in range(3):
            inputs = spec.make_inputs(seed)  # 3x3 windows, stride 1: they overlap
            result = spec.judge(inputs, spec.call([_racy_col2im], inputs))
            assert not result.passed and "prange loop" in result.message, result.message
        tiled = spec.make_inputs(0, k=2, stride=2, padding=0, h=4, w=6)
        result = spec.judge(tiled, spec.call([_racy_col2im], tiled))
        assert result.passed, result.message
    finally:
        numba.set_num_threads(before)


def test_races_are_found_by_region_and_iteration():
    cols = np.ones((9, 2 * 3 * 3))
    race = a6.prange_races(_racy_col2im, [cols, 3, 3, 1, 1, np.zeros((2, 1, 3, 3))], 5)
    region, first, second, index = race
    assert region == 0 and first < second < 9 and 0 <= index < 18
    assert a6.prange_races(_racy_col2im.py_func, [cols, 3, 3, 1, 1, np.zeros((2, 1, 3, 3))],
                           5) is None  # plain Python has no threads
    assert numba.prange is not None and _racy_col2im.py_func.__globals__["prange"] is prange


def test_gpu_part_without_a_gpu_is_not_gradable_and_costs_nothing(monkeypatch):
    monkeypatch.setattr(a6, "gpu_available", lambda: False)
    spec = CHECKS["a6.relu_gpu"]
    inputs = spec.make_inputs(0)

    def written(x):
        import cupy_that_is_not_here  # noqa: F401 - what a student's code meets without CuPy

    result = spec.judge(inputs, spec.call([written], inputs))
    assert result.passed and "not gradable on this machine" in result.message

    def stub(x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        spec.call([stub], inputs)


KERNEL_CELL = '''
from numba import njit


@njit
def _twice(v):
    return 2.0 * v


@njit
def bias_relu(x, b, out):
    n, f, h, w = x.shape
    for s in range(n):
        for k in range(f):
            for y in range(h):
                for z in range(w):
                    out[s, k, y, z] = max(_twice(x[s, k, y, z]) / 2.0 + b[k], 0.0)
'''


def test_numba_kernels_are_exported_with_their_helpers_and_compile_again(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("COURSE_MINE", str(tmp_path / "mine"))
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    path = tmp_path / "cell.py"
    path.write_text(KERNEL_CELL)
    namespace = {"__name__": "cell"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    assert course.mine.export("a6_fast_kernels", namespace["bias_relu"], quiet=True) == [
        "bias_relu", "_twice"]
    library = course.mine.load()
    assert library.origin == {"_twice": "a6_fast_kernels", "bias_relu": "a6_fast_kernels"}
    x, b = np.random.default_rng(0).standard_normal((2, 3, 2, 2)), np.ones(3)
    out = np.empty_like(x)
    library.bias_relu(x, b, out)
    np.testing.assert_array_equal(out, np.maximum(x + b[:, None, None], 0))
    assert hasattr(library.bias_relu, "py_func")  # compiled by Numba again
