"""Optimisers and learning-rate schedules (lecture 2, backprop), with PyTorch's update rules.

    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.backward(dscores)           # or loss.backward() on Tensors
    optimizer.step()
    optimizer.zero_grad()

Parameter groups take their own hyper-parameters, as in PyTorch (fine-tuning a pretrained
body slowly and a new head fast)::

    SGD([{"params": body.parameters(), "lr": 1e-3}, {"params": head.parameters()}], lr=0.1)

A parameter with ``requires_grad = False`` (frozen) is never updated. Hyper-parameters,
parameters and gradients are checked when the optimiser is built, at each ``step`` and at
``load_state_dict``: a NaN, a gradient of the wrong shape or a parameter listed twice is an
error, never a silent wrong step. Per-parameter state (velocities, moment estimates) is
created on the device of the parameter it belongs to, and follows the parameter if it moves.
"""

import math

import numpy as np

from course.backend import device_of, get_array_module, is_cupy_array, to_device
from course.ops.checks import check_bool, check_number
from course.tensor import Tensor


def clip_grad_norm(parameters, max_norm):
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (lecture 7: exploding gradients in RNNs).
    """
    check_number("max_norm", max_norm, low=0, low_inclusive=False)
    parameters = list(parameters)
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


def _check_finite(name, value, low, low_inclusive=True, high=None, high_inclusive=True):
    check_number(name, value, low=low, low_inclusive=low_inclusive, high=high,
                 high_inclusive=high_inclusive)
    if math.isinf(value):
        raise ValueError(f"{name} must be finite, got {value}")


class Optimizer:
    """Base class: parameter groups, their hyper-parameters and each parameter's state
    (lecture 2).

    Args:
        parameters: an iterable of ``nn.Parameter``, or of dicts ``{"params": [...], **hyper}``
            (parameter groups; a hyper-parameter a group leaves out takes the default given
            here).
        defaults: the hyper-parameters (``lr``, ``weight_decay`` and the rule's own).
        clip_norm: if set, gradients are clipped to this global norm before each step.
    """

    def __init__(self, parameters, defaults, clip_norm=None):
        if hasattr(parameters, "parameters") and hasattr(parameters, "forward"):
            raise TypeError(f"{type(self).__name__} takes model.parameters(), not the model "
                            "itself")
        if isinstance(parameters, (Tensor, dict)):
            parameters = [parameters]
        items = list(parameters)
        if not items:
            raise ValueError("the optimiser got no parameters")
        groups = items if all(isinstance(g, dict) for g in items) else [{"params": items}]
        self.defaults = dict(defaults)
        self.param_groups = []
        for group in groups:
            self.add_param_group(group)
        if clip_norm is not None:
            _check_finite("clip_norm", clip_norm, 0, low_inclusive=False)
        self.clip_norm = clip_norm
        self.state = {}
        self.steps = 0

    def add_param_group(self, group):
        """Add ``{"params": [...], **hyper}``; missing hyper-parameters take the defaults."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"a parameter group must be a dict with 'params', got {group!r}")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"unknown hyper-parameters {sorted(unknown)} for "
                             f"{type(self).__name__}; it takes {sorted(self.defaults)}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor) or p.node is not None:
                raise TypeError(f"parameter {i} must be an nn.Parameter (a leaf Tensor), got "
                                f"{type(p).__name__}")
            if p.dtype.kind != "f":
                raise TypeError(f"parameter {i} must hold floats, got {p.dtype}")
            if id(p) in seen:
                raise ValueError(f"parameter {i} (shape {p.shape}) is listed twice: it would be "
                                 "stepped twice")
            seen.add(id(p))
        if not params:
            raise ValueError("a parameter group got no parameters")
        full = {**self.defaults, **{k: v for k, v in group.items() if k != "params"}}
        self.check_hyper(full)
        self.param_groups.append({"params": params, **full})

    def check_hyper(self, hyper):
        """Raise unless the hyper-parameters are valid; subclasses check their own too."""
        check_number("lr", hyper["lr"])
        if not hyper["lr"] > 0:
            raise ValueError(f"lr must be positive, got {hyper['lr']}")
        _check_finite("lr", hyper["lr"], 0, low_inclusive=False)
        _check_finite("weight_decay", hyper["weight_decay"], 0)

    @property
    def parameters(self):
        """Every parameter, group after group."""
        return [p for group in self.param_groups for p in group["params"]]

    @parameters.setter
    def parameters(self, parameters):
        if len(self.param_groups) != 1:
            raise ValueError("parameters can only be replaced with one parameter group")
        hyper = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        self.param_groups = []
        self.add_param_group({"params": list(parameters), **hyper})

    @property
    def lr(self):
        """The first group's learning rate; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for group in self.param_groups:
            group["lr"] = value

    def zero_grad(self):
        for p in self.parameters:
            p.grad = None

    def step(self):
        """Update every parameter that requires a gradient and has one."""
        trainable = [p for p in self.parameters if p.requires_grad]
        for p in trainable:
            if p.grad is not None:
                _check_grad(p)
        if self.clip_norm is not None:
            clip_grad_norm(trainable, self.clip_norm)
        self.steps += 1
        index = 0
        for group in self.param_groups:
            for p in group["params"]:
                i, index = index, index + 1
                if p.grad is None or not p.requires_grad:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad + grad.dtype.type(group["weight_decay"]) * p.data
                state = self.state.setdefault(i, {})
                for key, value in state.items():
                    if hasattr(value, "shape"):  # arrays follow the parameter's device
                        state[key] = to_device(value, device_of(p.data))
                p.data -= self.update(grad, state, group).astype(p.data.dtype, copy=False)

    def update(self, grad, state, group):
        """Return the step to subtract from the parameter; subclasses define the rule."""
        raise NotImplementedError

    def state_dict(self):
        """The rule's name, each group's hyper-parameters, the step count and per-parameter
        state, as plain arrays and numbers."""
        return {"type": type(self).__name__, "steps": self.steps,
                "param_groups": [{k: v for k, v in g.items() if k != "params"}
                                 for g in self.param_groups],
                "state": {i: dict(s) for i, s in self.state.items()}}

    def load_state_dict(self, saved):
        """Restore what ``state_dict`` returned, after checking it fits this optimiser."""
        kind = saved.get("type", type(self).__name__)
        if kind != type(self).__name__:
            raise ValueError(f"this state belongs to a {kind} optimiser, not a "
                             f"{type(self).__name__}")
        groups = saved["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"the state has {len(groups)} parameter groups, this optimiser "
                             f"{len(self.param_groups)}")
        for hyper in groups:
            self.check_hyper({**self.defaults, **hyper})
        params = self.parameters
        state = {}
        for i, slots in saved["state"].items():
            i = int(i)
            if not 0 <= i < len(params):
                raise ValueError(f"the state names parameter {i}, but there are "
                                 f"{len(params)}")
            for key, value in slots.items():
                if hasattr(value, "shape") and value.shape != () and (
                        tuple(value.shape) != params[i].shape):
                    raise ValueError(f"state {key!r} of parameter {i} has shape "
                                     f"{tuple(value.shape)}, the parameter {params[i].shape}")
            state[i] = {k: (v.item() if hasattr(v, "shape") and v.shape == () else v)
                        for k, v in slots.items()}
        steps = saved["steps"]
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValueError(f"steps must be a non-negative int, got {steps!r}")
        for group, hyper in zip(self.param_groups, groups, strict=True):
            group.update(hyper)
        self.steps, self.state = int(steps), state


def _check_grad(p):
    grad = p.grad
    if not (isinstance(grad, np.ndarray) or is_cupy_array(grad)):
        raise TypeError(f"the gradient of a parameter of shape {p.shape} must be an array, "
                        f"got {type(grad).__name__}")
    if grad.dtype.kind != "f":
        raise TypeError(f"the gradient of a parameter of shape {p.shape} must hold floats, "
                        f"got {grad.dtype}")
    if tuple(grad.shape) != p.shape:
        raise ValueError(f"a parameter of shape {p.shape} got a gradient of shape "
                         f"{tuple(grad.shape)}")


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as in PyTorch (lecture 2):
    ``v = momentum * v + g``; the step is ``lr * v`` (Nesterov: ``lr * (g + momentum * v)``)."""

    def __init__(self, parameters, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0,
                 clip_norm=None):
        super().__init__(parameters, {"lr": lr, "momentum": momentum, "nesterov": nesterov,
                                      "weight_decay": weight_decay}, clip_norm)

    def check_hyper(self, hyper):
        super().check_hyper(hyper)
        check_number("momentum", hyper["momentum"])
        if not 0 <= hyper["momentum"] < 1:
            raise ValueError(f"momentum must be in [0, 1), got {hyper['momentum']}")
        check_bool("nesterov", hyper["nesterov"])
        if hyper["nesterov"] and hyper["momentum"] == 0:
            raise ValueError("nesterov momentum needs momentum > 0")

    @property
    def momentum(self):
        return self.param_groups[0]["momentum"]

    def update(self, grad, state, group):
        lr, momentum = group["lr"], group["momentum"]
        if momentum == 0:
            return lr * grad
        velocity = state.get("velocity")
        velocity = grad.copy() if velocity is None else momentum * velocity + grad
        state["velocity"] = velocity
        if group["nesterov"]:
            return lr * (grad + momentum * velocity)
        return lr * velocity


class RMSProp(Optimizer):
    """Divide the step by a running root-mean-square of recent gradients (lecture 2):
    ``s = alpha * s + (1 - alpha) * g^2``; step ``lr * g / (sqrt(s) + eps)``."""

    def __init__(self, parameters, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 clip_norm=None):
        super().__init__(parameters, {"lr": lr, "alpha": alpha, "eps": eps,
                                      "weight_decay": weight_decay}, clip_norm)

    def check_hyper(self, hyper):
        super().check_hyper(hyper)
        _check_finite("alpha", hyper["alpha"], 0, high=1, high_inclusive=False)
        _check_finite("eps", hyper["eps"], 0, low_inclusive=False)

    def update(self, grad, state, group):
        xp = get_array_module(grad)
        alpha = group["alpha"]
        square = state.get("square_avg", xp.zeros_like(grad))
        square = alpha * square + (1 - alpha) * grad * grad
        state["square_avg"] = square
        return group["lr"] * grad / (xp.sqrt(square) + group["eps"])


class Adagrad(Optimizer):
    """Divide the step by the root of the sum of all past squared gradients (lecture 2)."""

    def __init__(self, parameters, lr=0.01, eps=1e-10, weight_decay=0.0, clip_norm=None):
        super().__init__(parameters, {"lr": lr, "eps": eps, "weight_decay": weight_decay},
                         clip_norm)

    def check_hyper(self, hyper):
        super().check_hyper(hyper)
        _check_finite("eps", hyper["eps"], 0, low_inclusive=False)

    def update(self, grad, state, group):
        xp = get_array_module(grad)
        total = state.get("sum", xp.zeros_like(grad)) + grad * grad
        state["sum"] = total
        return group["lr"] * grad / (xp.sqrt(total) + group["eps"])


class Adam(Optimizer):
    """Momentum and RMSProp with bias correction (Kingma and Ba, 2015; lecture 2), as in PyTorch."""

    def __init__(self, parameters, lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 clip_norm=None):
        super().__init__(parameters, {"lr": lr, "betas": betas, "eps": eps,
                                      "weight_decay": weight_decay}, clip_norm)

    def check_hyper(self, hyper):
        super().check_hyper(hyper)
        betas = hyper["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for name, beta in zip(("betas[0]", "betas[1]"), betas, strict=True):
            _check_finite(name, beta, 0, high=1, high_inclusive=False)
        _check_finite("eps", hyper["eps"], 0, low_inclusive=False)
        hyper["betas"] = tuple(betas)

    def update(self, grad, state, group):
        xp = get_array_module(grad)
        beta1, beta2 = group["betas"]
        t = state.get("t", 0) + 1
        m = beta1 * state.get("m", xp.zeros_like(grad)) + (1 - beta1) * grad
        v = beta2 * state.get("v", xp.zeros_like(grad)) + (1 - beta2) * grad * grad
        state.update(t=t, m=m, v=v)
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        return group["lr"] * m_hat / (xp.sqrt(v_hat) + group["eps"])


class StepLR:
    """Multiply every group's learning rate by ``gamma`` every ``step_size`` epochs (``step()``
    per epoch) (lecture 2)."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size must be a positive int, got {step_size!r}")
        _check_finite("gamma", gamma, 0, low_inclusive=False)
        self.optimizer, self.step_size, self.gamma = optimizer, step_size, gamma
        self.base_lrs, self.epoch = [g["lr"] for g in optimizer.param_groups], 0

    @property
    def base_lr(self):
        return self.base_lrs[0]

    def step(self):
        self.epoch += 1
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * self.gamma ** (self.epoch // self.step_size)


class CosineLR:
    """Cosine decay of every group's rate to ``min_lr`` over ``total_epochs`` (lecture 2)."""

    def __init__(self, optimizer, total_epochs, min_lr=0.0):
        if isinstance(total_epochs, bool) or not isinstance(total_epochs, int) or (
                total_epochs < 1):
            raise ValueError(f"total_epochs must be a positive int, got {total_epochs!r}")
        _check_finite("min_lr", min_lr, 0)
        self.optimizer, self.total_epochs, self.min_lr = optimizer, total_epochs, min_lr
        self.base_lrs, self.epoch = [g["lr"] for g in optimizer.param_groups], 0

    @property
    def base_lr(self):
        return self.base_lrs[0]

    def step(self):
        self.epoch = min(self.epoch + 1, self.total_epochs)
        progress = self.epoch / self.total_epochs
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = self.min_lr + (base - self.min_lr) * 0.5 * (
                1 + math.cos(math.pi * progress))
