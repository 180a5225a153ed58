"""The CPU convolution's forward pass gives the reference's output with either form of its
matrix product (W @ cols, or cols.T @ W.T for many rows), on one or two threads."""

import numba
import numpy as np
import pytest

from course.kernels import cpu, reference
from course.kernels.cpu import conv as cpu_conv
from course.kernels.shapes import conv_output_size

pytestmark = pytest.mark.conv

# (N, C, F, (H, W), (KH, KW), stride, padding): odd sizes, rectangles, strides, padding, F = 1
CASES = [(3, 5, 7, (9, 8), (3, 2), (2, 1), (1, 0)),
         (1, 2, 1, (5, 5), (2, 3), 1, 2),
         (5, 1, 4, (7, 11), (5, 5), (1, 3), (2, 1))]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("pixels_first", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_both_forward_products_match_the_reference(monkeypatch, numba_threads, threads,
                                                   pixels_first, case):
    n, c, f, size, kernel, stride, padding = case
    stride = stride if isinstance(stride, tuple) else (stride, stride)
    padding = padding if isinstance(padding, tuple) else (padding, padding)
    numba_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    monkeypatch.setattr(cpu_conv, "PIXELS_FIRST_MIN_ROWS", 1 if pixels_first else 10**9)
    rng = np.random.default_rng(sum(size) + f)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((n, c) + size).astype(dtype)
        w = rng.standard_normal((f, c) + kernel).astype(dtype)
        b = rng.standard_normal(f).astype(dtype)
        out = cpu.conv2d_forward(x, w, b, stride, padding)
        expected = reference.conv2d_forward(x, w, b, stride, padding)
        assert out.dtype == dtype and out.shape == (n, f) + tuple(
            conv_output_size(size[a], kernel[a], stride[a], padding[a]) for a in (0, 1))
        np.testing.assert_allclose(out, expected, rtol=1e-4 if dtype == np.float32 else 1e-10,
                                   atol=1e-4 if dtype == np.float32 else 1e-10)


def test_the_form_follows_the_rows():
    assert not cpu_conv._pixels_first(27)  # 3 channels, 3x3
    assert not cpu_conv._pixels_first(25)  # LeNet-5's first layer
    assert cpu_conv._pixels_first(150)     # LeNet-5's second layer
    assert cpu_conv._pixels_first(288)     # 32 channels, 3x3
