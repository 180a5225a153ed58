"""Dilated and grouped convolutions and the transposed convolution's output_padding
(course/ops/conv_general.py and its kernels, lecture 3)."""

import numpy as np
import pytest

from course import nn, ops
from course.backend import to_device, to_host
from course.gradcheck import check_op, rel_error
from course.kernels import cpu, reference
from course.kernels.shapes import conv_output_size

pytestmark = pytest.mark.conv


def random_geometry(rng):
    """(x shape, w shape, stride, padding, dilation, groups) with a positive output size:
    odd sizes, strides, padding, dilation and groups drawn at random."""
    while True:
        groups = int(rng.integers(1, 4))
        cg, fg = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        kernel = tuple(int(k) for k in rng.integers(1, 4, 2))
        stride = tuple(int(s) for s in rng.integers(1, 4, 2))
        padding = tuple(int(p) for p in rng.integers(0, 3, 2))
        dilation = tuple(int(d) for d in rng.integers(1, 4, 2))
        size = tuple(int(v) for v in rng.integers(3, 10, 2))
        out = [conv_output_size(size[a], (kernel[a] - 1) * dilation[a] + 1, stride[a],
                                padding[a]) for a in (0, 1)]
        if min(out) >= 1:
            n = int(rng.integers(1, 4))
            return ((n, groups * cg) + size, (groups * fg, cg) + kernel, stride, padding,
                    dilation, groups, tuple(out))


def kernel_calls(rng, dtype):
    """``(kernel name, arguments)`` of the three kernels on one random geometry."""
    x_shape, w_shape, stride, padding, dilation, groups, out = random_geometry(rng)
    x, w = (rng.standard_normal(shape).astype(dtype) for shape in (x_shape, w_shape))
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    dout = rng.standard_normal((x_shape[0], w_shape[0]) + out).astype(dtype)
    geometry = (stride, padding, dilation, groups)
    return [("conv2d_general_forward", (x, w, b, *geometry)),
            ("conv2d_general_backward_data", (dout, w, x_shape[2:], *geometry)),
            ("conv2d_general_backward_weight", (dout, x, w_shape[2:], *geometry))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_kernels_match_the_reference_on_random_geometries(rng, dtype):
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for _ in range(12):
        for name, args in kernel_calls(rng, dtype):
            want, got = getattr(reference, name)(*args), getattr(cpu, name)(*args)
            assert got.shape == want.shape and got.dtype == dtype, name
            assert rel_error(got, want) < tol, (name, [getattr(a, "shape", a) for a in args])


def test_with_one_group_and_no_dilation_the_kernels_are_the_plain_ones(rng):
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), np.ones(4)
    for kernels in (cpu, reference):
        np.testing.assert_allclose(
            kernels.conv2d_general_forward(x, w, b, (2, 1), (1, 0), (1, 1), 1),
            kernels.conv2d_forward(x, w, b, (2, 1), (1, 0)), rtol=1e-12)


@pytest.mark.parametrize("params", [
    {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1), "groups": 2},
    {"stride": 1, "padding": 0, "dilation": 3, "groups": 3},
])
def test_conv2d_general_gradients(rng, params):
    groups = params["groups"]
    x = rng.standard_normal((2, 2 * groups, 7, 6))
    w = rng.standard_normal((groups, 2, 2, 2))
    check_op(ops.conv2d_general_forward, ops.conv2d_general_backward,
             [x, w, rng.standard_normal(groups)], params)


def test_conv_transpose2d_output_padding_gradients(rng):
    x, w, b = rng.standard_normal((2, 3, 4, 3)), rng.standard_normal((3, 2, 3, 2)), np.ones(2)
    params = {"stride": (3, 2), "padding": (1, 0), "output_padding": (2, 1)}
    out, _ = ops.conv_transpose2d_general_forward(x, w, b, **params)
    plain, _ = ops.conv_transpose2d_forward(x, w, b, stride=(3, 2), padding=(1, 0))
    assert out.shape == (2, 2, plain.shape[2] + 2, plain.shape[3] + 1)
    np.testing.assert_allclose(out[:, :, :plain.shape[2], :plain.shape[3]], plain, rtol=1e-12)
    check_op(ops.conv_transpose2d_general_forward, ops.conv_transpose2d_general_backward,
             [x, w, b], params)


