"""Checks of assignment 1, backprop (lectures 1-2): layers, losses, a two-layer net, SGD with
momentum, RMSProp and Adam, and training the net on the digits (a held-out accuracy).

Registered in :data:`course.grading.checks.CHECKS` under ``"a1.<exercise>"``.
"""

import math

import numpy as np

from course.grading.checks import (
    GRAD_TOL,
    VALUE_TOL,
    Check,
    LossCheck,
    Result,
    as_output,
    as_shape,
    compare,
    copies,
    kink_free,
    modified,
    modified_inputs,
    op_checks,
    reference_ops,
    register,
    unpack,
)
from course.grading.replay import ReplayModelLossCheck, record, replaying
from course.grading.training import TrainingCheck


def make_linear(rng, n, d, m):
    d = as_shape(d)
    return {"x": rng.standard_normal((n, *d)),
            "w": rng.standard_normal((math.prod(d), m)),
            "b": rng.standard_normal(m)}


def make_relu(rng, shape):
    return {"x": kink_free(rng.standard_normal(as_shape(shape)))}


def make_sigmoid(rng, shape, scale):
    return {"x": scale * rng.standard_normal(as_shape(shape))}


op_checks("a1", "linear", ("x", "w", "b"), make_linear, {"n": 3, "d": (4, 5), "m": 6}, "linear")
op_checks("a1", "relu", ("x",), make_relu, {"shape": (4, 5)}, "activations")
op_checks("a1", "sigmoid", ("x",), make_sigmoid, {"shape": (4, 5), "scale": 3.0},
          "activations")


def make_scores(rng, n, c, scale=1.0):
    return {"scores": scale * rng.standard_normal((n, c)),
            "y": rng.integers(0, c, n).astype(np.int64)}


def make_svm_scores(rng, n, c, gap=0.05):
    """Scores whose margins ``s_j - s_y + 1`` all stay ``gap`` away from the hinge's kink."""
    inputs = make_scores(rng, n, c)
    scores, y = inputs["scores"], inputs["y"]
    for i in range(n):
        for j in range(c):
            while j != y[i] and abs(scores[i, j] - scores[i, y[i]] + 1) < gap:
                scores[i, j] += 2 * gap
    return inputs


register(LossCheck("a1.softmax_loss", "softmax_loss", make_scores, {"n": 5, "c": 4}))


class StableSoftmaxCheck(LossCheck):
    """softmax_loss on logits of size ``scale`` (1e3): ``exp`` overflows unless each row's
    maximum is subtracted first. Loss and dscores must be finite and equal the reference's
    (a numerical gradient is not precise enough at that scale)."""

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, ["scores"], self.label)
        if failed:
            return failed
        for name in ("loss", "dscores"):
            if not np.all(np.isfinite(outputs[name])):
                return Result(False, f"{self.label}: {name} is not finite for scores of size "
                                     f"{float(np.abs(inputs['scores']).max()):.0f}: subtract "
                                     f"each row's maximum before np.exp", "wrong value", math.inf)
        loss, dscores = reference_ops().softmax_loss(np.array(inputs["scores"]), inputs["y"])
        return compare([("loss", outputs["loss"], loss, "the reference"),
                        ("dscores", outputs["dscores"], dscores, "the reference")],
                       GRAD_TOL, self.label, "wrong value")


register(StableSoftmaxCheck("a1.softmax_loss_stable", "softmax_loss", make_scores,
                            {"n": 5, "c": 4, "scale": 1000.0}))
register(LossCheck("a1.svm_loss", "svm_loss", make_svm_scores, {"n": 5, "c": 4}))


# ---------------------------------------------------------------------------------------------
# The two-layer network: scores = relu(X W1 + b1) W2 + b2, softmax loss + 0.5 reg (|W1|^2+|W2|^2)

PARAMS = ("W1", "b1", "W2", "b2")


