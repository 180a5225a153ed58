"""course.interpret: saliency, occlusion, deconvnet, class visualisation, adversarial examples.

Gradients are compared with PyTorch on the same weights in float64; occlusion with a slow loop
over patches; deconvnet projections with cases computed by hand.
"""

import numpy as np
import pytest
import torch
from scipy import ndimage

from course import interpret, nn
from course.backend import to_device, to_host
from course.models import lenet5, mlp, small_resnet

pytestmark = pytest.mark.interpret


def float64(model):
    """The model with float64 parameters and buffers (gradients compared at 1e-10)."""
    for p in model.parameters():
        p.data = p.data.astype(np.float64)
    for module in model.modules():
        for name, value in module._buffers.items():
            module._buffers[name] = value.astype(np.float64)
    return model


def trained_like(model, rng):
    """Random running statistics, so batch norm in evaluation mode is not the identity."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module._buffers["running_mean"][:] = rng.normal(0, 0.1, module.num_features)
            module._buffers["running_var"][:] = rng.uniform(0.5, 1.5, module.num_features)
    return model


def to_torch(module):
    """The same network in PyTorch, sharing the weights (float64), in evaluation mode."""
    t = torch.nn
    if isinstance(module, nn.Sequential):
        return t.Sequential(*[to_torch(layer) for layer in module])
    if isinstance(module, nn.Residual):
        block, shortcut = to_torch(module.block), module.shortcut
        shortcut = t.Identity() if shortcut is None else to_torch(shortcut)

        class Residual(t.Module):
            def __init__(self):
                super().__init__()
                self.block, self.shortcut = block, shortcut

            def forward(self, x):
                return self.block(x) + self.shortcut(x)

        return Residual()
    if isinstance(module, nn.Conv2d):
        layer = t.Conv2d(module.in_channels, module.out_channels, module.kernel_size,
                         module.stride, module.padding, dtype=torch.float64)
        layer.weight.data = torch.tensor(module.weight.data)
    elif isinstance(module, nn.Linear):
        layer = t.Linear(module.in_features, module.out_features, dtype=torch.float64)
        layer.weight.data = torch.tensor(module.weight.data)
    elif isinstance(module, nn.BatchNorm2d):
        layer = t.BatchNorm2d(module.num_features, eps=module.eps, dtype=torch.float64).eval()
        layer.weight.data = torch.tensor(module.weight.data)
        layer.running_mean.data = torch.tensor(module.running_mean)
        layer.running_var.data = torch.tensor(module.running_var)
    elif isinstance(module, nn.MaxPool2d):
        return t.MaxPool2d(module.params["size"], module.params["stride"])
    elif isinstance(module, nn.GlobalAvgPool2d):
        return t.Sequential(t.AdaptiveAvgPool2d(1), t.Flatten())
    else:
        return {nn.ReLU: t.ReLU, nn.Flatten: t.Flatten}[type(module)]()
    layer.bias.data = torch.tensor(module.bias.data)
    return layer


MODELS = {
    "lenet5": lambda: lenet5(input_size=16, rng=0),
    "small_resnet": lambda: trained_like(small_resnet(num_classes=4, widths=(4, 6, 8), rng=0),
                                         np.random.default_rng(5)),
    "mlp": lambda: mlp(64, hidden=(16,), num_classes=10, rng=0),
}
SHAPES = {"lenet5": (3, 1, 16, 16), "small_resnet": (3, 3, 16, 16), "mlp": (3, 1, 8, 8)}


@pytest.fixture(params=list(MODELS))
def case(request, rng):
    """(model, its PyTorch twin, float64 inputs, labels) for each kind of model."""
    model = float64(MODELS[request.param]())
    x = rng.standard_normal(SHAPES[request.param])
    y = np.array([1, 3, 0])
    return model, to_torch(model).eval(), x, y


def test_the_torch_twin_computes_the_same_scores(case):
    model, twin, x, _ = case
    with interpret.inspecting(model):
        ours = model(x)
    np.testing.assert_allclose(ours, twin(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def test_saliency_matches_torch(case):
    model, twin, x, y = case
    xt = torch.tensor(x, requires_grad=True)
    twin(xt)[torch.arange(3), torch.tensor(y)].sum().backward()
    _, dx = interpret.score_gradient(model, x, y)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(interpret.saliency(model, x, y),
                               xt.grad.abs().amax(dim=1).numpy(), rtol=1e-9, atol=1e-12)


def test_one_target_for_every_image_equals_the_same_target_repeated(case):
    model, _, x, _ = case
    np.testing.assert_array_equal(interpret.saliency(model, x, 2),
                                  interpret.saliency(model, x, np.array([2, 2, 2])))


def torch_loss_gradient(twin, x, y):
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(twin(xt), torch.tensor(y))
    loss.backward()
    return loss.item(), xt.grad.numpy()


def test_loss_gradient_and_fgsm_match_torch(case):
    model, twin, x, y = case
    expected_loss, expected_dx = torch_loss_gradient(twin, x, y)
    loss, dx = interpret.loss_gradient(model, x, y)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-9, atol=1e-14)

    x_adv, _ = interpret.fgsm(model, x, y, eps=0.1)
    np.testing.assert_allclose(x_adv, x + 0.1 * np.sign(expected_dx), rtol=0, atol=1e-15)
    x_adv, _ = interpret.fgsm(model, x, y, eps=0.1, targeted=True, clip=(-1, 1))
    np.testing.assert_allclose(x_adv, np.clip(x - 0.1 * np.sign(expected_dx), -1, 1), atol=1e-15)


def test_iterative_fgsm_matches_a_torch_loop(case):
    model, twin, x, y = case
    x = np.clip(x, -1.5, 1.5)  # valid inputs: inside the clipping range
    eps, alpha, expected = 0.05, 0.02, x.copy()
    for _ in range(4):
        _, dx = torch_loss_gradient(twin, expected, y)
        expected = np.clip(np.clip(expected + alpha * np.sign(dx), x - eps, x + eps), -1.5, 1.5)
    x_adv, _ = interpret.fgsm_iterative(model, x, y, eps, steps=4, alpha=alpha, clip=(-1.5, 1.5))
    np.testing.assert_allclose(x_adv, expected, atol=1e-15)
    assert np.abs(x_adv - x).max() <= eps + 1e-15


def test_fgsm_with_eps_zero_changes_nothing_and_keeps_the_dtype(rng):
    model = lenet5(input_size=16, rng=0)
    x = rng.random((4, 1, 16, 16)).astype(np.float32)
    y = np.array([0, 1, 2, 3])
    x_adv, rate = interpret.fgsm(model, x, y, eps=0.0)
    np.testing.assert_array_equal(x_adv, x)
    assert x_adv.dtype == np.float32 and rate == 0.0
    x_adv, _ = interpret.fgsm_iterative(model, x, y, eps=0.03, clip=(0, 1))
    assert x_adv.dtype == np.float32 and x_adv.min() >= 0 and x_adv.max() <= 1


def test_success_rate_counts_only_images_classified_correctly_before():
    # a linear model that scores class 1 by the first pixel and class 0 by minus it
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 2))
    model[1].weight.data = np.array([[-1.0, 0.0], [1.0, 0.0]])  # (out, in)
    model[1].bias.data = np.zeros(2)
    x = np.array([[[[1.0, 0.0]]], [[[-1.0, 0.0]]], [[[2.0, 0.0]]]])
    y = np.array([1, 0, 0])  # the first two right, the third wrong
    moved = np.array([[[[-1.0, 0.0]]], [[[-1.0, 0.0]]], [[[-2.0, 0.0]]]])
    assert interpret.success_rate(model, x, moved, y) == 0.5  # one of the two right is fooled
    assert interpret.success_rate(model, x, moved, np.array([0, 0, 0]), targeted=True) == 1.0


def test_fgsm_fools_a_linear_model_as_predicted():
    model = nn.Sequential(nn.Flatten(), nn.Linear(2, 2))
    model[1].weight.data = np.array([[-1.0, 0.0], [1.0, 0.0]])  # (out, in)
    model[1].bias.data = np.zeros(2)
    x = np.array([[[[0.3, 0.0]]]])  # score margin 2 * 0.3 for class 1
    _, rate_small = interpret.fgsm(model, x, np.array([1]), eps=0.2)
    x_adv, rate_large = interpret.fgsm(model, x, np.array([1]), eps=0.4)
    np.testing.assert_allclose(x_adv[0, 0, 0], [-0.1, 0.0])  # the second pixel has no gradient
    assert (rate_small, rate_large) == (0.0, 1.0)


def slow_occlusion(model, x, target, patch, stride, fill):
    """One occluded image at a time."""
    (ph, pw), (sh, sw) = patch, stride
    n, _, h, w = x.shape
    with interpret.inspecting(model):
        base = interpret.softmax(model(x))
        out = np.zeros((n, (h - ph) // sh + 1, (w - pw) // sw + 1))
        for k in range(n):
            for i in range(out.shape[1]):
                for j in range(out.shape[2]):
                    hidden = x[k:k + 1].copy()
                    hidden[:, :, i * sh:i * sh + ph, j * sw:j * sw + pw] = fill
                    prob = interpret.softmax(model(hidden))[0, target[k]]
                    out[k, i, j] = base[k, target[k]] - prob
    return out


def pair(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("patch, stride, batch_size", [((3, 5), (2, 3), 7), (4, 4, 256),
                                                       ((16, 16), 1, 1), ((2, 2), (5, 5), 3)])
def test_occlusion_equals_a_slow_loop_over_patches(patch, stride, batch_size, rng):
    model = float64(lenet5(input_size=16, rng=1))
    x = rng.random((2, 1, 16, 16))
    target = np.array([4, 7])
    expected = slow_occlusion(model, x, target, pair(patch), pair(stride), 0.5)
    ours = interpret.occlusion_map(model, x, target, patch, stride, fill=0.5,
                                   batch_size=batch_size)
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-14)


def test_occlusion_of_the_pixel_a_linear_model_reads_drops_its_probability():
    model = nn.Sequential(nn.Flatten(), nn.Linear(9, 2))
    model[1].weight.data = np.zeros((2, 9))
    model[1].weight.data[1, 4] = 5.0  # class 1 looks only at the centre pixel
    model[1].bias.data = np.zeros(2)
    x = np.ones((1, 1, 3, 3))
    drops = interpret.occlusion_map(model, x, 1, patch=1, stride=1)
    expected = np.zeros((1, 3, 3))
    expected[0, 1, 1] = 1 / (1 + np.exp(-5)) - 0.5
    np.testing.assert_allclose(drops, expected, atol=1e-15)


def small_net(w1, w2):
    """1x1 convolutions: 1 -> len(w1) channels, ReLU, -> 1 channel; no bias."""
    model = nn.Sequential(nn.Conv2d(1, len(w1), 1), nn.ReLU(), nn.Conv2d(len(w1), 1, 1))
    model[0].weight.data = np.array(w1, dtype=np.float64).reshape(-1, 1, 1, 1)
    model[2].weight.data = np.array(w2, dtype=np.float64).reshape(1, -1, 1, 1)
    model[0].bias.data, model[2].bias.data = np.zeros(len(w1)), np.zeros(1)
    return model


@pytest.mark.parametrize("w2, expected, gradient", [
    # x = 1: conv 1 gives (1, -1), ReLU (1, 0), conv 2 gives s = 2 * 1 + 3 * 0 = 2.
    # Deconv from the signal s = 2: conv 2's transposed filter gives (2 * 2, 3 * 2) = (4, 6);
    # the ReLU rectifies the signal, (4, 6); conv 1's transposed filter: 4 - 6 = -2.
    # Backprop of the score (signal 1): (2, 3), masked by the forward input (2, 0), then 2.
    ((2.0, 3.0), -2.0, 2.0),
    # s = -2. Deconv: (4, -6), rectified (4, 0), conv 1: 4. Backprop: (-2, 3) -> (-2, 0) -> -2.
    ((-2.0, 3.0), 4.0, -2.0),
])
def test_deconv_rectifies_the_signal_at_relus_by_hand(w2, expected, gradient):
    model = small_net((1.0, -1.0), w2)
    x = np.ones((1, 1, 1, 1))
    projection = interpret.deconv_visualize(model, x, layer=2, channel=0, keep="map")
    assert projection.item() == pytest.approx(expected)
    _, dx = interpret.score_gradient(nn.Sequential(model, nn.Flatten()), x, 0)
    assert dx.item() == pytest.approx(gradient)


def test_deconv_unpools_with_the_forward_switches_and_transposes_the_filter():
    # conv 2x2 (w = [[1, 2], [3, 4]]) -> ReLU -> max-pool 2 on a 3x3 image: one pooled value.
    model = nn.Sequential(nn.Conv2d(1, 1, 2), nn.ReLU(), nn.MaxPool2d(2))
    w = np.array([[1.0, 2.0], [3.0, 4.0]])
    model[0].weight.data, model[0].bias.data = w.reshape(1, 1, 2, 2), np.zeros(1)
    x = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).reshape(1, 1, 3, 3)
    # conv output: [[0*1+0*2+1*3+0*4, 0+0+0+0], [1*1+0+0+1*4, 0+0+1*3+0]] = [[3, 0], [5, 3]]
    # the pool's switch is (1, 0), value 5: the projection is 5 * w placed at rows 1-2, cols 0-1.
    expected = np.zeros((3, 3))
    expected[1:3, 0:2] = 5 * w
    projection = interpret.deconv_visualize(model, x, layer="2", channel=np.int64(0))
    np.testing.assert_allclose(projection[0, 0], expected)


def test_deconv_of_the_strongest_first_layer_activation_is_its_filter(rng):
    model = float64(lenet5(input_size=16, rng=0))  # conv 1: 6 filters 5x5, padding 2
    x = rng.random((2, 1, 16, 16))
    maps = interpret.layer_output(model, x, 0)
    projection = interpret.deconv_visualize(model, x, layer=0, channel=3)
    w = model[0].weight.data[3, 0]
    for n in range(2):
        i, j = np.unravel_index(maps[n, 3].argmax(), maps[n, 3].shape)
        padded = np.zeros((20, 20))  # the image plus 2 pixels of padding on each side
        padded[i:i + 5, j:j + 5] = maps[n, 3, i, j] * w
        np.testing.assert_allclose(projection[n, 0], padded[2:-2, 2:-2], atol=1e-12)


def test_deconv_through_a_residual_network_reaches_the_pixels(rng):
    model = float64(MODELS["small_resnet"]())
    x = rng.standard_normal((2, 3, 16, 16))
    for layer in ("4.0.block.0", "6", "5.0.shortcut.0"):
        projection = interpret.deconv_visualize(model, x, layer, channel=1)
        assert projection.shape == x.shape and np.abs(projection).max() > 0
    # the whole map projects to the sum of the projections of its activations (linear signal)
    full = interpret.deconv_visualize(model, x, "0", 2, keep="map")
    maps = interpret.layer_output(model, x, "0")
    conv = model[0].weight.data[2]
    expected = np.zeros((2, 3, 18, 18))
    for i in range(16):
        for j in range(16):
            expected[:, :, i:i + 3, j:j + 3] += maps[:, 2, i, j, None, None, None] * conv
    np.testing.assert_allclose(full, expected[:, :, 1:-1, 1:-1], atol=1e-12)


def test_layer_output_and_filters_by_name(rng):
    model = lenet5(input_size=16, rng=0)
    x = rng.random((2, 1, 16, 16)).astype(np.float32)
    assert interpret.layer_output(model, x, "3").shape == (2, 16, 4, 4)
    np.testing.assert_array_equal(interpret.layer_output(model, x, 11), model(x))
    filters = interpret.layer_filters(model, "3")
    np.testing.assert_array_equal(filters, model[3].weight.data)
    filters[:] = 0  # a copy
    assert np.abs(model[3].weight.data).max() > 0
    resnet = small_resnet(widths=(4, 6, 8))
    names = dict(interpret.named_layers(resnet))
    assert names["5.0.block.3"] is resnet[5][0].block[3]
    assert set(names) >= {n.rsplit(".", 1)[0] for n, _ in resnet.named_parameters()}
    assert interpret.layer_output(resnet, rng.random((1, 3, 16, 16)).astype(np.float32),
                                  "5.0.shortcut").shape == (1, 6, 4, 4)


def test_gaussian_blur_matches_scipy(rng):
    x = rng.random((2, 3, 9, 11))
    for sigma in (0.5, 1.0, 1.7):
        expected = ndimage.gaussian_filter(x, (0, 0, sigma, sigma), mode="mirror", truncate=3.0)
        np.testing.assert_allclose(interpret.gaussian_blur(x, sigma), expected, atol=1e-12)
    np.testing.assert_array_equal(interpret.gaussian_blur(x, 0), x)


def test_class_visualization_raises_the_target_score(rng):
    model = lenet5(input_size=16, rng=0)
    start = interpret.class_visualization(model, 3, (1, 16, 16), steps=1, lr=1e-9, blur=0)
    image = interpret.class_visualization(model, 3, (1, 16, 16), steps=30, clip=(0, 1))
    assert image.shape == (1, 16, 16) and image.dtype == np.float32
    assert 0 <= image.min() and image.max() <= 1
    with interpret.inspecting(model):
        before, after = model(start[None])[0], model(image[None])[0]
    assert after[3] > before[3] + 1 and after.argmax() == 3


def test_class_visualization_l2_keeps_the_image_small():
    model = lenet5(input_size=16, rng=0)
    norms = [np.linalg.norm(interpret.class_visualization(model, 1, (1, 16, 16), steps=40,
                                                          l2=l2, blur=0)) for l2 in (0, 10)]
    assert norms[1] < 0.5 * norms[0]


def state_of(model):
    return ([m.training for m in model.modules()],
            [None if p.grad is None else p.grad.copy() for p in model.parameters()],
            model.state_dict())


@pytest.mark.parametrize("run", [
    lambda m, x, y: interpret.saliency(m, x, y),
    lambda m, x, y: interpret.occlusion_map(m, x, y, patch=8, stride=8),
    lambda m, x, y: interpret.deconv_visualize(m, x, "4.0.block.2", 0),
    lambda m, x, y: interpret.class_visualization(m, 1, (3, 16, 16), steps=2, blur_every=1),
    lambda m, x, y: interpret.fgsm(m, x, y, 0.1),
    lambda m, x, y: interpret.fgsm_iterative(m, x, y, 0.1, steps=2),
    lambda m, x, y: interpret.layer_output(m, x, "5"),
])
def test_the_model_is_left_as_it_was(run, rng):
    model = small_resnet(num_classes=4, widths=(4, 6, 8), rng=0)
    x = rng.standard_normal((2, 3, 16, 16)).astype(np.float32)
    y = np.array([0, 2])
    model.train()
    model[4].eval()  # a mixed mode must come back mixed
    scores = model(x)  # a training step in progress: forward and backward done
    dx = model.backward(np.ones_like(scores))
    model.parameters()[3].grad = None
    before = state_of(model)
    run(model, x, y)
    after = state_of(model)
    assert after[0] == before[0]
    for a, b in zip(after[1], before[1], strict=True):
        assert (a is None and b is None) or np.array_equal(a, b)
    for name in before[2]:
        np.testing.assert_array_equal(after[2][name], before[2][name], err_msg=name)
    # the caches of that forward pass are back: backward gives the same input gradient again
    np.testing.assert_array_equal(model.backward(np.ones_like(scores)), dx)
    assert not any({"forward", "backward"} & set(vars(m)) for m in model.modules())


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x: interpret.saliency(m, x, 10), ValueError, r"target must be a class in \[0, 10\)"),
    (lambda m, x: interpret.saliency(m, x, -1), ValueError, "target"),
    (lambda m, x: interpret.saliency(m, x, np.array([1, 2, 3])), ValueError, "one class per"),
    (lambda m, x: interpret.saliency(m, x, 1.5), TypeError, "target must be an int"),
    (lambda m, x: interpret.saliency(m, x[0], 1), ValueError, "x"),
    (lambda m, x: interpret.occlusion_map(m, x, 12), ValueError, "target"),
    (lambda m, x: interpret.occlusion_map(m, x, 1, patch=17), ValueError, "larger than"),
    (lambda m, x: interpret.occlusion_map(m, x, 1, patch=(4, 20)), ValueError, "patch"),
    (lambda m, x: interpret.occlusion_map(m, x, 1, patch=0), ValueError, "patch"),
    (lambda m, x: interpret.occlusion_map(m, x, 1, stride=0), ValueError, "stride"),
    (lambda m, x: interpret.occlusion_map(m, x, 1, fill="grey"), TypeError, "fill"),
    (lambda m, x: interpret.fgsm(m, x, np.array([1, 2]), -0.1), ValueError, "eps"),
    (lambda m, x: interpret.fgsm_iterative(m, x, np.array([1, 2]), -1), ValueError, "eps"),
    (lambda m, x: interpret.fgsm_iterative(m, x, np.array([1, 2]), 0.1, steps=0), ValueError,
     "steps"),
    (lambda m, x: interpret.fgsm(m, x, np.array([1, 20]), 0.1), ValueError, "y"),
    (lambda m, x: interpret.fgsm(m, x, np.array([1, 2]), 0.1, clip=(1, 0)), ValueError, "clip"),
    (lambda m, x: interpret.deconv_visualize(m, x, "conv1", 0), ValueError,
     "layer 'conv1' does not exist.*0 \\(Conv2d\\)"),
    (lambda m, x: interpret.deconv_visualize(m, x, 12, 0), ValueError, "does not exist"),
    (lambda m, x: interpret.deconv_visualize(m, x, 0.5, 0), TypeError, "layer"),
    (lambda m, x: interpret.deconv_visualize(m, x, 0, 6), ValueError,
     r"channel must be in \[0, 6\)"),
    (lambda m, x: interpret.deconv_visualize(m, x, 0, 1, keep="top"), ValueError, "keep"),
    (lambda m, x: interpret.layer_output(m, x, "99"), ValueError, "does not exist"),
    (lambda m, x: interpret.layer_filters(m, 1), TypeError, "ReLU, not a convolution"),
    (lambda m, x: interpret.class_visualization(m, 10, (1, 16, 16)), ValueError, "target"),
    (lambda m, x: interpret.class_visualization(m, 1, (16, 16)), ValueError, "shape"),
    (lambda m, x: interpret.class_visualization(m, 1, (1, 16, 16), l2=-1), ValueError, "l2"),
    (lambda m, x: interpret.class_visualization(m, 1, (1, 16, 16), blur=-1), ValueError, "blur"),
])
def test_bad_input_gets_a_clear_error(call, error, message, rng):
    model = lenet5(input_size=16, rng=0)
    x = rng.random((2, 1, 16, 16)).astype(np.float32)
    with pytest.raises(error, match=message):
        call(model, x)


@pytest.mark.gpu
def test_every_function_gives_the_cpu_result_on_the_gpu(rng):
    model = float64(small_resnet(num_classes=4, widths=(4, 6, 8), rng=0))
    x = rng.standard_normal((2, 3, 16, 16))
    y = np.array([1, 3])
    runs = {
        "saliency": lambda m, x, y: interpret.saliency(m, x, y),
        "occlusion": lambda m, x, y: interpret.occlusion_map(m, x, y, 4, 3, batch_size=9),
        "deconv": lambda m, x, y: interpret.deconv_visualize(m, x, "4.0.block.2", 1),
        "fgsm": lambda m, x, y: interpret.fgsm(m, x, y, 0.1)[0],
        "fgsm_iterative": lambda m, x, y: interpret.fgsm_iterative(m, x, y, 0.1, steps=3)[0],
        "class_visualization": lambda m, x, y: interpret.class_visualization(
            m, 2, (3, 16, 16), steps=3, blur_every=2),
        "feature maps": lambda m, x, y: interpret.layer_output(m, x, "5"),
    }
    expected = {name: run(model, x, y) for name, run in runs.items()}
    model.to("cuda")
    xg = to_device(x, "cuda")
    for name, run in runs.items():
        for labels in (to_device(y, "cuda"), y):  # labels on the device, or numpy ones
            np.testing.assert_allclose(to_host(run(model, xg, labels)), expected[name],
                                       rtol=1e-7, atol=1e-9, err_msg=name)


def lecture_answers():
    """Lecture 6d's exercise cells and the worked answers of its <details> blocks, as code."""
    import json
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "lectures" / "06d_understanding.ipynb"
    cells = ["".join(cell["source"]) for cell in json.loads(path.read_text())["cells"]]
    answers = [re.search(r"```python\n(.*?)```", cell, re.S).group(1) for cell in cells
               if "<details>" in cell]
    guided_cell = next(cell for cell in cells if cell.startswith("def guided_backprop"))
    return guided_cell, answers


