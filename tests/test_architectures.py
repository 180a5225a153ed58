"""Architectures: DenseNet's blocks, small_densenet, fcn, unet, summary; each model's full
backward against PyTorch's on the same weights (float64); bad input to every module.

The PyTorch mirror below walks a ``course.nn`` model and applies the matching
``torch.nn.functional`` call for each module, on torch tensors holding the same weights.
"""

import numpy as np
import pytest

from course import nn, ops
from course.models import UNet, fcn, lenet5, small_densenet, small_resnet, summary, unet

pytestmark = pytest.mark.arch

def torch_weights(torch, model):
    return {id(p): torch.tensor(p.data, requires_grad=True) for p in model.parameters()}


def torch_forward(torch, module, x, weights):  # noqa: C901 - one branch per module type
    F = torch.nn.functional

    def w(p):
        return weights[id(p)]

    if isinstance(module, nn.Sequential):
        for layer in module:
            x = torch_forward(torch, layer, x, weights)
        return x
    if isinstance(module, nn.DenseBlock):
        for layer in module.layers:
            x = torch.cat([x, torch_forward(torch, layer, x, weights)], dim=1)
        return x
    if isinstance(module, UNet):
        skips = []
        for encoder, pool in zip(module.encoders, module.pools, strict=True):
            x = torch_forward(torch, encoder, x, weights)
            skips.append(x)
            x = torch_forward(torch, pool, x, weights)
        x = torch_forward(torch, module.bottleneck, x, weights)
        for up, decoder, skip in zip(module.ups, module.decoders, reversed(skips), strict=True):
            x = torch.cat([torch_forward(torch, up, x, weights), skip], dim=1)
            x = torch_forward(torch, decoder, x, weights)
        return torch_forward(torch, module.head, x, weights)
    if isinstance(module, nn.Residual):
        skip = x if module.shortcut is None else torch_forward(torch, module.shortcut, x, weights)
        return torch_forward(torch, module.block, x, weights) + skip
    if isinstance(module, nn.Conv2d):
        return F.conv2d(x, w(module.weight), w(module.bias), stride=module.stride,
                        padding=module.padding)
    if isinstance(module, nn.Conv1d):
        return F.conv1d(x, w(module.weight), w(module.bias), stride=module.stride,
                        padding=module.padding)
    if isinstance(module, nn.ConvTranspose2d):
        return F.conv_transpose2d(x, w(module.weight), w(module.bias), stride=module.stride,
                                  padding=module.padding)
    if isinstance(module, nn.BatchNorm2d):
        return F.batch_norm(x, None, None, w(module.weight), w(module.bias), training=True,
                            eps=module.eps)
    if isinstance(module, nn.ReLU):
        return F.relu(x)
    if isinstance(module, nn.MaxPool2d):
        return F.max_pool2d(x, module.params["size"], module.params["stride"])
    if isinstance(module, nn.AvgPool2d):
        return F.avg_pool2d(x, module.params["size"], module.params["stride"])
    if isinstance(module, nn.GlobalAvgPool2d):
        return x.mean(dim=(2, 3))
    if isinstance(module, nn.Flatten):
        return x.reshape(x.shape[0], -1)
    if isinstance(module, nn.Linear):
        return F.linear(x.reshape(x.shape[0], -1), w(module.weight), w(module.bias))
    raise TypeError(f"no torch mirror for {type(module).__name__}")


def compare_with_torch(torch, model, x, rng, rtol=1e-8):
    """Forward and full backward of ``model`` (float64, training mode) against PyTorch's on the
    same weights, with a random upstream gradient: output, dx and every parameter's gradient."""
    out = model(x)
    dout = rng.standard_normal(out.shape)
    dx = model.backward(dout)
    weights = torch_weights(torch, model)
    tx = torch.tensor(x, requires_grad=True)
    tout = torch_forward(torch, model, tx, weights)
    tout.backward(torch.tensor(dout))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=rtol, atol=1e-10)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=rtol, atol=1e-10)
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, weights[id(p)].grad.numpy(), rtol=rtol, atol=1e-10,
                                   err_msg=name)
    return len(model.parameters())


# -- the models against PyTorch ------------------------------------------------------------------

TINY_MODELS = {
    "small_densenet": (lambda: small_densenet(3, growth_rate=3, block_layers=(2, 2),
                                              dtype=np.float64), (3, 3, 8, 8)),
    "unet": (lambda: unet(3, 4, widths=(3, 4, 5), dtype=np.float64), (2, 3, 8, 8)),
    "unet-1-conv": (lambda: unet(2, 3, widths=(2, 3), convs=1, dtype=np.float64), (2, 2, 6, 4)),
    "fcn": (lambda: fcn(3, 4, widths=(3, 4, 5), dtype=np.float64), (2, 3, 8, 12)),
    "small_resnet": (lambda: small_resnet(3, widths=(2, 3, 2), dtype=np.float64),
                     (3, 3, 8, 8)),
}


@pytest.mark.parametrize("name", list(TINY_MODELS))
def test_full_backward_matches_torch(rng, name):
    torch = pytest.importorskip("torch")
    make, shape = TINY_MODELS[name]
    assert compare_with_torch(torch, make(), rng.standard_normal(shape), rng) > 5


