"""Channel concatenation and splitting: gradients, kernels vs the reference, PyTorch, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import ops
from course.backend import use
from course.gradcheck import check_op
from course.kernels import cpu, reference

pytestmark = pytest.mark.arch

# channel counts of the inputs, and the sizes after the channel axis
CASES = [((2, 3), (4, 5)), ((1,), (3,)), ((3, 1, 2), (2, 3)), ((2, 2), ()), ((1, 4), (2, 1, 3))]


def arrays(rng, channels, rest, n=2, dtype=np.float64):
    return [rng.standard_normal((n, c) + rest).astype(dtype) for c in channels]


@pytest.mark.parametrize("kernel_set", ["reference", "numba"])
@pytest.mark.parametrize("channels, rest", CASES)
def test_concat_and_split_gradients(rng, channels, rest, kernel_set):
    xs = arrays(rng, channels, rest)
    with use(kernel_set):
        check_op(ops.concat_forward, ops.concat_backward, xs)
        x = np.concatenate(xs, axis=1)
        check_op(ops.split_forward, ops.split_backward, [x, list(channels)])


def test_concat_matches_numpy_and_split_undoes_it(rng):
    xs = arrays(rng, (2, 3, 1), (4, 5), dtype=np.float32)
    out, _ = ops.concat_forward(*xs)
    np.testing.assert_array_equal(out, np.concatenate(xs, axis=1))
    assert out.dtype == np.float32
    parts, _ = ops.split_forward(out, [2, 3, 1])
    for part, x in zip(parts, xs, strict=True):
        np.testing.assert_array_equal(part, x)
        assert part.flags.c_contiguous


def test_one_input_gives_one_gradient(rng):
    (x,) = arrays(rng, (3,), (2, 2))
    out, cache = ops.concat_forward(x)
    dx = ops.concat_backward(np.ones_like(out), cache)
    assert isinstance(dx, np.ndarray) and dx.shape == x.shape


@settings(max_examples=30, deadline=None)
@given(channels=st.lists(st.integers(1, 5), min_size=1, max_size=4),
       rest=st.lists(st.integers(1, 7), min_size=0, max_size=3),
       n=st.integers(0, 3), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**31))
def test_numba_kernels_match_reference(channels, rest, n, dtype, seed):
    rng = np.random.default_rng(seed)
    xs = arrays(rng, channels, tuple(rest), n, dtype)
    # non-contiguous inputs too: a transposed copy viewed back
    xs[0] = np.ascontiguousarray(xs[0].swapaxes(0, 1)).swapaxes(0, 1)
    expected = reference.channel_concat(xs)
    got = cpu.channel_concat(xs)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, expected)
    for ours, theirs in zip(cpu.channel_split(expected, channels),
                            reference.channel_split(expected, channels), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_matches_torch(rng):
    torch = pytest.importorskip("torch")
    xs = arrays(rng, (2, 3), (3, 4))
    out, cache = ops.concat_forward(*xs)
    dout = rng.standard_normal(out.shape)
    grads = ops.concat_backward(dout, cache)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout = torch.cat(txs, dim=1)
    tout.backward(torch.tensor(dout))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    for g, tx in zip(grads, txs, strict=True):
        np.testing.assert_array_equal(g, tx.grad.numpy())


@pytest.mark.parametrize("xs, error, match", [
    ([], ValueError, "at least one"),
    ([np.zeros(3)], ValueError, r"xs\[0\] must have at least 2 dimensions"),
    ([np.zeros((2, 3, 4)), np.zeros((2, 3, 5))], ValueError, r"xs\[1\] has shape .*channel axis"),
    ([np.zeros((2, 3, 4)), np.zeros((1, 3, 4))], ValueError, r"xs\[1\] has shape"),
    ([np.zeros((2, 3, 4)), np.zeros((2, 3, 4, 1))], ValueError, r"xs\[1\] has shape"),
    ([np.zeros((2, 3)), np.zeros((2, 3), np.float32)], TypeError, "one dtype"),
    ([np.zeros((2, 3)), np.zeros((2, 3), np.int64)], TypeError, "float32 or float64"),
    ([np.zeros((2, 3)), [[0.0] * 3] * 2], TypeError, "numpy or CuPy array"),
])
def test_concat_rejects_bad_input(xs, error, match):
    with pytest.raises(error, match=match):
        ops.concat_forward(*xs)


def test_backward_and_split_reject_bad_input():
    out, cache = ops.concat_forward(np.zeros((2, 3)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="dout must have shape"):
        ops.concat_backward(np.zeros((2, 5)), cache)
    x = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match="add up to 3 channels"):
        ops.split_forward(x, [1, 2])
    with pytest.raises(ValueError, match=r"sizes\[1\] must be at least 1"):
        ops.split_forward(x, [4, 0])
    with pytest.raises(TypeError, match="sizes must be"):
        ops.split_forward(x, 4)
    parts, cache = ops.split_forward(x, [1, 3])
    with pytest.raises(ValueError, match="concatenated douts must have shape"):
        ops.split_backward((np.zeros((2, 1, 3)), np.zeros((2, 2, 3))), cache)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cupy_concat_matches_reference(rng, dtype):
    import cupy

    xs = arrays(rng, (2, 3, 1), (5, 3), 3, dtype)
    out, cache = ops.concat_forward(*[cupy.asarray(x) for x in xs])
    np.testing.assert_array_equal(out.get(), reference.channel_concat(xs))
    grads = ops.concat_backward(out, cache)
    for g, x in zip(grads, xs, strict=True):
        assert isinstance(g, cupy.ndarray) and g.flags.c_contiguous
        np.testing.assert_array_equal(g.get(), x)