LAYERS = ("linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_loss")
"""The layer functions the two-layer net's checks replay (see :mod:`course.grading.replay`)."""


def two_layer_reference(X, y, params, reg, ops=None):
    """The loss and gradients of the two-layer net, from the library's ops (or ``ops``)."""
    ops = ops or reference_ops()
    hidden, cache1 = ops.linear_forward(X, params["W1"], params["b1"])
    active, cache2 = ops.relu_forward(hidden)
    scores, cache3 = ops.linear_forward(active, params["W2"], params["b2"])
    loss, dscores = ops.softmax_loss(scores, y)
    loss += 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    dactive, dW2, db2 = ops.linear_backward(dscores, cache3)
    _, dW1, db1 = ops.linear_backward(ops.relu_backward(dactive, cache2), cache1)
    grads = {"W1": dW1 + reg * params["W1"], "b1": db1, "W2": dW2 + reg * params["W2"],
             "b2": db2}
    return loss, grads


def make_two_layer(rng, n, d, h, c, reg):
    while True:  # redraw until no hidden unit sits within 0.01 of ReLU's kink
        inputs = {"X": rng.standard_normal((n, d)),
                  "y": rng.integers(0, c, n).astype(np.int64),
                  "W1": rng.standard_normal((d, h)) / math.sqrt(d),
                  "b1": 0.1 * rng.standard_normal(h),
                  "W2": 0.5 * rng.standard_normal((h, c)) / math.sqrt(h),
                  "b2": 0.1 * rng.standard_normal(c),
                  "reg": np.array(float(reg))}
        if np.abs(inputs["X"] @ inputs["W1"] + inputs["b1"]).min() > 0.01:
            return inputs


register(ReplayModelLossCheck("a1.two_layer_loss", "two_layer_loss", ("X", "y"), PARAMS,
                              make_two_layer, two_layer_reference,
                              {"n": 4, "d": 5, "h": 6, "c": 3, "reg": 0.1}, LAYERS))


def two_layer_scores_reference(X, params, ops=None):
    ops = ops or reference_ops()
    hidden, _ = ops.linear_forward(X, params["W1"], params["b1"])
    active, _ = ops.relu_forward(hidden)
    return ops.linear_forward(active, params["W2"], params["b2"])[0]


class TwoLayerScoresCheck(Check):
    """``two_layer_loss(X, None, params, reg)`` returns the scores (the prediction path), with
    the layers replayed as in the loss check."""

    def __init__(self):
        super().__init__("a1.two_layer_scores", ("two_layer_loss",), (),
                         {"n": 4, "d": 5, "h": 6, "c": 3, "reg": 0.1})

    def make(self, rng, **options):
        inputs = make_two_layer(rng, **options)
        params = {k: inputs[k] for k in PARAMS}
        return {**inputs, **record(two_layer_scores_reference, LAYERS[::2], inputs["X"],
                                   params)}

    def call(self, functions, inputs):
        (two_layer_loss,) = functions
        X, *values = copies(inputs, ("X", *PARAMS))
        with replaying(two_layer_loss, inputs):
            scores = two_layer_loss(X, None, dict(zip(PARAMS, values, strict=True)),
                                    float(inputs["reg"]))
        return {"scores": as_output(scores, "two_layer_loss(X, None, ...)")}

    def judge(self, inputs, outputs, **options):
        params = {k: inputs[k] for k in PARAMS}
        expected = two_layer_scores_reference(inputs["X"], params)
        return compare([("scores", outputs["scores"], expected, "the reference")], VALUE_TOL,
                       self.label, "wrong value")


register(TwoLayerScoresCheck())


# ---------------------------------------------------------------------------------------------
# SGD with momentum, CS231n's rule: v = momentum * v - learning_rate * dw; w = w + v