def test_the_lecture_worked_answers_pass_their_self_checks(rng):
    guided_cell, answers = lecture_answers()
    assert len(answers) == 3
    space = {"np": np, "interpret": interpret, "nn": nn}
    exec(guided_cell, space)  # the exercise's guided_backprop, then the worked answers
    for answer in answers:
        exec(answer, space)
    tiny = small_net((1.0, -1.0), (-2.0, 3.0))
    assert space["guided_backprop"](nn.Sequential(tiny, nn.Flatten()), np.ones((1, 1, 1, 1)),
                                    0).item() == 0.0  # backprop gives -2, the deconvnet -3
    model = lenet5(input_size=16, rng=0)
    x = rng.random((2, 1, 16, 16)).astype(np.float32)
    np.testing.assert_allclose(space["smoothgrad"](model, x, np.array([1, 2]), sigma=0.0,
                                                   samples=2),
                               interpret.saliency(model, x, np.array([1, 2])), rtol=1e-6)
    linear = nn.Sequential(nn.Flatten(), nn.Linear(6, 2, rng=0, dtype=np.float64))
    x = rng.standard_normal((1, 1, 2, 3))
    for y in (0, 1):
        x_adv, _ = interpret.fgsm(linear, x, np.array([y]), 0.1)
        with interpret.inspecting(linear):
            before, after = linear(x)[0], linear(x_adv)[0]
        measured = (after[y] - after[1 - y]) - (before[y] - before[1 - y])
        predicted = space["predicted_margin_change"](linear[1].weight.data.T, y, 0.1)
        assert measured == pytest.approx(predicted, rel=1e-12)
