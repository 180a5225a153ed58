"""small_vgg and small_resnet: shapes, gradients, modes, state, a few training steps (lecture 6).

These models need ``nn.Conv2d`` and the pooling modules (the conv topic).
"""

import numpy as np
import pytest

from course import nn, ops, optim
from course.models.resnet import basic_block, small_resnet
from course.models.vgg import small_vgg

pytestmark = pytest.mark.norm

MODELS = [small_resnet, small_vgg]


@pytest.mark.parametrize("make", MODELS)
def test_output_shape_and_size(rng, make):
    model = make()
    x = rng.random((2, 3, 32, 32), dtype=np.float32)
    scores = model(x)
    assert scores.shape == (2, 4) and scores.dtype == np.float32
    assert model.backward(np.ones_like(scores)).shape == x.shape
    assert 50_000 < sum(p.data.size for p in model.parameters()) < 100_000
    assert make(num_classes=7)(x).shape == (2, 7)


@pytest.mark.parametrize("make", MODELS)
def test_same_seed_same_model(make):
    a, b = make(rng=3).state_dict(), make(rng=3).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = make(rng=4).state_dict()
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_basic_block_shortcuts():
    assert basic_block(8, 8)[0].shortcut is None
    projection = basic_block(8, 16, stride=2)[0].shortcut
    assert isinstance(projection[0], nn.Conv2d) and projection[0].stride == (2, 2)


@pytest.mark.parametrize("make", MODELS)
def test_gradients_of_a_tiny_float64_version(rng, make):
    # A directional derivative per array: the change of the loss along a random direction v,
    # (L(a + h v) - L(a - h v)) / 2h, must equal sum(grad * v). Two forward passes per array
    # check every entry of its gradient at once, where a full numerical gradient would need
    # two per entry.
    model = make(num_classes=3, widths=(2, 3, 2), rng=0, dtype=np.float64)
    x = rng.standard_normal((3, 3, 8, 8))
    y = np.array([0, 2, 1])

    def loss():
        return ops.softmax_loss(model(x), y)[0]

    _, dscores = ops.softmax_loss(model(x), y)
    dx = model.backward(dscores)
    arrays = [("x", x, dx)] + [(name, p.data, p.grad) for name, p in model.named_parameters()]
    h = 1e-5
    for name, array, grad in arrays:
        v = rng.standard_normal(array.shape)
        array += h * v
        up = loss()
        array -= 2 * h * v
        down = loss()
        array += h * v
        numerical = (up - down) / (2 * h)
        analytic = float(np.sum(grad * v))
        assert abs(numerical - analytic) <= 1e-6 * max(1.0, abs(analytic)), name


@pytest.mark.parametrize("make", MODELS)
def test_train_and_eval_modes(rng, make):
    model = make()
    x = rng.random((8, 3, 32, 32), dtype=np.float32)
    model(x)  # one training step's statistics
    state = model.state_dict()
    assert any(k.endswith("running_var") for k in state)
    model.eval()
    first = model(x)
    # eval mode: an image's scores do not depend on the rest of the batch
    np.testing.assert_allclose(model(x[:1]), first[:1], rtol=1e-5, atol=1e-6)
    other = make(rng=1)
    other.load_state_dict(state)
    other.eval()
    np.testing.assert_array_equal(other(x), first)


def test_a_few_steps_fit_a_small_batch(rng):
    from course.data import load_shapes

    data = load_shapes(n_train=16, n_val=0, n_test=0, seed=1)
    x, y = data["X_train"], data["y_train"]
    model = small_resnet(widths=(8, 8, 16), rng=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(10):
        loss, dscores = ops.softmax_loss(model(x), y)
        optimizer.zero_grad()
        model.backward(dscores)
        optimizer.step()
        losses.append(loss)
    assert losses[-1] < 0.5 * losses[0]
