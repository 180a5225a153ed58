"""Optimisers follow PyTorch's update rules step for step; schedules and clipping."""

import numpy as np
import pytest

from course import optim
from course.nn import Parameter

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.dense

CASES = [
    (optim.SGD, torch.optim.SGD, {"lr": 0.1}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True,
                                  "weight_decay": 0.01}),
    (optim.RMSProp, torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-8}),
    (optim.Adagrad, torch.optim.Adagrad, {"lr": 0.1, "eps": 1e-10}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.1}),
]


@pytest.mark.parametrize("ours, theirs, kwargs", CASES)
def test_matches_pytorch_over_several_steps(rng, ours, theirs, kwargs):
    start = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(5)]
    p = Parameter(start.copy())
    t = torch.tensor(start.copy(), requires_grad=True)
    ours_opt, theirs_opt = ours([p], **kwargs), theirs([t], **kwargs)
    for g in grads:
        p.grad = g.copy()
        t.grad = torch.tensor(g.copy())
        ours_opt.step()
        theirs_opt.step()
    np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_step_skips_parameters_without_gradient_and_zero_grad():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    opt = optim.SGD([a, b], lr=0.5)
    a.grad = np.ones(2)
    opt.step()
    assert a.data.tolist() == [0.5, 0.5] and b.data.tolist() == [1.0, 1.0]
    opt.zero_grad()
    assert a.grad is None


def test_schedules():
    opt = optim.SGD([Parameter(np.ones(1))], lr=1.0)
    step = optim.StepLR(opt, step_size=2, gamma=0.5)
    lrs = []
    for _ in range(5):
        step.step()
        lrs.append(opt.lr)
    assert lrs == [1.0, 0.5, 0.5, 0.25, 0.25]
    opt.lr = 1.0
    cosine = optim.CosineLR(opt, total_epochs=4, min_lr=0.1)
    for _ in range(4):
        cosine.step()
    assert opt.lr == pytest.approx(0.1)
    cosine = optim.CosineLR(opt := optim.SGD([Parameter(np.ones(1))], lr=1.0), total_epochs=2)
    cosine.step()
    assert opt.lr == pytest.approx(0.5)


def test_clip_grad_norm_matches_pytorch(rng):
    grads = [rng.standard_normal((3, 2)) * 10, rng.standard_normal(4) * 10]
    params = [Parameter(np.zeros_like(g)) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = g.copy()
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads, strict=True):
        t.grad = torch.tensor(g.copy())
    norm = optim.clip_grad_norm(params, 1.0)
    torch_norm = torch.nn.utils.clip_grad_norm_(tensors, 1.0)
    assert norm == pytest.approx(float(torch_norm))
    for p, t in zip(params, tensors, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-6)


def test_bad_hyperparameters():
    params = [Parameter(np.ones(1))]
    with pytest.raises(ValueError, match="lr must be positive"):
        optim.SGD(params, lr=0)
    with pytest.raises(ValueError, match="momentum must be in"):
        optim.SGD(params, lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="nesterov momentum needs momentum"):
        optim.SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="no parameters"):
        optim.Adam([], lr=0.1)
