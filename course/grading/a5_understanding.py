"""Checks of assignment 5, understanding and reusing trained networks (lectures 6d-6e):
saliency maps, occlusion maps, the fast gradient sign method, and a pretrained network
fine-tuned on a new task from ten labels per class (held-out accuracy).

The student's functions take a *model*: any object with ``forward(x) -> scores`` and
``backward(dscores) -> dx``, as ``course.nn`` modules (Torch7's API). The library's modules
are not in the grading sandbox, so the checks hand the student a :class:`Network`, a small
multilayer perceptron written here with numpy alone; the judge builds the same network from
``course.nn`` and compares with ``course.interpret`` (and with numerical gradients).

Registered in :data:`course.grading.checks.CHECKS` under ``"a5.<exercise>"``.
"""

import functools
import math

import numpy as np

from course.grading.checks import (
    GRAD_TOL,
    VALUE_TOL,
    Check,
    Result,
    as_output,
    compare,
    copies,
    first_failure,
    modified,
    modified_inputs,
    numerical_gradients,
    register,
)
from course.grading.training import TrainingCheck, adam_steps

SOURCE_CLASSES = (0, 1, 2, 3, 4)
"""The digits the pretrained network learned (its source task)."""
TARGET_CLASSES = (5, 6, 7, 8, 9)
"""The digits of the target task, labelled 0-4 there."""


class Network:
    """A multilayer perceptron on images, numpy only: flatten, then ``linear - ReLU`` layers and
    a last linear layer giving the scores (lecture 6e).

    ``params`` holds ``W1, b1, ..., WL, bL`` (``Wi`` of shape (in, out), as ``ops.linear_forward``).
    ``forward(x)``: x (N, C, H, W) (or (N, D)) -> scores (N, K). ``backward(dscores)``: the
    gradient of the input (x's shape), after filling ``grads`` (keyed like ``params``).
    """

    def __init__(self, params):
        self.params = params
        self.layers = len(params) // 2
        self.grads, self.cache = {}, None

    def forward(self, x):
        h = np.asarray(x).reshape(len(x), -1)
        inputs = []
        for i in range(1, self.layers + 1):
            inputs.append(h)
            h = h @ self.params[f"W{i}"] + self.params[f"b{i}"]
            if i < self.layers:
                h = np.maximum(h, 0)
        self.cache = (np.shape(x), inputs)
        return h

    def backward(self, dscores):
        shape, inputs = self.cache
        d = dscores
        for i in range(self.layers, 0, -1):
            self.grads[f"W{i}"] = inputs[i - 1].T @ d
            self.grads[f"b{i}"] = d.sum(axis=0)
            d = d @ self.params[f"W{i}"].T
            if i > 1:
                d = d * (inputs[i - 1] > 0)
        return d.reshape(shape)


def random_params(rng, sizes):
    """He-initialised ``W1, b1, ...`` for layer sizes ``(D, H1, ..., K)``, float64."""
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        params[f"W{i}"] = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in)
        params[f"b{i}"] = 0.1 * rng.standard_normal(fan_out)
    return params


def reference_model(params):
    """The same network built from ``course.nn`` (the judge's side, never the sandbox's)."""
    from course import nn

    count = len(params) // 2
    layers = [nn.Flatten()]
    for i in range(1, count + 1):
        w = np.array(params[f"W{i}"], dtype=np.float64)
        linear = nn.Linear(*w.shape, dtype=np.float64)  # nn.Linear keeps (out, in): w.T
        linear.weight.data = np.ascontiguousarray(w.T)
        linear.bias.data = np.array(params[f"b{i}"], dtype=np.float64)
        layers += [linear, nn.ReLU()] if i < count else [linear]
    return nn.Sequential(*layers)


def well_conditioned(x, params, gap=0.02):
    """No hidden pre-activation within ``gap`` of ReLU's kink, so numerical gradients hold."""
    h = x.reshape(len(x), -1)
    count = len(params) // 2
    for i in range(1, count):
        z = h @ params[f"W{i}"] + params[f"b{i}"]
        if np.abs(z).min() < gap:
            return False
        h = np.maximum(z, 0)
    return True


def make_network_inputs(rng, n, c, size, hidden, classes, **extra):
    """Images (n, c, size, size), labels and a random network's parameters, redrawn until no
    ReLU input is near its kink."""
    while True:
        inputs = {"x": rng.uniform(0, 1, (n, c, size, size)),
                  "target": rng.integers(0, classes, n).astype(np.int64),
                  **random_params(rng, (c * size * size, hidden, hidden, classes))}
        if well_conditioned(inputs["x"], network_params(inputs)):
            inputs.update({key: np.array(value) for key, value in extra.items()})
            return inputs


def network_params(inputs):
    """The ``W1, b1, ...`` entries of a check's inputs, as a dict."""
    names = sorted((k for k in inputs if k[0] in "Wb" and k[1:].isdigit()),
                   key=lambda k: (int(k[1:]), k[0] == "b"))
    return {name: np.array(inputs[name], dtype=np.float64) for name in names}


