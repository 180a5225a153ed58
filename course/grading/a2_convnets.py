"""Checks of assignment 2, convolutional networks (lectures 3-4): naive convolution, max
pooling, a three-layer convnet, and that convnet trained on the digits (held-out accuracy).

Registered in :data:`course.grading.checks.CHECKS` under ``"a2.<exercise>"``.
"""

import numpy as np

from course.grading.checks import (
    op_checks,
    reference_kernels,
    reference_ops,
    register,
    tie_free,
)
from course.grading.replay import ReplayModelLossCheck
from course.grading.training import TrainingCheck, adam_steps, digits


def make_conv(rng, n, c, h, w, f, k, stride, padding):
    return {"x": rng.standard_normal((n, c, h, w)),
            "w": rng.standard_normal((f, c, k, k)) / k,
            "b": rng.standard_normal(f),
            "stride": np.array(int(stride)), "padding": np.array(int(padding))}


def make_pool(rng, n, c, h, w, size, stride):
    """Distinct values (no ties), so every window has one maximum and a clear gradient."""
    return {"x": tie_free(rng, (n, c, h, w)),
            "size": np.array(int(size)), "stride": np.array(int(stride))}


op_checks("a2", "conv2d", ("x", "w", "b"), make_conv,
          {"n": 2, "c": 3, "h": 5, "w": 5, "f": 2, "k": 3, "stride": 1, "padding": 1}, "conv",
          params=("stride", "padding"))
op_checks("a2", "max_pool2d", ("x",), make_pool,
          {"n": 2, "c": 3, "h": 4, "w": 4, "size": 2, "stride": 2}, "pool",
          params=("size", "stride"))


# ---------------------------------------------------------------------------------------------
# The three-layer convnet: conv - relu - 2x2 max pool - linear - relu - linear - softmax

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


LAYERS = ("conv2d_forward", "conv2d_backward", "max_pool2d_forward", "max_pool2d_backward",
          "linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_loss")
"""The layer functions the convnet's check replays (see :mod:`course.grading.replay`)."""


