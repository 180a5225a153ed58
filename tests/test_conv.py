"""Convolution and transposed convolution: gradients, kernels vs the reference, PyTorch, errors."""

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from course import nn, ops
from course.backend import use
from course.gradcheck import check_op, rel_error
from course.kernels import cpu, reference
from course.kernels.shapes import conv_output_size
from course.models import lenet5

pytestmark = pytest.mark.conv

# (N, C, F, (H, W), (KH, KW), stride, padding): odd sizes, stride > kernel, padding, batch of 1,
# rectangular images and kernels, padding larger than the kernel.
CONV_CASES = [
    (2, 3, 4, (5, 5), (3, 3), 1, 0),
    (1, 2, 3, (7, 6), (3, 2), (2, 1), (1, 2)),
    (2, 1, 2, (8, 7), (2, 2), 3, 1),
    (1, 3, 2, (5, 9), (5, 3), (1, 2), (2, 0)),
    (3, 2, 2, (4, 4), (1, 1), 2, 3),
]
CASE_IDS = ["square", "rect-stride-pad", "stride>kernel", "rect-kernel", "pad>kernel"]


def conv_inputs(rng, n, c, f, size, kernel, dtype=np.float64, transpose=False):
    x = rng.standard_normal((n, c) + size).astype(dtype)
    shape = (c, f) + kernel if transpose else (f, c) + kernel
    w = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(f).astype(dtype)
    return x, w, b


@pytest.mark.parametrize("case", CONV_CASES, ids=CASE_IDS)
def test_conv2d_gradients(rng, case):
    n, c, f, size, kernel, stride, padding = case
    x, w, b = conv_inputs(rng, n, c, f, size, kernel)
    check_op(ops.conv2d_forward, ops.conv2d_backward, [x, w, b],
             params={"stride": stride, "padding": padding})


@pytest.mark.parametrize("case", CONV_CASES, ids=CASE_IDS)
def test_conv_transpose2d_gradients(rng, case):
    n, c, f, size, kernel, stride, padding = case
    x, w, b = conv_inputs(rng, n, c, f, (3, 4), kernel, transpose=True)
    padding = tuple(min(p, k - 1) for p, k in zip(np.broadcast_to(padding, 2), kernel,
                                                  strict=True))
    check_op(ops.conv_transpose2d_forward, ops.conv_transpose2d_backward, [x, w, b],
             params={"stride": stride, "padding": padding})


def test_reference_kernels_pass_the_gradient_check(rng):
    x, w, b = conv_inputs(rng, 2, 2, 3, (5, 6), (3, 2))
    with use("reference"):
        check_op(ops.conv2d_forward, ops.conv2d_backward, [x, w, b],
                 params={"stride": (2, 1), "padding": 1})
        check_op(ops.conv_transpose2d_forward, ops.conv_transpose2d_backward,
                 [x, np.ascontiguousarray(w.transpose(1, 0, 2, 3)), b],
                 params={"stride": 2, "padding": (1, 0)})


@st.composite
def conv_configs(draw):
    """A random convolution whose output is at least 1x1."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    size = tuple(draw(st.integers(max(1, kernel[a] - 2 * padding[a]), 9)) for a in (0, 1))
    return dict(n=draw(st.integers(1, 3)), c=draw(st.integers(1, 4)), f=draw(st.integers(1, 4)),
                size=size, kernel=kernel, stride=stride, padding=padding,
                dtype=draw(st.sampled_from([np.float32, np.float64])),
                seed=draw(st.integers(0, 2**31)))


def close(a, b, dtype):
    assert a.dtype == b.dtype == dtype
    assert a.shape == b.shape
    assert rel_error(a, b) < (1e-5 if dtype == np.float32 else 1e-12)


def close_backward(dout, x, w, stride, padding, dtype):
    """The Numba backward passes, each alone and both fused (``conv2d_backward``), against the
    reference's; a gradient that is not needed is None."""
    dx = reference.conv2d_backward_data(dout, w, x.shape[2:], stride, padding)
    dw = reference.conv2d_backward_weight(dout, x, w.shape[2:], stride, padding)
    close(cpu.conv2d_backward_data(dout, w, x.shape[2:], stride, padding), dx, dtype)
    close(cpu.conv2d_backward_weight(dout, x, w.shape[2:], stride, padding), dw, dtype)
    fused_dx, fused_dw = cpu.conv2d_backward(dout, x, w, stride, padding)
    close(fused_dx, dx, dtype)
    close(fused_dw, dw, dtype)
    only_dw = cpu.conv2d_backward(dout, x, w, stride, padding, need_dx=False)
    only_dx = cpu.conv2d_backward(dout, x, w, stride, padding, need_dw=False)
    assert only_dw[0] is None and only_dx[1] is None
    close(only_dw[1], dw, dtype)
    close(only_dx[0], dx, dtype)