class SgdMomentumCheck(Check):
    """``sgd_momentum(w, dw, config) -> (next_w, config)``; a missing velocity starts at 0."""

    def __init__(self):
        super().__init__("a1.sgd_momentum", ("sgd_momentum",), ("course.optim.SGD",),
                         {"shape": (4, 5), "learning_rate": 1e-2, "momentum": 0.9,
                          "first": False})

    def make(self, rng, shape, learning_rate, momentum, first):
        shape = as_shape(shape)
        return {"w": rng.standard_normal(shape), "dw": rng.standard_normal(shape),
                "velocity": np.zeros(shape) if first else rng.standard_normal(shape),
                "learning_rate": np.array(float(learning_rate)),
                "momentum": np.array(float(momentum)), "first": np.array(int(first))}

    def call(self, functions, inputs):
        (sgd_momentum,) = functions
        w, dw, velocity = copies(inputs, ("w", "dw", "velocity"))
        config = {"learning_rate": float(inputs["learning_rate"]),
                  "momentum": float(inputs["momentum"])}
        if not inputs["first"]:
            config["velocity"] = velocity
        next_w, config = unpack(sgd_momentum(w, dw, config), 2,
                                "sgd_momentum must return (next_w, config)")
        if not isinstance(config, dict) or "velocity" not in config:
            raise TypeError("sgd_momentum must return the config with its 'velocity'")
        return {"next_w": as_output(next_w, "next_w"),
                "velocity": as_output(config["velocity"], "config['velocity']")}

    def judge(self, inputs, outputs, **options):
        velocity = (inputs["momentum"] * inputs["velocity"]
                    - inputs["learning_rate"] * inputs["dw"])
        return compare([("next_w", outputs["next_w"], inputs["w"] + velocity, "the reference"),
                        ("velocity", outputs["velocity"], velocity, "the reference")],
                       VALUE_TOL, self.label, "wrong value")


register(SgdMomentumCheck())


# ---------------------------------------------------------------------------------------------
# RMSProp and Adam (CS231n's update rules, lecture 2); ``config`` holds the state between steps


class UpdateRuleCheck(Check):
    """``rule(w, dw, config) -> (next_w, config)``: ``steps`` updates from a fresh config (or
    from the given state), compared with the rule computed here."""

    def __init__(self, name, state, settings, forbidden):
        super().__init__(f"a1.{name}", (name,), forbidden,
                         {"shape": (4, 5), "steps": 1, "first": True, **settings})
        self.state, self.settings = state, tuple(settings)

    def make(self, rng, shape, steps, first, **settings):
        shape = as_shape(shape)
        inputs = {"w": rng.standard_normal(shape), "steps": np.array(int(steps)),
                  "dws": rng.standard_normal((int(steps), *shape)),
                  "first": np.array(int(first))}
        for key in self.state:  # a state part way through training
            inputs[key] = (rng.random(shape) if key != "t" else np.array(5)) if not first \
                else (np.zeros(shape) if key != "t" else np.array(0))
        inputs.update({key: np.array(float(value)) for key, value in settings.items()})
        return inputs

    def call(self, functions, inputs):
        (rule,) = functions
        (w,) = copies(inputs, ("w",))
        config = {key: float(inputs[key]) for key in self.settings}
        if not inputs["first"]:
            config.update({key: np.array(inputs[key]) if key != "t" else int(inputs[key])
                           for key in self.state})
        given = w
        for dw in copies(inputs, ("dws",))[0]:
            w, config = unpack(rule(w, dw, config), 2, f"{rule.__name__} must return "
                                                        f"(next_w, config)")
            if not isinstance(config, dict) or any(key not in config for key in self.state):
                raise TypeError(f"{rule.__name__} must keep {', '.join(self.state)} in config")
        outputs = {"next_w": as_output(w, "next_w")}
        outputs.update({key: as_output(config[key], f"config[{key!r}]") for key in self.state})
        outputs["inputs_modified"] = modified(copies(inputs, ("w",)), [given], ["w"])
        return outputs

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, ["w"], self.label)
        if failed:
            return failed
        w = np.array(inputs["w"])
        state = {key: np.array(inputs[key], dtype=np.float64) for key in self.state}
        settings = {key: float(inputs[key]) for key in self.settings}
        for dw in inputs["dws"]:
            w = self.step(w, dw, state, **settings)
        entries = [("next_w", outputs["next_w"], w, "the reference")]
        entries += [(key, outputs[key], state[key], "the reference") for key in self.state]
        return compare(entries, VALUE_TOL, self.label, "wrong value")


