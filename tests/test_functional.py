"""course.functional and nn modules on Tensors: each function is an ops pair recorded in the
graph; a U-Net-like graph (skip connection, concatenation, a shared module, two losses) gets
PyTorch's float64 gradients for every parameter and the input."""

import numpy as np
import pytest

import course.functional as F
from course import Tensor, nn, no_grad, ops

torch = pytest.importorskip("torch")
tF = torch.nn.functional

pytestmark = pytest.mark.dense


def t(array):
    return torch.tensor(array, requires_grad=True)


def away_from_kinks(rng, shape):
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)


def test_functions_on_arrays_return_arrays_and_on_tensors_record(rng):
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), np.zeros(2)
    out = F.linear(x, w, b)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, x @ w)
    xt = Tensor(x, requires_grad=True)
    y = F.linear(xt, w, b)
    assert isinstance(y, Tensor) and y.requires_grad and y.node.name == "linear_forward"
    y.sum().backward()
    np.testing.assert_allclose(xt.grad, np.ones((4, 2)) @ w.T)


@pytest.mark.parametrize("name, ours, theirs", [
    ("relu", F.relu, torch.relu),
    ("sigmoid", F.sigmoid, torch.sigmoid),
    ("tanh", F.tanh, torch.tanh),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: tF.leaky_relu(x, 0.1)),
    ("elu", F.elu, tF.elu),
])
def test_activations_match_pytorch(rng, name, ours, theirs):
    x = away_from_kinks(rng, (3, 5))
    g = rng.standard_normal((3, 5))
    ours_x, theirs_x = Tensor(x, requires_grad=True), t(x)
    ours(ours_x).backward(g)
    theirs(theirs_x).backward(torch.tensor(g))
    np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-10)


def test_conv_pool_and_losses_match_pytorch(rng):
    x = rng.standard_normal((2, 3, 7, 7))
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    wt, bt = rng.standard_normal((4, 2, 2, 2)), rng.standard_normal(2)
    y = np.array([0, 1])
    ours = [Tensor(a, requires_grad=True) for a in (x, w, b, wt, bt)]
    theirs = [t(a) for a in (x, w, b, wt, bt)]

    def forward(f, conv, convt, maxpool, avgpool, ce, xs):
        x_, w_, b_, wt_, bt_ = xs
        h = f.relu(conv(x_, w_, b_, stride=1, padding=1))
        h = convt(maxpool(h, 2, 2), wt_, bt_, stride=2, padding=0)       # (2, 2, 6, 6)
        s = avgpool(h, 3, 3)                                                # (2, 2, 2, 2)
        return ce(s.reshape(2, -1)[:, :3] * 1.0 + 0, y)

    ours_loss = forward(F, F.conv2d, F.conv_transpose2d, F.max_pool2d, F.avg_pool2d,
                        F.cross_entropy, ours)
    theirs_loss = forward(torch, tF.conv2d, tF.conv_transpose2d, tF.max_pool2d, tF.avg_pool2d,
                          lambda s, y: tF.cross_entropy(s, torch.tensor(y)), theirs)
    assert float(ours_loss.data) == pytest.approx(theirs_loss.item(), rel=1e-10)
    ours_loss.backward()
    theirs_loss.backward()
    for a, b_ in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, b_.grad.numpy(), rtol=1e-7, atol=1e-12)