@settings(max_examples=40, deadline=None)
@given(conv_configs())
def test_numba_conv_kernels_match_reference(cfg):
    rng = np.random.default_rng(cfg["seed"])
    x, w, b = conv_inputs(rng, cfg["n"], cfg["c"], cfg["f"], cfg["size"], cfg["kernel"],
                          cfg["dtype"])
    stride, padding = cfg["stride"], cfg["padding"]
    out = reference.conv2d_forward(x, w, b, stride, padding)
    close(cpu.conv2d_forward(x, w, b, stride, padding), out, cfg["dtype"])
    dout = rng.standard_normal(out.shape).astype(cfg["dtype"])
    close_backward(dout, x, w, stride, padding, cfg["dtype"])



@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("samples_per_chunk", [1, 2, 5])
def test_numba_conv_kernels_split_the_batch_into_chunks(rng, monkeypatch, numba_threads,
                                                        samples_per_chunk, threads):
    """Batches shared between one or two threads and cut into groups of samples (5 samples in
    groups of 1, of 2, or all 5 at once) give the same results as the reference."""
    from course.kernels.cpu import conv as cpu_conv

    numba_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    x, w, b = conv_inputs(rng, 5, 2, 3, (7, 6), (3, 2), np.float32)
    stride, padding = (2, 1), (1, 2)
    out = reference.conv2d_forward(x, w, b, stride, padding)
    bytes_per_sample = 2 * 3 * 2 * out.shape[2] * out.shape[3] * x.itemsize
    monkeypatch.setattr(cpu_conv, "CHUNK_BYTES", samples_per_chunk * bytes_per_sample)
    close(cpu.conv2d_forward(x, w, b, stride, padding), out, np.float32)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    close_backward(dout, x, w, stride, padding, np.float32)


@pytest.mark.parametrize("n, c", [(0, 2), (2, 0)], ids=["empty-batch", "no-channels"])
def test_numba_conv_kernels_handle_empty_arrays(rng, n, c):
    x, w, b = conv_inputs(rng, n, c, 3, (5, 4), (3, 2), np.float32)
    one = (1, 1)
    out = reference.conv2d_forward(x, w, b, one, one)
    np.testing.assert_allclose(cpu.conv2d_forward(x, w, b, one, one), out, rtol=1e-6)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    np.testing.assert_array_equal(cpu.conv2d_backward_data(dout, w, (5, 4), one, one),
                                  np.zeros_like(x))
    np.testing.assert_array_equal(cpu.conv2d_backward_weight(dout, x, (3, 2), one, one),
                                  np.zeros_like(w))
    for fused, zeros in zip(cpu.conv2d_backward(dout, x, w, one, one), (x, w), strict=True):
        np.testing.assert_array_equal(fused, np.zeros_like(zeros))


def test_numba_conv_kernels_reject_buffers_of_the_wrong_shape():
    """The im2col, col2im, pad and crop kernels check the shapes they are given, so that no
    index can leave an array (Numba does not check bounds)."""
    from course.kernels.cpu import conv as cpu_conv
    from course.kernels.cpu import frames

    x = np.ones((2, 3, 5, 4), np.float32)
    xp = np.full((2, 3, 7, 6), np.nan, np.float32)  # x padded by 1 on every side
    frames.pad(x, 1, 1, xp)
    assert xp.sum() == x.sum() and xp[:, :, 0].sum() == 0 and xp[:, :, :, -1].sum() == 0
    wider = np.full((2, 3, 8, 8), np.nan, np.float32)  # 2 more rows and columns at the far end
    frames.pad(x, 1, 1, wider)
    np.testing.assert_array_equal(wider, np.pad(x, ((0, 0), (0, 0), (1, 2), (1, 3))))
    back = np.zeros_like(x)
    frames.crop(wider, 1, 1, back)
    np.testing.assert_array_equal(back, x)
    for kernel, args in [(frames.pad, (x, 1, 2, xp)), (frames.crop, (xp, 2, 1, x))]:
        with pytest.raises(ValueError, match="x's shape plus the padding"):
            kernel(*args)
    cols = np.empty((3 * 3 * 3, 2 * 5 * 4 + 1), np.float32)  # one column too many
    with pytest.raises(ValueError, match=r"cols must be \(C\*KH\*KW, m\*Ho\*Wo\)"):
        cpu_conv._im2col(xp, 3, 3, 1, 1, cols)
    with pytest.raises(ValueError, match="cols must be"):
        cpu_conv._col2im(cols, 3, 3, 1, 1, xp)
    with pytest.raises(ValueError, match="strides must be positive"):
        cpu_conv._im2col(xp, 3, 3, 0, 1, np.empty((27, 40), np.float32))