def test_the_ops_match_pytorch(rng):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    x, w, b = rng.standard_normal((2, 6, 9, 8)), rng.standard_normal((4, 3, 3, 2)), np.ones(4)
    out, cache = ops.conv2d_general_forward(x, w, b, stride=(2, 1), padding=(2, 1),
                                            dilation=(2, 3), groups=2)
    dout = rng.standard_normal(out.shape)
    grads = ops.conv2d_general_backward(dout, cache)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = tF.conv2d(xt, wt, bt, stride=(2, 1), padding=(2, 1), dilation=(2, 3), groups=2)
    tout.backward(torch.tensor(dout))
    assert rel_error(out, tout.detach().numpy()) < 1e-12
    for ours, theirs in zip(grads, (xt, wt, bt), strict=True):
        assert rel_error(ours, theirs.grad.numpy()) < 1e-12

    x, w = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    out, _ = ops.conv_transpose2d_general_forward(x, w, np.zeros(2), stride=(2, 3), padding=1,
                                                  output_padding=(1, 2))
    tout = tF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=(2, 3), padding=1,
                               output_padding=(1, 2))
    assert rel_error(out, tout.numpy()) < 1e-12


def test_bad_input_is_a_clear_error(rng):
    x, w, b = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((6, 2, 3, 3)), np.zeros(6)
    with pytest.raises(ValueError, match=r"x must have groups \* w.shape\[1\] = 2 channels"):
        ops.conv2d_general_forward(x, w, b, groups=1)
    with pytest.raises(ValueError, match=r"groups \(4\) must divide the 6 filters"):
        ops.conv2d_general_forward(x, w[:, :1], b, groups=4)
    with pytest.raises(ValueError, match="dilation must be at least 1"):
        ops.conv2d_general_forward(x, w, b, dilation=0, groups=2)
    with pytest.raises(TypeError, match="dilation must be an int or a pair"):
        ops.conv2d_general_forward(x, w, b, dilation=1.5, groups=2)
    with pytest.raises(TypeError, match="groups must be"):
        ops.conv2d_general_forward(x, w, b, groups=2.0)
    with pytest.raises(ValueError, match="every output size must be at least 1"):
        ops.conv2d_general_forward(x, w, b, dilation=3, groups=2)  # spans 7 > 6 pixels
    with pytest.raises(TypeError, match="share one dtype"):
        ops.conv2d_general_forward(x.astype(np.float32), w, b, groups=2)
    out, cache = ops.conv2d_general_forward(x, w, b, padding=2, dilation=2, groups=2)
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.conv2d_general_backward(out[:, :, 1:], cache)
    with pytest.raises(ValueError, match="output_padding must be smaller than the stride"):
        ops.conv_transpose2d_general_forward(x, w[:4], np.zeros(2), stride=2,
                                             output_padding=(1, 2))
    with pytest.raises(ValueError, match="output_padding must be at least 0"):
        ops.conv_transpose2d_general_forward(x, w[:4], np.zeros(2), output_padding=-1)


def test_the_numba_kernels_refuse_groups_that_do_not_fit(rng):
    """Called directly with inconsistent groups, a kernel raises before any Numba loop could
    index past the channels."""
    x, w = rng.standard_normal((1, 4, 5, 5)), rng.standard_normal((6, 3, 3, 3))
    with pytest.raises(ValueError, match="groups do not fit"):
        cpu.conv2d_general_forward(x, w, np.zeros(6), (1, 1), (0, 0), (1, 1), 2)
    with pytest.raises(ValueError, match="groups do not fit"):
        cpu.conv2d_general_backward_weight(rng.standard_normal((1, 6, 3, 3)), x, (3, 3),
                                           (1, 1), (0, 0), (1, 1), 3)


def test_conv2d_module_runs_the_plain_op_unless_it_needs_the_general_one(rng):
    x = rng.standard_normal((2, 4, 6, 6))
    plain, general = nn.Conv2d(4, 2, 3, dtype=np.float64), nn.Conv2d(4, 2, 3, groups=2,
                                                                      dtype=np.float64)
    for module, expected in ((plain, ops.conv2d_backward), (general, ops.conv2d_general_backward)):
        module(x)
        assert module.recall()[0] is expected


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_kernels_match_the_reference(rng, dtype):
    from course.kernels import gpu

    tol = 1e-5 if dtype == np.float32 else 1e-12
    for _ in range(4):
        for name, args in kernel_calls(rng, dtype):
            on_gpu = [to_device(a, "cuda") if isinstance(a, np.ndarray) else a for a in args]
            got = to_host(getattr(gpu, name)(*on_gpu))
            assert rel_error(got, getattr(reference, name)(*args)) < tol, name