def score_sum(model, x, target):
    """``f() -> scores[n, target_n]`` (N,) of ``model``, for numerical gradients."""
    return lambda: model.forward(x)[np.arange(len(x)), target]


class NetworkCheck(Check):
    """A student function ``fn(model, x, target, ...)`` run on a :class:`Network`.

    Args:
        function: the student function's name. extra: names of the option values passed
            after ``target`` (as Python numbers).
    """

    def __init__(self, name, function, defaults, extra=()):
        module = {"saliency": "gradients", "occlusion_map": "occlusion",
                  "fgsm": "adversarial"}[function]
        super().__init__(name, (function,), (f"course.interpret.{function}",
                                              f"course.interpret.{module}.{function}"),
                         defaults)
        self.extra = tuple(extra)

    def make(self, rng, n, c, size, hidden, classes, **options):
        return make_network_inputs(rng, n, c, size, hidden, classes, **options)

    def target(self, inputs):
        """The target as given to the function: one int when the check asks for that."""
        target = np.array(inputs["target"])
        return int(target[0]) if int(inputs.get("one_target", 0)) else target

    def call(self, functions, inputs):
        (function,) = functions
        x, target = copies(inputs, ("x", "target"))
        extra = [inputs[name].item() for name in self.extra]
        given = int(target[0]) if int(inputs.get("one_target", 0)) else target
        out = function(Network(network_params(inputs)), x, given, *extra)
        return {"out": as_output(out, f"{function.__name__}'s result"),
                "inputs_modified": modified(copies(inputs, ("x", "target")), [x, target],
                                            ["x", "target"])}

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, ("x", "target"), self.label)
        if failed:
            return failed
        x = np.array(inputs["x"], dtype=np.float64)
        params = network_params(inputs)
        return self.compare(reference_model(params), Network(params), x, self.target(inputs),
                            inputs, outputs["out"])


class SaliencyCheck(NetworkCheck):
    """``saliency(model, x, target)`` against ``course.interpret.saliency`` (on the same
    network built from ``course.nn``) and against the numerical gradient of the target scores
    (finite differences of the numpy :class:`Network`'s forward pass, which is fast)."""

    def compare(self, model, plain, x, target, inputs, out):
        from course import interpret

        expected = interpret.saliency(model, x, target)
        rows = np.broadcast_to(np.asarray(target), (len(x),))
        numerical = numerical_gradients(score_sum(plain, x, rows), {"x": x}, ["x"],
                                        np.ones(len(x)))["x"]
        shown = compare([("saliency", out, np.abs(numerical).max(axis=1),
                          "the numerical gradient")], GRAD_TOL, self.label, "wrong gradient")
        return first_failure(self.label, (shown,), compare(
            [("saliency", out, expected, "course.interpret.saliency")], GRAD_TOL, self.label,
            "wrong gradient"))


class OcclusionCheck(NetworkCheck):
    """``occlusion_map(model, x, target, patch, stride, fill)`` against
    ``course.interpret.occlusion_map``."""

    def compare(self, model, plain, x, target, inputs, out):
        from course import interpret

        patch, stride, fill = (inputs[name].item() for name in self.extra)
        expected = interpret.occlusion_map(model, x, target, patch, stride, fill)
        return compare([("occlusion map", out, expected, "course.interpret.occlusion_map")],
                       VALUE_TOL, self.label, "wrong value")


class FgsmCheck(NetworkCheck):
    """``fgsm(model, x, y, eps) -> x_adv`` against ``course.interpret.fgsm``, and the sign of
    each step against the numerical gradient of the loss (pixels whose gradient is too small
    to have a reliable sign are left out)."""

    def compare(self, model, plain, x, target, inputs, out):
        from course import interpret, ops

        eps = inputs["eps"].item()
        expected, _ = interpret.fgsm(model, x, target, eps)
        _, dx = interpret.loss_gradient(model, x, target)
        numerical = numerical_gradients(lambda: ops.softmax_loss(plain.forward(x), target)[0],
                                        {"x": x}, ["x"], 1.0)["x"]
        reliable = np.abs(dx) > 1e-6 * np.abs(dx).max()
        if np.shape(out) != x.shape:
            return Result(False, f"{self.label}: x_adv has shape {np.shape(out)}, expected "
                                 f"{x.shape}", "wrong shape", math.inf)
        step = np.where(reliable, (out - x) / eps, 0.0)
        shown = compare([("sign of the step", step, np.where(reliable, np.sign(numerical), 0.0),
                          "the numerical gradient's sign")], VALUE_TOL, self.label,
                        "wrong gradient")
        return first_failure(self.label, (shown,), compare(
            [("x_adv", np.where(reliable, out, x), np.where(reliable, expected, x),
              "course.interpret.fgsm")], VALUE_TOL, self.label, "wrong value"))


