"""Recurrent ops, kernels and modules: RNN, LSTM, embedding, temporal layers (lecture 7-8)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course import nn, ops, optim
from course.backend import gpu_available, to_device, to_host, use
from course.gradcheck import check_op, rel_error
from course.kernels import cpu, reference

pytestmark = pytest.mark.rnn


def lstm_inputs(rng, n=3, t=6, d=4, h=5, dtype=np.float64):
    x = rng.standard_normal((n, t, d))
    h0 = rng.standard_normal((n, h))
    wx = rng.standard_normal((d, 4 * h)) * 0.5
    wh = rng.standard_normal((h, 4 * h)) * 0.5
    b = rng.standard_normal(4 * h) * 0.5
    return [a.astype(dtype) for a in (x, h0, wx, wh, b)]


def rnn_inputs(rng, n=3, t=6, d=4, h=5, dtype=np.float64):
    x, h0, wx, wh, b = lstm_inputs(rng, n, t, d, h, dtype)
    return [x, h0, wx[:, :h], wh[:, :h], b[:h]]


# -- gradient checks (float64) ------------------------------------------------------------------

def test_rnn_step_gradients(rng):
    x, h0, wx, wh, b = rnn_inputs(rng)
    check_op(ops.rnn_step_forward, ops.rnn_step_backward, [x[:, 0], h0, wx, wh, b])


def test_rnn_bptt_gradients(rng):
    check_op(ops.rnn_forward, ops.rnn_backward, rnn_inputs(rng, t=6))


@pytest.mark.parametrize("kernel_set", ["reference", "numba"])
def test_lstm_step_gradients(rng, kernel_set):
    x, h0, wx, wh, b = lstm_inputs(rng)
    c0 = rng.standard_normal(h0.shape)
    with use(kernel_set):
        errors = check_op(ops.lstm_step_forward, ops.lstm_step_backward,
                          [x[:, 0], h0, c0, wx, wh, b])
    assert set(errors) == {"x", "prev_h", "prev_c", "Wx", "Wh", "b"}


@pytest.mark.parametrize("kernel_set", ["reference", "numba"])
def test_lstm_bptt_gradients(rng, kernel_set):
    with use(kernel_set):
        check_op(ops.lstm_forward, ops.lstm_backward, lstm_inputs(rng, n=2, t=7, d=3, h=4))


def test_embedding_gradient_adds_repeated_ids(rng):
    idx = np.array([[0, 2, 2, 4], [4, 4, 1, 0]])
    w = rng.standard_normal((6, 3))
    check_op(ops.embedding_forward, ops.embedding_backward, [idx, w])
    dw = ops.embedding_backward(np.ones((2, 4, 3)), ops.embedding_forward(idx, w)[1])
    np.testing.assert_array_equal(dw[:, 0], [2, 1, 2, 0, 3, 0])  # row 5 never used


def test_temporal_linear_gradients(rng):
    inputs = [rng.standard_normal((2, 5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)]
    check_op(ops.temporal_linear_forward, ops.temporal_linear_backward, inputs)


def test_temporal_softmax_loss_gradient_with_padding(rng):
    n, t, v = 3, 6, 7
    x = rng.standard_normal((n, t, v))
    y = rng.integers(0, v, (n, t))
    mask = np.arange(t)[None, :] < np.array([[6], [3], [1]])  # captions of different lengths
    loss, dx = ops.temporal_softmax_loss(x, y, mask)
    numerical = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        old = x[index]
        x[index] = old + 1e-6
        plus = ops.temporal_softmax_loss(x, y, mask)[0]
        x[index] = old - 1e-6
        minus = ops.temporal_softmax_loss(x, y, mask)[0]
        x[index] = old
        numerical[index] = (plus - minus) / 2e-6
    assert rel_error(dx, numerical) < 1e-7
    assert np.all(dx[~mask] == 0)


def test_temporal_softmax_loss_value():
    # Uniform scores: each kept step costs log(V); the sum over time is divided by N only.
    x = np.zeros((2, 3, 4))
    y = np.zeros((2, 3), dtype=np.int64)
    mask = np.array([[True, True, True], [True, False, False]])
    loss, _ = ops.temporal_softmax_loss(x, y, mask)
    assert loss == pytest.approx(4 * np.log(4) / 2)


def test_masked_positions_do_not_change_the_loss(rng):
    x = rng.standard_normal((2, 4, 5))
    y = rng.integers(0, 5, (2, 4))
    mask = np.array([[True, True, False, False], [True, True, True, False]])
    loss = ops.temporal_softmax_loss(x, y, mask)[0]
    x[~mask] = 100.0
    y[~mask] = 0
    assert ops.temporal_softmax_loss(x, y, mask)[0] == pytest.approx(loss)


# -- numerics: torch, kernels, dtypes -----------------------------------------------------------

def torch_gate_order_to_course(w):
    """torch stacks the gates i, f, g, o along axis 0; course wants i, f, o, g."""
    i, f, g, o = np.split(w, 4, axis=0)
    return np.concatenate([i, f, o, g], axis=0)


def test_lstm_matches_torch(rng):
    torch = pytest.importorskip("torch")
    n, t, d, h = 3, 6, 4, 5
    lstm = torch.nn.LSTM(d, h, batch_first=True).double()
    x = torch.tensor(rng.standard_normal((n, t, d)), requires_grad=True)
    h0 = torch.tensor(rng.standard_normal((1, n, h)), requires_grad=True)
    out, _ = lstm(x, (h0, torch.zeros(1, n, h, dtype=torch.float64)))
    dh = rng.standard_normal((n, t, h))
    out.backward(torch.tensor(dh))

    wx = torch_gate_order_to_course(lstm.weight_ih_l0.detach().numpy()).T.copy()
    wh = torch_gate_order_to_course(lstm.weight_hh_l0.detach().numpy()).T.copy()
    b = torch_gate_order_to_course((lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy())
    hs, cache = ops.lstm_forward(x.detach().numpy(), h0.detach().numpy()[0], wx, wh, b)
    dx, dh0, dwx, dwh, db = ops.lstm_backward(dh, cache)
    assert rel_error(hs, out.detach().numpy()) < 1e-12
    assert rel_error(dx, x.grad.numpy()) < 1e-12
    assert rel_error(dh0, h0.grad.numpy()[0]) < 1e-12
    assert rel_error(dwx, torch_gate_order_to_course(lstm.weight_ih_l0.grad.numpy()).T) < 1e-12
    assert rel_error(dwh, torch_gate_order_to_course(lstm.weight_hh_l0.grad.numpy()).T) < 1e-12
    assert rel_error(db, torch_gate_order_to_course(lstm.bias_ih_l0.grad.numpy())) < 1e-12


def test_rnn_matches_torch(rng):
    torch = pytest.importorskip("torch")
    x, h0, wx, wh, b = rnn_inputs(rng)
    rnn = torch.nn.RNN(4, 5, batch_first=True).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.tensor(wx.T))
        rnn.weight_hh_l0.copy_(torch.tensor(wh.T))
        rnn.bias_ih_l0.copy_(torch.tensor(b))
        rnn.bias_hh_l0.zero_()
    out, _ = rnn(torch.tensor(x), torch.tensor(h0)[None])
    assert rel_error(ops.rnn_forward(x, h0, wx, wh, b)[0], out.detach().numpy()) < 1e-12


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 5), h=st.integers(1, 9), dtype=st.sampled_from([np.float32, np.float64]),
       seed=st.integers(0, 2**16))
def test_numba_lstm_cell_matches_reference(n, h, dtype, seed):
    rng = np.random.default_rng(seed)
    a = (3 * rng.standard_normal((n, 4 * h))).astype(dtype)
    prev_c = rng.standard_normal((n, h)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    fast, slow = cpu.lstm_cell_forward(a, prev_c), reference.lstm_cell_forward(a, prev_c)
    for got, want in zip(fast, slow, strict=True):
        assert got.dtype == dtype and rel_error(got, want) < tol
    dnext_h, dnext_c = (rng.standard_normal((n, h)).astype(dtype) for _ in range(2))
    args = (dnext_h, dnext_c, prev_c, slow[2], slow[3])
    for got, want in zip(cpu.lstm_cell_backward(*args), reference.lstm_cell_backward(*args),
                         strict=True):
        assert got.dtype == dtype and rel_error(got, want) < tol


def test_numba_float32_tanh_is_within_its_stated_error():
    # the fast float32 cell computes tanh with a rational function (course.kernels.cpu.recurrent)
    grid = np.linspace(-12, 12, 240_001, dtype=np.float32)
    a = np.zeros((1, 4 * grid.size), np.float32)
    a[0, 3 * grid.size:] = grid  # the candidate block g = tanh(a_g)
    gates = cpu.lstm_cell_forward(a, np.zeros((1, grid.size), np.float32))[2]
    error = np.abs(gates[0, 3 * grid.size:] - np.tanh(grid.astype(np.float64)))
    assert error.max() < 3.5e-7
    assert np.array_equal(gates[0, :grid.size], np.full(grid.size, 0.5, np.float32))  # sigmoid(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lstm_cell_propagates_nan(dtype):
    a = np.zeros((1, 8), dtype)
    a[0, 0] = np.nan  # the first unit's input gate
    for kernels in (cpu, reference):
        next_h, next_c, _, _ = kernels.lstm_cell_forward(a, np.ones((1, 2), dtype))
        assert np.isnan(next_h[0, 0]) and np.isnan(next_c[0, 0])
        assert np.isfinite(next_h[0, 1]) and np.isfinite(next_c[0, 1])


def test_lstm_cell_saturates_without_nan():
    a = np.array([[-1000.0, 1000.0, -1000.0, 1000.0]], dtype=np.float32)
    for kernels in (cpu, reference):
        next_h, next_c, gates, _ = kernels.lstm_cell_forward(a, np.ones((1, 1), np.float32))
        np.testing.assert_array_equal(gates, [[0, 1, 0, 1]])
        assert np.isfinite(next_h).all() and next_c[0, 0] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["rnn", "lstm"])
def test_sequence_ops_keep_dtype(rng, dtype, op):
    make = rnn_inputs if op == "rnn" else lstm_inputs
    forward, backward = getattr(ops, f"{op}_forward"), getattr(ops, f"{op}_backward")
    inputs = make(rng, n=1, t=5, dtype=dtype)  # a batch of 1
    h, cache = forward(*inputs)
    grads = backward(np.ones_like(h), cache)
    assert h.dtype == dtype and all(g.dtype == dtype for g in grads)
    h64 = forward(*[a.astype(np.float64) for a in inputs])[0]
    assert rel_error(h, h64) < (1e-5 if dtype == np.float32 else 1e-15)


# -- bad input ----------------------------------------------------------------------------------

def test_lstm_rejects_bad_shapes(rng):
    x, h0, wx, wh, b = lstm_inputs(rng)
    with pytest.raises(ValueError, match="Wx must have shape"):
        ops.lstm_forward(x, h0, wx[:, :-1], wh, b)
    with pytest.raises(ValueError, match="h0 must have 3 rows"):
        ops.lstm_forward(x, h0[:2], wx, wh, b)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        ops.lstm_forward(x[0], h0, wx, wh, b)
    with pytest.raises(TypeError, match="share one dtype"):
        ops.lstm_forward(x.astype(np.float32), h0, wx, wh, b)
    with pytest.raises(ValueError, match="Wh must have shape"):
        ops.rnn_forward(*rnn_inputs(rng)[:3], wh, b[:5])
    h, cache = ops.lstm_forward(x, h0, wx, wh, b)
    with pytest.raises(ValueError, match="dh must have shape"):
        ops.lstm_backward(h[:, :-1], cache)
    (next_h, _), cache = ops.lstm_step_forward(x[:, 0], h0, h0, wx, wh, b)
    with pytest.raises(TypeError, match=r"dout must be the pair \(dnext_h, dnext_c\)"):
        ops.lstm_step_backward(next_h, cache)
    with pytest.raises(ValueError, match="prev_c must have shape"):
        ops.lstm_step_forward(x[:, 0], h0, h0[:, :-1], wx, wh, b)


def test_embedding_rejects_ids_outside_vocabulary(rng):
    w = rng.standard_normal((5, 3))
    with pytest.raises(ValueError, match=r"idx must be in \[0, 5\), got values from 0 to 5"):
        ops.embedding_forward(np.array([[0, 5]]), w)
    with pytest.raises(ValueError, match="from -1"):
        ops.embedding_forward(np.array([[-1, 2]]), w)
    with pytest.raises(TypeError, match="idx must hold integers"):
        ops.embedding_forward(np.array([[0.0, 1.0]]), w)


def test_temporal_softmax_loss_rejects_bad_input(rng):
    x = rng.standard_normal((2, 3, 4))
    y = np.zeros((2, 3), dtype=np.int64)
    mask = np.ones((2, 3), dtype=bool)
    with pytest.raises(ValueError, match=r"mask must have shape \(2, 3\), got \(3, 2\)"):
        ops.temporal_softmax_loss(x, y, mask.T)
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        ops.temporal_softmax_loss(x, y, mask.astype(np.int64))
    with pytest.raises(ValueError, match=r"y must be in \[0, 4\)"):
        ops.temporal_softmax_loss(x, y + 4, mask)
    with pytest.raises(ValueError, match=r"y must have shape \(2, 3\)"):
        ops.temporal_softmax_loss(x, y[:, :2], mask)


# -- modules and gradient clipping --------------------------------------------------------------

@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM])
def test_recurrent_module_matches_ops(rng, cls):
    module = cls(4, 5, rng=0, dtype=np.float64)
    x = rng.standard_normal((2, 6, 4))
    h0 = rng.standard_normal((2, 5))
    h = module(x, h0)
    dh = rng.standard_normal(h.shape)
    dx = module.backward(dh)
    op = "lstm" if cls is nn.LSTM else "rnn"
    params = [module.Wx.data, module.Wh.data, module.b.data]
    expected_h, cache = getattr(ops, f"{op}_forward")(x, h0, *params)
    grads = getattr(ops, f"{op}_backward")(dh, cache)
    np.testing.assert_allclose(h, expected_h)
    for got, want in zip([dx, module.dh0, module.Wx.grad, module.Wh.grad, module.b.grad], grads,
                         strict=True):
        np.testing.assert_allclose(got, want)
    out = module(x)  # h0 defaults to zeros; an LSTM called so returns out, (h_n, c_n)
    assert (out[0] if cls is nn.LSTM else out).shape == (2, 6, 5)


def test_embedding_and_temporal_linear_modules(rng):
    embed, linear = nn.Embedding(7, 3, rng=0), nn.TemporalLinear(3, 2, rng=0)
    idx = rng.integers(0, 7, (2, 4))
    out = linear(embed(idx))
    assert out.shape == (2, 4, 2) and out.dtype == np.float32
    assert embed.backward(linear.backward(np.ones_like(out))) is None
    assert embed.weight.grad.shape == (7, 3) and linear.weight.grad.shape == (2, 3)
    assert [name for name, _ in embed.named_parameters()] == ["weight"]


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = nn.Parameter(np.zeros(2)), nn.Parameter(np.zeros(1))
    a.grad, b.grad = np.array([3.0, 0.0]), np.array([4.0])  # global norm 5
    assert optim.clip_grad_norm([a, b], 1.0) == pytest.approx(5.0)
    np.testing.assert_allclose(np.concatenate([a.grad, b.grad]), [0.6, 0, 0.8], rtol=1e-5)
    assert optim.clip_grad_norm([a, b], 10.0) == pytest.approx(1.0, rel=1e-5)  # no change
    np.testing.assert_allclose(a.grad, [0.6, 0], rtol=1e-5)


def test_optimizer_clip_norm_bounds_the_step():
    p = nn.Parameter(np.zeros(2))
    p.grad = np.array([300.0, 400.0])
    optim.SGD([p], lr=1.0, clip_norm=5.0).step()
    assert np.linalg.norm(p.data) == pytest.approx(5.0, rel=1e-5)


# -- GPU ----------------------------------------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_lstm_cell_matches_reference(rng, dtype):
    from course.kernels import gpu

    n, h = 5, 7
    a = (3 * rng.standard_normal((n, 4 * h))).astype(dtype)
    prev_c = rng.standard_normal((n, h)).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    want = reference.lstm_cell_forward(a, prev_c)
    got = gpu.lstm_cell_forward(to_device(a, "cuda"), to_device(prev_c, "cuda"))
    for g, w in zip(got, want, strict=True):
        assert rel_error(to_host(g), w) < tol
    args = [rng.standard_normal((n, h)).astype(dtype) for _ in range(2)] + [prev_c, want[2],
                                                                           want[3]]
    got = gpu.lstm_cell_backward(*[to_device(v, "cuda") for v in args])
    for g, w in zip(got, reference.lstm_cell_backward(*args), strict=True):
        assert rel_error(to_host(g), w) < tol


@pytest.mark.gpu
def test_gpu_lstm_forward_backward_matches_cpu(rng):
    assert gpu_available()
    inputs = lstm_inputs(rng, n=2, t=5)
    h, cache = ops.lstm_forward(*inputs)
    grads = ops.lstm_backward(np.ones_like(h), cache)
    h_gpu, cache_gpu = ops.lstm_forward(*[to_device(v, "cuda") for v in inputs])
    grads_gpu = ops.lstm_backward(to_device(np.ones_like(h), "cuda"), cache_gpu)
    assert rel_error(to_host(h_gpu), h) < 1e-12
    for g, w in zip(grads_gpu, grads, strict=True):
        assert rel_error(to_host(g), w) < 1e-12


# -- nn.LSTM as PyTorch users expect: (h0, c0), (h_n, c_n), num_layers ---------------------------

def lstm_states_inputs(rng, n=2, t=4, d=3, h=4):
    x, h0, wx, wh, b = lstm_inputs(rng, n, t, d, h)
    return [x, h0, rng.standard_normal((n, h)), wx, wh, b]


def test_lstm_states_gradients(rng):
    check_op(ops.lstm_states_forward, ops.lstm_states_backward, lstm_states_inputs(rng))


def test_lstm_states_hold_the_sequence_and_the_final_cell(rng):
    x, h0, c0, wx, wh, b = lstm_states_inputs(rng)
    states, _ = ops.lstm_states_forward(x, h0, c0, wx, wh, b)
    h, c = h0, c0
    for t in range(x.shape[1]):
        (h, c), _ = ops.lstm_step_forward(x[:, t], h, c, wx, wh, b)
        np.testing.assert_allclose(states[:, :, t + 1], [h, c], rtol=1e-12)
    np.testing.assert_array_equal(states[:, :, 0], [h0, c0])
    empty, _ = ops.lstm_states_forward(x[:, :0], h0, c0, wx, wh, b)  # T = 0: the initial state
    np.testing.assert_array_equal(empty[:, :, -1], [h0, c0])
    with pytest.raises(ValueError, match="c0 must have shape"):
        ops.lstm_states_forward(x, h0, c0[:, :-1], wx, wh, b)


def lstm_loss_weights(rng, out, h_n, c_n):
    return tuple(rng.standard_normal(a.shape) for a in (out, h_n, c_n))


@pytest.mark.parametrize("batch_first", [True, False])
def test_stacked_lstm_gradients_are_numerical(rng, batch_first):
    """Two layers, given (h0, c0), a loss on out, h_n and c_n: every gradient of backward is
    the numerical one (float64)."""
    from course.gradcheck import numerical_gradient_array

    lstm = nn.LSTM(3, 4, num_layers=2, batch_first=batch_first, rng=0, dtype=np.float64)
    lstm.b_l1.data[:] = rng.standard_normal(16)
    x = rng.standard_normal((2, 3, 3) if batch_first else (3, 2, 3))  # N = 2, T = 3, D = 3
    hx = (rng.standard_normal((2, 2, 4)), rng.standard_normal((2, 2, 4)))
    out, (h_n, c_n) = lstm(x, hx)
    weights = lstm_loss_weights(rng, out, h_n, c_n)
    dx = lstm.backward((weights[0], weights[1:]))

    def run():
        o, (a, c) = lstm(x, hx)
        return o, a, c

    analytic = {"x": dx, "h0": lstm.dh0, "c0": lstm.dc0,
                **{name: p.grad for name, p in lstm.named_parameters()}}
    arrays = {"x": x, "h0": hx[0], "c0": hx[1],
              **{name: p.data for name, p in lstm.named_parameters()}}
    assert sorted(arrays) == sorted(["x", "h0", "c0", "Wx", "Wh", "b", "Wx_l1", "Wh_l1", "b_l1"])
    for name, array in arrays.items():
        numerical = numerical_gradient_array(run, array, weights)
        assert rel_error(analytic[name], numerical) < 1e-7, name


@pytest.mark.parametrize("batch_first", [True, False])
def test_stacked_lstm_matches_torch(rng, batch_first):
    """The same weights in torch.nn.LSTM (via course.interop): outputs, final states and every
    gradient agree in float64."""
    torch = pytest.importorskip("torch")
    from course import interop

    lstm = nn.LSTM(3, 5, num_layers=3, batch_first=batch_first, rng=0, dtype=np.float64)
    for name, p in lstm.named_parameters():
        if name.startswith("b"):
            p.data[:] = rng.standard_normal(p.shape)
    mirror = torch.nn.LSTM(3, 5, num_layers=3, batch_first=batch_first, dtype=torch.float64)
    mirror.load_state_dict(interop.to_torch_state_dict(lstm))
    x = rng.standard_normal((2, 4, 3))
    n = 2 if batch_first else 4
    hx = (rng.standard_normal((3, n, 5)), rng.standard_normal((3, n, 5)))
    tx, th0, tc0 = (torch.tensor(a, requires_grad=True) for a in (x, *hx))
    tout, (th, tc) = mirror(tx, (th0, tc0))
    out, (h_n, c_n) = lstm(x, hx)
    for ours, theirs in ((out, tout), (h_n, th), (c_n, tc)):
        assert rel_error(ours, theirs.detach().numpy()) < 1e-12
    weights = lstm_loss_weights(rng, out, h_n, c_n)
    loss = sum((t * torch.tensor(w)).sum() for t, w in zip((tout, th, tc), weights, strict=True))
    loss.backward()
    dx = lstm.backward((weights[0], weights[1:]))
    assert rel_error(dx, tx.grad.numpy()) < 1e-12
    assert rel_error(lstm.dh0, th0.grad.numpy()) < 1e-12
    assert rel_error(lstm.dc0, tc0.grad.numpy()) < 1e-12
    grads = interop.to_torch_state_dict(_grads_as_module(lstm))
    for name, p in mirror.named_parameters():  # course's one bias: the gradient of both
        ours = grads[name.replace("bias_hh", "bias_ih")].numpy()
        assert rel_error(ours, p.grad.numpy()) < 1e-12, name


def _grads_as_module(lstm):
    """A copy of ``lstm`` whose parameters hold its gradients (to convert them with interop)."""
    copy = nn.LSTM(lstm.input_size, lstm.hidden_size, num_layers=lstm.num_layers, rng=0,
                   dtype=np.float64)
    copy.load_state_dict({name: p.grad for name, p in lstm.named_parameters()})
    return copy


def test_stacked_lstm_on_tensors_matches_its_torch7_backward(rng):
    from course import Tensor

    lstm = nn.LSTM(3, 4, num_layers=2, rng=0, dtype=np.float64)
    x, h0, c0 = (rng.standard_normal(s) for s in ((2, 5, 3), (2, 2, 4), (2, 2, 4)))
    out, (h_n, c_n) = lstm(x, (h0, c0))
    weights = lstm_loss_weights(rng, out, h_n, c_n)
    dx = lstm.backward((weights[0], weights[1:]))
    expected = [dx, lstm.dh0, lstm.dc0] + [p.grad for p in lstm.parameters()]
    lstm.zero_grad()
    inputs = [Tensor(a, requires_grad=True) for a in (x, h0, c0)]
    tout, (th, tc) = lstm(inputs[0], (inputs[1], inputs[2]))
    ((tout * weights[0]).sum() + (th * weights[1]).sum() + (tc * weights[2]).sum()).backward()
    got = [t.grad for t in inputs] + [p.grad for p in lstm.parameters()]
    for g, e in zip(got, expected, strict=True):
        assert rel_error(g, e) < 1e-12


def test_lstm_call_forms(rng):
    """PyTorch's ``lstm(x)`` gives zeros for (h0, c0); the lectures' ``lstm(x, h0)`` runs
    ``ops.lstm_forward`` and returns the sequence only."""
    lstm = nn.LSTM(3, 4, rng=0, dtype=np.float64)
    x, h0 = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4))
    out, (h_n, c_n) = lstm(x)
    zeros = np.zeros((1, 2, 4))
    np.testing.assert_array_equal(out, lstm(x, (zeros, zeros))[0])
    np.testing.assert_array_equal(h_n[0], out[:, -1])
    h = lstm(x, h0)
    lstm.backward(np.ones_like(h))  # backward takes the form of the latest forward
    lecture_dh0 = lstm.dh0
    assert lecture_dh0.shape == (2, 4) and lstm.dc0 is None
    np.testing.assert_array_equal(h, lstm(x, (h0[None], zeros))[0])
    lstm.backward(np.ones_like(h))
    assert lstm.dh0.shape == lstm.dc0.shape == (1, 2, 4)
    np.testing.assert_allclose(lstm.dh0[0], lecture_dh0, rtol=1e-12)


def test_lstm_rejects_bad_states(rng):
    lstm = nn.LSTM(3, 4, num_layers=2, rng=0)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    state = np.zeros((2, 2, 4), np.float32)
    with pytest.raises(ValueError, match=r"c0 must have shape \(num_layers, N, H\)"):
        lstm(x, (state, state[:1]))
    with pytest.raises(ValueError, match="hx must be the pair"):
        lstm(x, (state,))
    with pytest.raises(ValueError, match="one-layer, batch-first form"):
        lstm(x, state[0])
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, 3\)"):
        lstm(x[..., :2])
    out, _ = lstm(x)
    with pytest.raises(ValueError, match="dout must have shape"):
        lstm.backward(out[:, 1:])
    with pytest.raises(TypeError, match="dh_n must have the forward input's dtype"):
        lstm.backward((out, (state.astype(np.float64), None)))
    with pytest.raises(ValueError, match="num_layers must be"):
        nn.LSTM(3, 4, num_layers=0)