class RmsPropCheck(UpdateRuleCheck):
    """cache = decay_rate * cache + (1 - decay_rate) dw^2; w -= lr dw / (sqrt(cache) + eps)."""

    def __init__(self):
        super().__init__("rmsprop", ("cache",), {"learning_rate": 1e-2, "decay_rate": 0.99,
                                                 "epsilon": 1e-8}, ("course.optim.RMSProp",))

    @staticmethod
    def step(w, dw, state, learning_rate, decay_rate, epsilon):
        state["cache"] = decay_rate * state["cache"] + (1 - decay_rate) * dw * dw
        return w - learning_rate * dw / (np.sqrt(state["cache"]) + epsilon)


class AdamCheck(UpdateRuleCheck):
    """t += 1; m, v moving averages of dw and dw^2; bias-corrected; w -= lr m_hat /
    (sqrt(v_hat) + eps)."""

    def __init__(self):
        super().__init__("adam", ("m", "v", "t"), {"learning_rate": 1e-3, "beta1": 0.9,
                                                   "beta2": 0.999, "epsilon": 1e-8},
                         ("course.optim.Adam",))

    @staticmethod
    def step(w, dw, state, learning_rate, beta1, beta2, epsilon):
        state["t"] = state["t"] + 1
        state["m"] = beta1 * state["m"] + (1 - beta1) * dw
        state["v"] = beta2 * state["v"] + (1 - beta2) * dw * dw
        m_hat = state["m"] / (1 - beta1 ** state["t"])
        v_hat = state["v"] / (1 - beta2 ** state["t"])
        return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)


register(RmsPropCheck())
register(AdamCheck())


# ---------------------------------------------------------------------------------------------
# End to end: the student's net and optimizer trained on the digits, held-out accuracy


def train_two_layer(functions, inputs):
    """Minibatch training with the student's ``two_layer_loss`` and ``adam``; returns the
    held-out scores (numpy and the student's functions only: it runs in the sandbox)."""
    two_layer_loss, adam = functions
    X, y, X_test = inputs["X_train"], inputs["y_train"], inputs["X_test"]
    rng = np.random.default_rng(int(inputs["seed"]))
    d, hidden, classes = X.shape[1], int(inputs["hidden"]), 10
    params = {"W1": rng.standard_normal((d, hidden)) * np.sqrt(2 / d), "b1": np.zeros(hidden),
              "W2": rng.standard_normal((hidden, classes)) * np.sqrt(2 / hidden),
              "b2": np.zeros(classes)}
    configs = {name: {"learning_rate": float(inputs["learning_rate"])} for name in params}
    batch = int(inputs["batch_size"])
    for _ in range(int(inputs["epochs"])):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            _, grads = two_layer_loss(X[rows], y[rows], params, float(inputs["reg"]))
            for name in params:
                params[name], configs[name] = adam(params[name], grads[name], configs[name])
    return two_layer_loss(X_test, None, params, float(inputs["reg"]))


register(TrainingCheck("a1.train_two_layer", ("two_layer_loss", "adam"), train_two_layer,
                       {"hidden": 64, "reg": 1e-4, "learning_rate": 5e-3, "epochs": 15,
                        "batch_size": 64}, threshold=0.95, seconds=60,
                       what="the two-layer net trained with your adam on the 8x8 digits"))