def test_conv2d_output_size_formula():
    assert conv_output_size(32, 3, 1, 1) == 32
    assert conv_output_size(7, 3, 2, 1) == 4
    assert conv_output_size(2, 3, 1, 0) == 0


# -- PyTorch ------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CONV_CASES, ids=CASE_IDS)
def test_conv2d_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    n, c, f, size, kernel, stride, padding = case
    x, w, b = conv_inputs(rng, n, c, f, size, kernel)
    out, cache = ops.conv2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = ops.conv2d_backward(dout, cache)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=padding)
    tout.backward(torch.tensor(dout))
    for ours, theirs in [(out, tout), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)]:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CONV_CASES, ids=CASE_IDS)
def test_conv_transpose2d_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    n, c, f, size, kernel, stride, padding = case
    x, w, b = conv_inputs(rng, n, c, f, size, kernel, np.float32, transpose=True)
    padding = tuple(min(p, k - 1) for p, k in zip(np.broadcast_to(padding, 2), kernel,
                                                  strict=True))
    out, cache = ops.conv_transpose2d_forward(x, w, b, stride, padding)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    dx, dw, db = ops.conv_transpose2d_backward(dout, cache)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    tout = torch.nn.functional.conv_transpose2d(tx, tw, tb, stride=stride, padding=padding)
    tout.backward(torch.tensor(dout))
    for ours, theirs in [(out, tout), (dx, tx.grad), (dw, tw.grad), (db, tb.grad)]:
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-4, atol=1e-4)


# -- bad input ---------------------------------------------------------------------------------

def good_inputs(dtype=np.float32):
    rng = np.random.default_rng(0)
    return conv_inputs(rng, 2, 3, 4, (6, 6), (3, 3), dtype)


@pytest.mark.parametrize("change, error, match", [
    (lambda x, w, b: (x[0], w, b), ValueError, "x must have 4 dimensions"),
    (lambda x, w, b: (x, w[0], b), ValueError, "w must have 4 dimensions"),
    (lambda x, w, b: (x, w, b[:2]), ValueError, r"b must have shape \(4,\)"),
    (lambda x, w, b: (x, w[:, :2], b), ValueError, "w must have 3 input channels"),
    (lambda x, w, b: (x.astype(np.float64), w, b), TypeError, "one dtype"),
    (lambda x, w, b: (x.astype(np.int32), w, b), TypeError, "x must be float32 or float64"),
    (lambda x, w, b: (x.tolist(), w, b), TypeError, "x must be a numpy or CuPy array"),
    (lambda x, w, b: (x[:, :, :2, :2], w, b), ValueError, "output size"),
    (lambda x, w, b: (x, w[:, :, :0], b), ValueError, "kernel of at least 1x1"),
])
def test_conv2d_rejects_bad_arrays(change, error, match):
    with pytest.raises(error, match=match):
        ops.conv2d_forward(*change(*good_inputs()))


@pytest.mark.parametrize("params, error, match", [
    ({"stride": 0}, ValueError, "stride must be at least 1"),
    ({"stride": (1, -1)}, ValueError, "stride must be at least 1"),
    ({"padding": -1}, ValueError, "padding must be at least 0"),
    ({"stride": 1.5}, TypeError, "stride must be an int or a pair"),
    ({"padding": (1, 2, 3)}, TypeError, "padding must be an int or a pair"),
    ({"stride": 7}, None, None),  # a stride larger than the input is fine: one output pixel
])
def test_conv2d_checks_stride_and_padding(params, error, match):
    x, w, b = good_inputs()
    if error is None:
        assert ops.conv2d_forward(x, w, b, **params)[0].shape == (2, 4, 1, 1)
    else:
        with pytest.raises(error, match=match):
            ops.conv2d_forward(x, w, b, **params)