def convnet_forward(X, params, ops=None):
    """The reference forward pass, keeping every cache and the values the checks inspect."""
    ops = ops or reference_ops()
    k = params["W1"].shape[2]
    conv, conv_cache = ops.conv2d_forward(X, params["W1"], params["b1"], stride=1,
                                          padding=(k - 1) // 2)
    active, relu1_cache = ops.relu_forward(conv)
    pooled, pool_cache = ops.max_pool2d_forward(active, size=2, stride=2)
    hidden, linear2_cache = ops.linear_forward(pooled, params["W2"], params["b2"])
    active2, relu2_cache = ops.relu_forward(hidden)
    scores, linear3_cache = ops.linear_forward(active2, params["W3"], params["b3"])
    caches = (conv_cache, relu1_cache, pool_cache, linear2_cache, relu2_cache, linear3_cache)
    return scores, caches, (conv, active, hidden)


def convnet_reference(X, y, params, reg, ops=None):
    """Loss and gradients of the three-layer convnet, from the library's ops (or ``ops``)."""
    ops = ops or reference_ops()
    scores, caches, _ = convnet_forward(X, params, ops)
    conv_cache, relu1_cache, pool_cache, linear2_cache, relu2_cache, linear3_cache = caches
    loss, dscores = ops.softmax_loss(scores, y)
    loss += 0.5 * reg * sum(np.sum(params[k] ** 2) for k in ("W1", "W2", "W3"))
    dactive2, dW3, db3 = ops.linear_backward(dscores, linear3_cache)
    dpooled, dW2, db2 = ops.linear_backward(ops.relu_backward(dactive2, relu2_cache),
                                            linear2_cache)
    dactive = ops.max_pool2d_backward(dpooled, pool_cache)
    _, dW1, db1 = ops.conv2d_backward(ops.relu_backward(dactive, relu1_cache), conv_cache)
    grads = {"W1": dW1 + reg * params["W1"], "b1": db1, "W2": dW2 + reg * params["W2"],
             "b2": db2, "W3": dW3 + reg * params["W3"], "b3": db3}
    return loss, grads


def well_conditioned(X, params, gap=0.01):
    """No ReLU input within ``gap`` of 0 and no near tie for a positive window maximum."""
    _, _, (conv, active, hidden) = convnet_forward(X, params)
    n, f, h, w = active.shape
    windows = active[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, f, h // 2, 2, w // 2, 2)
    windows = np.sort(windows.transpose(0, 1, 2, 4, 3, 5).reshape(n, f, h // 2, w // 2, 4))
    ties = (windows[..., -1] > 0) & (windows[..., -1] - windows[..., -2] < gap)
    return np.abs(conv).min() > gap and np.abs(hidden).min() > gap and not ties.any()


def make_convnet(rng, n, c, size, filters, k, hidden, classes, reg):
    features = filters * (size // 2) ** 2
    while True:  # redraw until every kink and every pooling tie is far away
        inputs = {"X": rng.standard_normal((n, c, size, size)),
                  "y": rng.integers(0, classes, n).astype(np.int64),
                  "W1": rng.standard_normal((filters, c, k, k)) / (k * np.sqrt(c)),
                  "b1": 0.1 * rng.standard_normal(filters),
                  "W2": rng.standard_normal((features, hidden)) / np.sqrt(features),
                  "b2": 0.1 * rng.standard_normal(hidden),
                  "W3": 0.5 * rng.standard_normal((hidden, classes)) / np.sqrt(hidden),
                  "b3": 0.1 * rng.standard_normal(classes),
                  "reg": np.array(float(reg))}
        with reference_kernels():
            if well_conditioned(inputs["X"], {name: inputs[name] for name in PARAMS}):
                return inputs


register(ReplayModelLossCheck("a2.three_layer_convnet_loss", "three_layer_convnet_loss",
                              ("X", "y"), PARAMS, make_convnet, convnet_reference,
                              {"n": 2, "c": 1, "size": 4, "filters": 2, "k": 3, "hidden": 4,
                               "classes": 3, "reg": 0.1}, LAYERS))


# ---------------------------------------------------------------------------------------------
# End to end: the convnet (the student's conv and pooling) trained on the 8x8 digits


def train_convnet(functions, inputs):
    """Minibatch Adam on the student's ``three_layer_convnet_loss``; the held-out scores."""
    (convnet_loss,) = functions
    X, y, X_test = inputs["X_train"], inputs["y_train"], inputs["X_test"]
    rng = np.random.default_rng(int(inputs["seed"]))
    filters, hidden, k = int(inputs["filters"]), int(inputs["hidden"]), int(inputs["k"])
    features = filters * (X.shape[2] // 2) * (X.shape[3] // 2)
    params = {"W1": rng.standard_normal((filters, X.shape[1], k, k)) * np.sqrt(2 / (k * k)),
              "b1": np.zeros(filters),
              "W2": rng.standard_normal((features, hidden)) * np.sqrt(2 / features),
              "b2": np.zeros(hidden),
              "W3": rng.standard_normal((hidden, 10)) * np.sqrt(2 / hidden), "b3": np.zeros(10)}
    state, step, batch = {}, 0, int(inputs["batch_size"])
    learning_rate = float(inputs["learning_rate"])
    for _ in range(int(inputs["epochs"])):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            _, grads = convnet_loss(X[rows], y[rows], params, float(inputs["reg"]))
            step += 1
            adam_steps(params, grads, state, learning_rate, step)
        learning_rate *= float(inputs["decay"])
    return np.concatenate([convnet_loss(X_test[i:i + 120], None, params, 0.0)
                           for i in range(0, len(X_test), 120)])


register(TrainingCheck("a2.train_convnet", ("three_layer_convnet_loss",), train_convnet,
                       {"filters": 16, "k": 5, "hidden": 128, "reg": 1e-4,
                        "learning_rate": 1e-2, "decay": 0.85, "epochs": 12, "batch_size": 128},
                       threshold=0.97, seconds=120,
                       what="the three-layer convnet trained on the 8x8 digits",
                       data=lambda: digits(with_val=True)))
