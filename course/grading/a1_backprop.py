"""Checks of assignment 1, backprop (lectures 1-2): layers, losses, a two-layer net, SGD.

Registered in :data:`course.grading.checks.CHECKS` under ``"a1.<exercise>"``.
"""

import math

import numpy as np

from course.grading.checks import (
    VALUE_TOL,
    Check,
    LossCheck,
    ModelLossCheck,
    as_output,
    as_shape,
    compare,
    copies,
    kink_free,
    op_checks,
    reference_ops,
    register,
    unpack,
)


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


def make_scores(rng, n, c):
    return {"scores": rng.standard_normal((n, c)), "y": rng.integers(0, c, n).astype(np.int64)}


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
register(LossCheck("a1.svm_loss", "svm_loss", make_svm_scores, {"n": 5, "c": 4}))


# ---------------------------------------------------------------------------------------------
# The two-layer network: scores = relu(X W1 + b1) W2 + b2, softmax loss + 0.5 reg (|W1|^2+|W2|^2)

PARAMS = ("W1", "b1", "W2", "b2")


def two_layer_reference(X, y, params, reg):
    """The loss and gradients of the two-layer net, from the library's ops."""
    ops = reference_ops()
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


register(ModelLossCheck("a1.two_layer_loss", "two_layer_loss", ("X", "y"), PARAMS,
                          make_two_layer, two_layer_reference,
                          {"n": 4, "d": 5, "h": 6, "c": 3, "reg": 0.1}))


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