def test_conv_transpose2d_rejects_bad_arrays():
    x, w, b = good_inputs()
    wt = np.ascontiguousarray(w.transpose(1, 0, 2, 3))  # (C_in=3, C_out=4, 3, 3)
    with pytest.raises(ValueError, match="w must have 3 input channels"):
        ops.conv_transpose2d_forward(x, w, b)
    with pytest.raises(ValueError, match=r"b must have shape \(4,\)"):
        ops.conv_transpose2d_forward(x, wt, b[:3])
    with pytest.raises(ValueError, match="output size"):
        ops.conv_transpose2d_forward(x[:, :, :1, :1], wt, b, padding=2)
    with pytest.raises(TypeError, match="one dtype"):
        ops.conv_transpose2d_forward(x, wt.astype(np.float64), b)


def test_backward_rejects_a_wrong_dout():
    x, w, b = good_inputs()
    out, cache = ops.conv2d_forward(x, w, b)
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.conv2d_backward(out[:, :, 1:], cache)
    with pytest.raises(TypeError, match="one dtype"):
        ops.conv2d_backward(out.astype(np.float64), cache)
    wt = np.ascontiguousarray(w.transpose(1, 0, 2, 3))
    out, cache = ops.conv_transpose2d_forward(x, wt, b)
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.conv_transpose2d_backward(out[:1], cache)


# -- modules -----------------------------------------------------------------------------------

def test_conv_modules_fill_gradients(rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    for layer, out_shape in [(nn.Conv2d(3, 5, (3, 2), stride=2, padding=1, rng=0), (2, 5, 5, 5)),
                             (nn.ConvTranspose2d(3, 4, 4, stride=2, padding=1, rng=0),
                              (2, 4, 18, 16))]:
        out = layer(x)
        assert out.shape == out_shape and out.dtype == np.float32
        dx = layer.backward(np.ones_like(out))
        assert dx.shape == x.shape
        for p in layer.parameters():
            assert p.grad is not None and p.grad.shape == p.data.shape
            assert np.abs(p.grad).sum() > 0


def test_conv_module_backward_before_forward_fails():
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Conv2d(1, 1, 3).backward(np.zeros((1, 1, 1, 1), np.float32))


def test_conv_module_weight_layout_and_init():
    conv = nn.Conv2d(16, 32, 3, rng=0)
    assert conv.weight.shape == (32, 16, 3, 3) and conv.bias.shape == (32,)
    assert abs(conv.weight.data.std() - np.sqrt(2 / (16 * 9))) < 0.01
    assert nn.ConvTranspose2d(16, 32, (3, 5)).weight.shape == (16, 32, 3, 5)
    with pytest.raises(ValueError, match="kernel_size must be at least 1"):
        nn.Conv2d(1, 1, 0)


def test_receptive_field_of_lenet():
    rows = nn.receptive_field(lenet5(input_size=32), 32)
    assert [r["output_size"] for r in rows[:6]] == [(28, 28), (28, 28), (14, 14), (10, 10),
                                                    (10, 10), (5, 5)]
    assert [r["receptive_field"][0] for r in rows[:6]] == [5, 5, 6, 14, 14, 16]
    assert [r["jump"][0] for r in rows[:6]] == [1, 1, 2, 2, 2, 4]
    assert rows[6]["receptive_field"] == (32, 32)  # Flatten: one window over the 5x5 maps
    assert rows[-1]["output_size"] == (1, 1)
    # 28x28 input: the 2 pixels of padding shift the first field's centre, not its size
    rows28 = nn.receptive_field(lenet5(input_size=28), 28)
    assert rows28[5]["receptive_field"] == (16, 16) and rows28[5]["start"] == (5.5, 5.5)


def test_receptive_field_of_a_strided_stack():
    model = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1),
                          nn.Sequential(nn.Conv2d(1, 1, (3, 1)), nn.MaxPool2d(2, stride=1)))
    rows = nn.receptive_field(model, (16, 12))
    assert [r["name"] for r in rows] == ["0", "1.0", "1.1"]
    assert rows[-1]["receptive_field"] == (3 + 2 * 2 + 2, 3 + 0 + 2)
    assert rows[-1]["jump"] == (2, 2) and rows[-1]["output_size"] == (5, 5)
    with pytest.raises(ValueError, match="ConvTranspose2d"):
        nn.receptive_field(nn.Sequential(nn.ConvTranspose2d(1, 1, 2)), 8)
    with pytest.raises(ValueError, match="output size"):
        nn.receptive_field(nn.Sequential(nn.Conv2d(1, 1, 5)), 4)