def test_recurrent_embedding_and_temporal_loss_match_a_manual_unroll(rng):
    """The LSTM of the graph gives what the op's own backward gives (the op is what runs)."""
    n, steps, d, h, v = 2, 3, 4, 5, 6
    idx = rng.integers(0, v, (n, steps))
    table = Tensor(rng.standard_normal((v, d)), requires_grad=True)
    Wx = Tensor(rng.standard_normal((d, 4 * h)) * 0.3, requires_grad=True)
    Wh = Tensor(rng.standard_normal((h, 4 * h)) * 0.3, requires_grad=True)
    b = Tensor(np.zeros(4 * h), requires_grad=True)
    wo, bo = Tensor(rng.standard_normal((h, v)), requires_grad=True), np.zeros(v)
    mask = np.ones((n, steps), dtype=bool)
    emb = F.embedding(idx, table)
    hs = F.lstm(emb, np.zeros((n, h)), Wx, Wh, b)
    loss = F.temporal_cross_entropy(F.temporal_linear(hs, wo, bo), idx, mask)
    loss.backward()

    emb_a, c1 = ops.embedding_forward(idx, table.data)
    hs_a, c2 = ops.lstm_forward(emb_a, np.zeros((n, h)), Wx.data, Wh.data, b.data)
    s_a, c3 = ops.temporal_linear_forward(hs_a, wo.data, bo)
    loss_a, ds = ops.temporal_softmax_loss(s_a, idx, mask)
    dh, dwo, _ = ops.temporal_linear_backward(ds, c3)
    demb, _, dWx, dWh, db = ops.lstm_backward(dh, c2)
    np.testing.assert_allclose(float(loss.data), loss_a)
    for ours, expected in [(wo, dwo), (Wx, dWx), (Wh, dWh), (b, db),
                           (table, ops.embedding_backward(demb, c1))]:
        np.testing.assert_allclose(ours.grad, expected, rtol=1e-12)


def test_cat_splits_the_gradient(rng):
    a = Tensor(rng.standard_normal((2, 1, 3)), requires_grad=True)
    b = rng.standard_normal((2, 2, 3))
    g = rng.standard_normal((2, 3, 3))
    F.cat([a, b], axis=1).backward(g)
    np.testing.assert_allclose(a.grad, g[:, :1])
    assert isinstance(F.cat([b, b]), np.ndarray)


# -- the "Done when" graph --------------------------------------------------------------------

class TinyUNet(nn.Module):
    """Encoder, a shared convolution used twice, upsampling, a skip connection by channel
    concatenation, and two heads (segmentation and classification)."""

    def __init__(self):
        super().__init__()
        kw = {"dtype": np.float64}
        self.enc = nn.Conv2d(2, 4, 3, padding=1, rng=1, **kw)
        self.shared = nn.Conv2d(4, 4, 3, padding="same", rng=2, **kw)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ConvTranspose2d(4, 4, 2, stride=2, rng=3, **kw)
        self.norm = nn.BatchNorm2d(8, **kw)
        self.dec = nn.Conv2d(8, 3, 1, rng=4, **kw)
        self.head = nn.Linear(4, 5, rng=5, **kw)
        self.act = nn.ReLU()  # one instance, used four times

    def forward(self, x):
        e1 = self.act(self.enc(x))
        e2 = self.act(self.shared(self.pool(e1)))
        e3 = self.act(self.shared(e2))
        skip = F.cat([self.up(e3), e1], axis=1)
        seg = self.dec(self.act(self.norm(skip)))
        logits = self.head(F.global_avg_pool2d(e3))
        return seg, logits


def torch_unet(model, x):
    p = {name: torch.tensor(value, requires_grad=True)
         for name, value in model.state_dict().items() if "running" not in name}
    bn_mean, bn_var = torch.zeros(8, dtype=torch.float64), torch.ones(8, dtype=torch.float64)

    def forward(x):
        e1 = torch.relu(tF.conv2d(x, p["enc.weight"], p["enc.bias"], padding=1))
        e2 = torch.relu(tF.conv2d(tF.max_pool2d(e1, 2), p["shared.weight"], p["shared.bias"],
                                  padding=1))
        e3 = torch.relu(tF.conv2d(e2, p["shared.weight"], p["shared.bias"], padding=1))
        up = tF.conv_transpose2d(e3, p["up.weight"], p["up.bias"], stride=2)
        skip = torch.cat([up, e1], dim=1)
        normed = tF.batch_norm(skip, bn_mean, bn_var, p["norm.weight"], p["norm.bias"],
                               training=True)
        seg = tF.conv2d(torch.relu(normed), p["dec.weight"], p["dec.bias"])
        logits = tF.linear(e3.mean(dim=(2, 3)), p["head.weight"], p["head.bias"])
        return seg, logits
    return forward, p