SHAPES = {"n": 3, "c": 1, "size": 6, "hidden": 8, "classes": 4}
register(SaliencyCheck("a5.saliency", "saliency", {**SHAPES, "one_target": False}))
register(OcclusionCheck("a5.occlusion_map", "occlusion_map",
                        {**SHAPES, "patch": 2, "stride": 2, "fill": 0.0, "one_target": False},
                        extra=("patch", "stride", "fill")))
register(FgsmCheck("a5.fgsm", "fgsm", {**SHAPES, "eps": 0.1}, extra=("eps",)))


# ---------------------------------------------------------------------------------------------
# Transfer: the network pretrained on digits 0-4, fine-tuned on 5-9 from a few labels


@functools.cache
def pretrained_params(hidden=(128, 64), epochs=30, seed=0):
    """The weights of the pretrained network: an MLP 64 - 128 - 64 - 5 trained with Adam on
    the training and validation digits 0-4 (the same on every machine; about a second)."""
    data = digits_split(SOURCE_CLASSES)
    X, y = data["X"].reshape(len(data["X"]), -1), data["y"]
    rng = np.random.default_rng(seed)
    params = random_params(rng, (X.shape[1], *hidden, len(SOURCE_CLASSES)))
    network, state, step = Network(params), {}, 0
    for _ in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 64):
            rows = order[start:start + 64]
            scores = network.forward(X[rows])
            probs = np.exp(scores - scores.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(rows)), y[rows]] -= 1
            network.backward(probs / len(rows))
            step += 1
            adam_steps(network.params, network.grads, state, 1e-3, step)
    return {name: value.copy() for name, value in network.params.items()}


def pretrained_network():
    """A :class:`Network` pretrained on the digits 0-4 (a fresh copy every call)."""
    return Network({name: value.copy() for name, value in pretrained_params().items()})


def digits_split(classes, split="train"):
    """The digits of ``classes`` (8x8, float64), relabelled 0, 1, ...: ``split`` "train" is
    the training and validation images, "test" the held-out ones."""
    from course.data import load_digits

    data = load_digits(dtype=np.float64)
    if split == "train":
        X = np.concatenate([data["X_train"], data["X_val"]])
        y = np.concatenate([data["y_train"], data["y_val"]])
    else:
        X, y = data["X_test"], data["y_test"]
    keep = np.isin(y, classes)
    return {"X": X[keep], "y": np.searchsorted(classes, y[keep]).astype(np.int64)}


def transfer_data():
    """The pretrained weights, the labelled pool of the target digits and the held-out test
    images (never their labels)."""
    pool, test = digits_split(TARGET_CLASSES), digits_split(TARGET_CLASSES, "test")
    return {**pretrained_params(), "X_pool": pool["X"], "y_pool": pool["y"], "X_test": test["X"]}


def transfer_accuracy(inputs, outputs):
    """Accuracy of the held-out scores (N, 5) on the test digits 5-9."""
    y_test = digits_split(TARGET_CLASSES, "test")["y"]
    scores = outputs["scores"]
    if scores.shape != (len(y_test), len(TARGET_CLASSES)):
        raise ValueError(f"the held-out scores have shape {scores.shape}, expected "
                         f"{(len(y_test), len(TARGET_CLASSES))}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("the held-out scores are not finite (the training diverged)")
    return float((scores.argmax(axis=1) == y_test).mean()), "held-out accuracy on digits 5-9"


def train_fine_tune(functions, inputs):
    """The student's ``fine_tune(network, X, y, seed)`` on the pretrained network, then the
    held-out scores, with the first layer as pretrained (it is the frozen one)."""
    (fine_tune,) = functions
    pretrained = network_params(inputs)
    network = fine_tune(Network({k: v.copy() for k, v in pretrained.items()}),
                        np.array(inputs["X_train"]), np.array(inputs["y_train"]),
                        int(inputs["seed"]))
    params = {k: np.asarray(v, dtype=np.float64) for k, v in network.params.items()}
    params["W1"], params["b1"] = pretrained["W1"], pretrained["b1"]
    return Network(params).forward(np.array(inputs["X_test"]))


class FineTuneCheck(TrainingCheck):
    """The training check with ``labels_per_class`` labelled target images drawn per class."""

    def make(self, rng, **options):
        inputs = super().make(rng, **options)
        X, y = inputs.pop("X_pool"), inputs.pop("y_pool")
        k = int(options["labels_per_class"])
        rows = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False)
                               for c in range(len(TARGET_CLASSES))])
        inputs["X_train"], inputs["y_train"] = X[rows], y[rows]
        return inputs


register(FineTuneCheck("a5.fine_tune", ("fine_tune",), train_fine_tune,
                       {"labels_per_class": 10}, threshold=0.85, seconds=60,
                       what="the pretrained network fine-tuned on digits 5-9 (10 labels each)",
                       data=transfer_data, evaluate=transfer_accuracy))