def test_lenet_runs_on_both_sizes():
    for size in (28, 32):
        model = lenet5(input_size=size)
        x = np.random.default_rng(0).standard_normal((3, 1, size, size)).astype(np.float32)
        scores = model(x)
        assert scores.shape == (3, 10)
        assert model.backward(np.ones_like(scores)).shape == x.shape


# -- GPU ---------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES, ids=CASE_IDS)
def test_cupy_conv_matches_reference(rng, case, dtype):
    import cupy

    n, c, f, size, kernel, stride, padding = case
    x, w, b = conv_inputs(rng, n, c, f, size, kernel, dtype)
    bt = rng.standard_normal(c).astype(dtype)
    with use("reference"):
        out, cache = ops.conv2d_forward(x, w, b, stride, padding)
        dout = rng.standard_normal(out.shape).astype(dtype)
        expected = (out,) + ops.conv2d_backward(dout, cache)
        # w (F, C, KH, KW) is also the weight of a transposed convolution from F to C channels
        tout, tcache = ops.conv_transpose2d_forward(out, w, bt, stride)
        tdout = rng.standard_normal(tout.shape).astype(dtype)
        expected_t = (tout,) + ops.conv_transpose2d_backward(tdout, tcache)
    gx, gw, gb, gbt, gdout, gtdout = (cupy.asarray(a) for a in (x, w, b, bt, dout, tdout))
    gout, gcache = ops.conv2d_forward(gx, gw, gb, stride, padding)
    got = (gout,) + ops.conv2d_backward(gdout, gcache)
    gtout, gtcache = ops.conv_transpose2d_forward(gout, gw, gbt, stride)
    got_t = (gtout,) + ops.conv_transpose2d_backward(gtdout, gtcache)
    for ours, theirs in zip(got + got_t, expected + expected_t, strict=True):
        assert ours.dtype == dtype
        assert rel_error(ours, theirs) < (1e-5 if dtype == np.float32 else 1e-12)


@pytest.fixture
def winograd_for_every_3x3(monkeypatch):
    """Every 3x3 convolution with stride 1 runs by Winograd, whatever its channels."""
    from course.kernels.cpu import winograd

    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "MIN_CHANNEL_PAIRS", 1)
    return winograd


@settings(max_examples=30, deadline=None,  # the fixture sets the same thresholds each time
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cfg=conv_configs())
def test_winograd_kernels_match_reference(winograd_for_every_3x3, cfg):
    """F(2x2, 3x3) against the reference loops: odd and even sizes (a last row or column of
    tiles cut in half), paddings 0 to 2, both dtypes, each backward pass alone and fused."""
    rng = np.random.default_rng(cfg["seed"])
    x, w, b = conv_inputs(rng, cfg["n"], cfg["c"], cfg["f"], cfg["size"], (3, 3), cfg["dtype"])
    one, padding = (1, 1), cfg["padding"]
    if min(x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1]) < 3:
        return  # no output pixel: im2col's case
    assert winograd_for_every_3x3.suits(x.shape, w.shape, one, padding)
    out = reference.conv2d_forward(x, w, b, one, padding)
    close(cpu.conv2d_forward(x, w, b, one, padding), out, cfg["dtype"])
    dout = rng.standard_normal(out.shape).astype(cfg["dtype"])
    close_backward(dout, x, w, one, padding, cfg["dtype"])


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("samples_per_group", [1, 2, 5])
def test_winograd_splits_the_batch_into_groups(rng, monkeypatch, numba_threads,
                                               winograd_for_every_3x3, samples_per_group,
                                               threads):
    """5 samples shared between one or two threads, in groups of 1, 2 or 5 samples."""
    numba_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    x, w, b = conv_inputs(rng, 5, 3, 4, (7, 6), (3, 3), np.float32)
    one = (1, 1)
    tile_bytes = 16 * 4 * 3 * 4 * x.itemsize  # 16 x (4 x 3 tiles) x max(C, F), per sample
    monkeypatch.setattr(winograd_for_every_3x3, "TILE_GROUP_BYTES", samples_per_group * tile_bytes)
    out = reference.conv2d_forward(x, w, b, one, one)
    close(cpu.conv2d_forward(x, w, b, one, one), out, np.float32)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    close_backward(dout, x, w, one, one, np.float32)