def test_unet_like_graph_matches_pytorch_float64(rng):
    model = TinyUNet()
    x_data = rng.standard_normal((3, 2, 8, 8))
    target, labels = rng.standard_normal((3, 3, 8, 8)), np.array([0, 4, 2])

    x = Tensor(x_data, requires_grad=True)
    seg, logits = model(x)
    loss = F.mse_loss(seg, target) + 0.5 * F.cross_entropy(logits, labels)
    loss.backward()

    forward, p = torch_unet(model, None)
    xt = t(x_data)
    seg_t, logits_t = forward(xt)
    loss_t = ((seg_t - torch.tensor(target)) ** 2).sum() / 3 + 0.5 * tF.cross_entropy(
        logits_t, torch.tensor(labels))
    loss_t.backward()

    assert float(loss.data) == pytest.approx(loss_t.item(), rel=1e-10)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-6, atol=1e-10)
    for name, param in model.named_parameters():
        np.testing.assert_allclose(param.grad, p[name].grad.numpy(), rtol=1e-6, atol=1e-10,
                                   err_msg=name)
    assert model.shared.weight.grad is not None and model.act.__dict__.get("_caches") is None


def test_graph_is_freed_and_a_second_backward_is_a_clear_error(rng):
    x = Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    loss = F.relu(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="freed"):
        loss.backward()
    loss = F.relu(x).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_allclose(x.grad, 3 * (x.data > 0))  # three backward passes accumulated


def test_no_grad_records_nothing_and_keeps_no_cache(rng):
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64), nn.ReLU())
    with no_grad():
        out = model(Tensor(rng.standard_normal((4, 3)), requires_grad=True))
        model(rng.standard_normal((4, 3)))
    assert out.node is None and not out.requires_grad
    with pytest.raises(RuntimeError, match="before forward"):
        model.backward(np.ones((4, 2)))


def test_frozen_parameters_get_no_gradient_in_either_style(rng):
    lin = nn.Linear(3, 2, dtype=np.float64)
    lin.weight.requires_grad = False
    x = rng.standard_normal((4, 3))
    lin(Tensor(x)).sum().backward()
    assert lin.weight.grad is None and lin.bias.grad is not None
    lin.zero_grad()
    lin(x)
    lin.backward(np.ones((4, 2)))
    assert lin.weight.grad is None
    np.testing.assert_allclose(lin.bias.grad, [4.0, 4.0])


def test_functional_dropout_follows_manual_seed():
    import course

    def mask():
        course.manual_seed(3)
        return F.dropout(np.ones((3, 4)), p=0.5)

    np.testing.assert_array_equal(mask(), mask())
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    out = F.dropout(x, p=0.5, rng=1)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # kept values: 1 / (1 - p), both ways


@pytest.mark.gpu
def test_the_unet_graph_gives_the_same_gradients_on_the_gpu(rng):
    import cupy

    from course.backend import to_host

    model = TinyUNet()
    x_data = rng.standard_normal((3, 2, 8, 8))
    target, labels = rng.standard_normal((3, 3, 8, 8)), np.array([0, 4, 2])

    def gradients(device):
        model.to(device).zero_grad()
        xp = cupy if device == "cuda" else np
        x = Tensor(xp.asarray(x_data), requires_grad=True)
        seg, logits = model(x)
        loss = (F.mse_loss(seg, xp.asarray(target))
                + 0.5 * F.cross_entropy(logits, xp.asarray(labels)))
        loss.backward()
        return [to_host(x.grad)] + [to_host(p.grad) for p in model.parameters()]

    for cpu, gpu in zip(gradients("cpu"), gradients("cuda"), strict=True):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-6, atol=1e-10)