def test_dense_block_concatenates_features(rng):
    block = nn.DenseBlock(4, growth_rate=3, num_layers=2, rng=0)
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    out = block(x)
    assert out.shape == (2, 10, 5, 5) and block.out_channels == 10
    np.testing.assert_array_equal(out[:, :4], x)  # the input is passed on unchanged
    assert block.backward(np.ones_like(out)).shape == x.shape
    layer_inputs = [layer[2].in_channels for layer in block.layers]  # the convolutions
    assert layer_inputs == [4, 7]


def test_transition_halves_the_resolution(rng):
    x = rng.standard_normal((2, 8, 6, 6)).astype(np.float32)
    out = nn.Transition(8, 4, rng=0)(x)
    assert out.shape == (2, 4, 3, 3)


@pytest.mark.parametrize("make, x_shape, out_shape", [
    (lambda: small_densenet(), (2, 3, 32, 32), (2, 4)),
    (lambda: unet(), (2, 3, 32, 32), (2, 5, 32, 32)),
    (lambda: unet(1, 2, widths=(4, 4, 4, 4)), (1, 1, 16, 24), (1, 2, 16, 24)),
    (lambda: fcn(), (2, 3, 32, 32), (2, 5, 32, 32)),
])
def test_output_shapes_and_float32(rng, make, x_shape, out_shape):
    model = make()
    x = rng.random(x_shape, dtype=np.float32)
    out = model(x)
    assert out.shape == out_shape and out.dtype == np.float32
    assert model.backward(np.ones_like(out)).shape == x_shape


def test_same_seed_same_unet():
    a, b, c = unet(rng=3).state_dict(), unet(rng=3).state_dict(), unet(rng=4).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_unet_trains_on_a_small_batch():
    from course import optim
    from course.data import load_shape_scenes

    data = load_shape_scenes(n_train=8, n_val=0, n_test=0, seed=1)
    x, y = data["X_train"], data["y_train"]
    model = unet(widths=(8, 16), rng=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss, dscores = ops.pixel_softmax_loss(model(x), y)
        optimizer.zero_grad()
        model.backward(dscores)
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]


# -- summary ---------------------------------------------------------------------------------------

def test_summary_of_lenet5():
    model = lenet5()
    result = summary(model, (1, 32, 32))
    assert [row["output_shape"] for row in result.rows][:3] == [(6, 28, 28), (6, 28, 28),
                                                                (6, 14, 14)]
    assert result.parameters == sum(p.data.size for p in model.parameters()) == 61_706
    conv1, conv2 = 28 * 28 * 6 * 25, 10 * 10 * 16 * 6 * 25
    assert result.rows[0]["mult_adds"] == conv1 and result.rows[3]["mult_adds"] == conv2
    assert result.mult_adds == conv1 + conv2 + 400 * 120 + 120 * 84 + 84 * 10
    assert "61,706 parameters" in str(result)


def test_summary_walks_custom_modules_and_keeps_the_mode(rng):
    model = unet(widths=(4, 8), convs=1)
    model.train()
    result = summary(model, (3, 16, 16))
    assert result.parameters == sum(p.data.size for p in model.parameters())
    names = [row["name"] for row in result.rows]
    assert names[0] == "encoders.0.0" and names[-1] == "head"
    up = next(row for row in result.rows if row["layer"] == "ConvTranspose2d")
    assert up["output_shape"] == (4, 16, 16) and up["mult_adds"] == 8 * 8 * 8 * 4 * 4
    assert all(m.training for m in model.modules())
    assert "forward" not in vars(model.head)  # the watchers are gone
    model(rng.random((2, 3, 16, 16), dtype=np.float32))


def test_summary_rejects_a_bad_shape():
    with pytest.raises(ValueError, match="without the batch axis"):
        summary(lenet5(), (1, 0, 32))


# -- bad input -------------------------------------------------------------------------------------

def test_modules_reject_bad_input(rng):
    x = rng.random((2, 3, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=r"DenseBlock expects x of shape \(N, 4, H, W\)"):
        nn.DenseBlock(4, 2, 2)(x)
    with pytest.raises(ValueError, match=r"DenseBlock expects"):
        nn.DenseBlock(3, 2, 2)(x[0])
    with pytest.raises(ValueError, match="growth_rate must be at least 1"):
        nn.DenseBlock(3, 0, 2)
    with pytest.raises(ValueError, match="in_channels must be at least 1"):
        nn.Transition(0, 2)
    with pytest.raises(ValueError, match=r"Transition expects x of shape \(N, 8, H, W\)"):
        nn.Transition(8, 2)(rng.random((2, 4, 4, 4), dtype=np.float32))
    with pytest.raises(ValueError, match=r"FCN expects x of shape \(N, 3, H, W\)"):
        fcn()(rng.random((2, 1, 32, 32), dtype=np.float32))
    with pytest.raises(ValueError, match="FCN needs H and W divisible by 4"):
        fcn()(rng.random((2, 3, 30, 32), dtype=np.float32))
    with pytest.raises(ValueError, match=r"UNet expects x of shape \(N, 1, H, W\)"):
        unet(1)(x)
    with pytest.raises(ValueError, match="UNet needs H and W divisible by 4"):
        unet()(rng.random((2, 3, 10, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="at least two levels"):
        unet(widths=(8,))
    with pytest.raises(ValueError, match=r"widths\[1\] must be at least 1"):
        fcn(widths=(8, 0))
    with pytest.raises(RuntimeError, match="before forward"):
        unet().backward(np.zeros((1, 5, 8, 8), dtype=np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        nn.DenseBlock(3, 2, 2).backward(np.zeros((1, 7, 8, 8), dtype=np.float32))
    assert isinstance(unet(), UNet)