def test_winograd_passes_the_gradient_check(rng, winograd_for_every_3x3):
    x, w, b = conv_inputs(rng, 2, 3, 2, (5, 4), (3, 3))
    check_op(ops.conv2d_forward, ops.conv2d_backward, [x, w, b],
             params={"stride": 1, "padding": (1, 2)})


def test_winograd_runs_the_3x3_layers_with_channels_enough():
    from course.kernels.cpu.winograd import suits

    one = (1, 1)
    assert suits((8, 32, 16, 16), (64, 32, 3, 3), one, one)
    assert suits((8, 64, 2, 1), (64, 64, 3, 3), one, (1, 1))
    assert not suits((8, 16, 32, 32), (16, 16, 3, 3), one, one)  # too few channel pairs
    assert not suits((8, 3, 32, 32), (64, 3, 3, 3), one, one)    # too few input channels
    assert not suits((8, 32, 16, 16), (64, 32, 3, 3), (2, 2), one)
    assert not suits((8, 32, 16, 16), (64, 32, 5, 5), one, one)
    assert not suits((8, 32, 2, 16), (64, 32, 3, 3), one, (0, 1))  # no output row


def test_winograd_kernels_reject_buffers_of_the_wrong_shape():
    """Each transform checks the shapes it is given (Numba does not check bounds)."""
    from course.kernels.cpu import winograd

    xp = np.zeros((2, 3, 8, 6), np.float32)  # 3 x 2 tiles per sample
    v = np.zeros((16, 2 * 3 * 2, 3), np.float32)
    winograd._input_tiles(xp, v)
    winograd._input_tiles_adjoint(v, xp)
    for kernel, args in [(winograd._input_tiles, (xp, np.zeros((16, 11, 3), np.float32))),
                         (winograd._input_tiles_adjoint, (v[:, :, :2].copy(), xp))]:
        with pytest.raises(ValueError, match=r"tiles must be \(16, m\*th\*tw, channels\)"):
            kernel(*args)
    with pytest.raises(ValueError, match="framed planes must be"):
        winograd._input_tiles(np.zeros((2, 3, 7, 6), np.float32), v)
    out, b = np.zeros((2, 3, 5, 4), np.float32), np.zeros(3, np.float32)
    mm = np.zeros((16, 2 * 3 * 2, 3), np.float32)
    winograd._output_tiles(mm, b, out)
    winograd._output_tiles_adjoint(out, mm)
    for kernel, args in [(winograd._output_tiles, (np.zeros((16, 11, 3), np.float32), b, out)),
                         (winograd._output_tiles_adjoint, (out[:, :2].copy(), mm))]:
        with pytest.raises(ValueError, match="tiles must be"):
            kernel(*args)
    with pytest.raises(ValueError, match=r"b must be \(F,\)"):
        winograd._output_tiles(mm, np.zeros(4, np.float32), out)


def test_winograd_filter_transform_and_its_adjoint_match_the_matrix_products(rng):
    """U = G g G^T of every filter and channel, and dW = G^T dU G, against numpy's products with
    G written out (lecture 3), on odd channel counts; both kernels check their shapes."""
    from course.kernels.cpu import winograd

    g_matrix = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
    w = rng.standard_normal((5, 3, 3, 3)).astype(np.float32)
    u = np.empty((16, 3, 5), np.float32)
    winograd._filter_tiles(w, u)
    want = np.einsum("ak,fckl,bl->abcf", g_matrix, w, g_matrix).reshape(16, 3, 5)
    np.testing.assert_allclose(u, want, rtol=1e-6, atol=1e-6)
    du = rng.standard_normal((16, 3, 5)).astype(np.float32)
    dw = np.empty_like(w)
    winograd._filter_tiles_adjoint(du, dw)
    want = np.einsum("ak,abcf,bl->fckl", g_matrix, du.reshape(4, 4, 3, 5), g_matrix)
    np.testing.assert_allclose(dw, want, rtol=1e-6, atol=1e-6)
    assert np.isclose(np.vdot(u, du), np.vdot(w, dw), rtol=1e-5)  # <G w G^T, dU> = <w, G^T dU G>
    with pytest.raises(ValueError, match=r"w must be \(F, C, 3, 3\) and U \(16, C, F\)"):
        winograd._filter_tiles(w, np.empty((16, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"dW must be \(F, C, 3, 3\) and dU \(16, C, F\)"):
        winograd._filter_tiles_adjoint(du[:, :2].copy(), dw)
