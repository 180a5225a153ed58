"""Optimisers and learning-rate schedules (lecture 2, backprop), with PyTorch's update rules.

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.backward(dscores)
    optimizer.step()
    optimizer.zero_grad()

Per-parameter state (velocities, moment estimates) is created on the device of the parameter
it belongs to, and follows the parameter if the model moves.
"""

import math

from course.backend import device_of, get_array_module, to_device


def clip_grad_norm(parameters, max_norm):
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (lecture 7: exploding gradients in RNNs).
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    xp = get_array_module(grads[0])
    total = float(xp.sqrt(sum((g.astype(xp.float64) ** 2).sum() for g in grads)))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in parameters:
            if p.grad is not None:
                p.grad = p.grad * p.grad.dtype.type(scale)
    return total


class Optimizer:
    """Base class: holds the parameters, the learning rate and each parameter's state (lecture 2).

    Args:
        parameters: iterable of ``nn.Parameter``.
        lr: learning rate.
        weight_decay: L2 penalty coefficient, added to the gradient as ``weight_decay * p``.
        clip_norm: if set, gradients are clipped to this global norm before each step.
    """

    def __init__(self, parameters, lr, weight_decay=0.0, clip_norm=None):
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("the optimiser got no parameters")
        if lr <= 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {weight_decay}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.clip_norm = clip_norm
        self.state = {}
        self.steps = 0

    def zero_grad(self):
        for p in self.parameters:
            p.grad = None

    def step(self):
        """Update every parameter that has a gradient."""
        if self.clip_norm is not None:
            clip_grad_norm(self.parameters, self.clip_norm)
        self.steps += 1
        for i, p in enumerate(self.parameters):
            if p.grad is None:
                continue
            grad = p.grad
            if self.weight_decay:
                grad = grad + grad.dtype.type(self.weight_decay) * p.data
            state = self.state.setdefault(i, {})
            for key, value in state.items():
                if hasattr(value, "shape"):  # arrays follow the parameter's device
                    state[key] = to_device(value, device_of(p.data))
            p.data -= self.update(grad, state).astype(p.data.dtype, copy=False)

    def update(self, grad, state):
        """Return the step to subtract from the parameter; subclasses define the rule."""
        raise NotImplementedError

    def state_dict(self):
        """Learning rate, step count and per-parameter state, as plain arrays and numbers."""
        return {"lr": self.lr, "steps": self.steps,
                "state": {i: dict(s) for i, s in self.state.items()}}

    def load_state_dict(self, saved):
        self.lr = saved["lr"]
        self.steps = saved["steps"]
        self.state = {int(i): dict(s) for i, s in saved["state"].items()}


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as in PyTorch (lecture 2):
    ``v = momentum * v + g``; the step is ``lr * v`` (Nesterov: ``lr * (g + momentum * v)``)."""

    def __init__(self, parameters, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 clip_norm=None):
        super().__init__(parameters, lr, weight_decay, clip_norm)
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov momentum needs momentum > 0")
        self.momentum, self.nesterov = momentum, nesterov

    def update(self, grad, state):
        if self.momentum == 0:
            return self.lr * grad
        velocity = state.get("velocity")
        velocity = grad.copy() if velocity is None else self.momentum * velocity + grad
        state["velocity"] = velocity
        if self.nesterov:
            return self.lr * (grad + self.momentum * velocity)
        return self.lr * velocity


class RMSProp(Optimizer):
    """Divide the step by a running root-mean-square of recent gradients (lecture 2):
    ``s = alpha * s + (1 - alpha) * g^2``; step ``lr * g / (sqrt(s) + eps)``."""

    def __init__(self, parameters, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 clip_norm=None):
        super().__init__(parameters, lr, weight_decay, clip_norm)
        self.alpha, self.eps = alpha, eps

    def update(self, grad, state):
        xp = get_array_module(grad)
        square = state.get("square_avg", xp.zeros_like(grad))
        square = self.alpha * square + (1 - self.alpha) * grad * grad
        state["square_avg"] = square
        return self.lr * grad / (xp.sqrt(square) + self.eps)


class Adagrad(Optimizer):
    """Divide the step by the root of the sum of all past squared gradients (lecture 2)."""

    def __init__(self, parameters, lr=0.01, eps=1e-10, weight_decay=0.0, clip_norm=None):
        super().__init__(parameters, lr, weight_decay, clip_norm)
        self.eps = eps

    def update(self, grad, state):
        xp = get_array_module(grad)
        total = state.get("sum", xp.zeros_like(grad)) + grad * grad
        state["sum"] = total
        return self.lr * grad / (xp.sqrt(total) + self.eps)


class Adam(Optimizer):
    """Momentum and RMSProp with bias correction (Kingma and Ba, 2015; lecture 2), as in PyTorch."""

    def __init__(self, parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 clip_norm=None):
        super().__init__(parameters, lr, weight_decay, clip_norm)
        self.beta1, self.beta2 = betas
        self.eps = eps

    def update(self, grad, state):
        xp = get_array_module(grad)
        t = state.get("t", 0) + 1
        m = self.beta1 * state.get("m", xp.zeros_like(grad)) + (1 - self.beta1) * grad
        v = self.beta2 * state.get("v", xp.zeros_like(grad)) + (1 - self.beta2) * grad * grad
        state.update(t=t, m=m, v=v)
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        return self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)


class StepLR:
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs (``step()`` per epoch)
    (lecture 2)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self):
        self.epoch += 1
        self.optimizer.lr = self.base_lr * self.gamma ** (self.epoch // self.step_size)


class CosineLR:
    """Cosine decay from the initial rate to ``min_lr`` over ``total_epochs`` (lecture 2)."""

    def __init__(self, optimizer, total_epochs, min_lr=0.0):
        self.optimizer, self.total_epochs, self.min_lr = optimizer, total_epochs, min_lr
        self.base_lr, self.epoch = optimizer.lr, 0

    def step(self):
        self.epoch = min(self.epoch + 1, self.total_epochs)
        progress = self.epoch / self.total_epochs
        self.optimizer.lr = self.min_lr + (self.base_lr - self.min_lr) * 0.5 * (
            1 + math.cos(math.pi * progress))
