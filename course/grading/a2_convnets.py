"""Checks of assignment 2, convolutional networks (lectures 3-4): naive convolution, max
pooling, a three-layer convnet, and LeNet-5 made of the student's layers trained on the digits
(held-out accuracy).

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
# End to end: LeNet-5 built from the student's conv and pooling, trained on the 16x16 digits

LENET5 = ("conv2d_forward", "conv2d_backward", "max_pool2d_forward", "max_pool2d_backward",
          "linear_forward", "linear_backward", "relu_forward", "relu_backward", "softmax_loss")


def lenet5_params(rng, size):
    """LeNet-5's weights (He initialisation) for (1, size, size) images: conv 6@5x5 (padding 2),
    pool, conv 16@5x5, pool, linear 120, linear 84, linear 10."""
    flat = 16 * ((size // 2 - 4) // 2) ** 2
    shapes = {"W1": (6, 1, 5, 5), "W2": (16, 6, 5, 5), "W3": (flat, 120), "W4": (120, 84),
              "W5": (84, 10)}
    params = {}
    for layer, shape in enumerate(shapes.values(), start=1):
        fan_in = int(np.prod(shape[1:])) if len(shape) == 4 else shape[0]
        params[f"W{layer}"] = rng.standard_normal(shape) * np.sqrt(2 / fan_in)
        params[f"b{layer}"] = np.zeros(shape[0] if len(shape) == 4 else shape[1])
    return params


def lenet5_loss(functions, X, params, y=None):
    """LeNet-5's scores (``y`` None) or its loss and gradients, from the nine functions of
    :data:`LENET5` (the student's conv and pooling, the notebook's dense layers)."""
    (conv_f, conv_b, pool_f, pool_b, linear_f, linear_b, relu_f, relu_b, softmax) = functions
    out, c1 = conv_f(X, params["W1"], params["b1"], 1, 2)
    out, r1 = relu_f(out)
    out, p1 = pool_f(out, 2, 2)
    out, c2 = conv_f(out, params["W2"], params["b2"], 1, 0)
    out, r2 = relu_f(out)
    out, p2 = pool_f(out, 2, 2)
    out, l3 = linear_f(out, params["W3"], params["b3"])
    out, r3 = relu_f(out)
    out, l4 = linear_f(out, params["W4"], params["b4"])
    out, r4 = relu_f(out)
    scores, l5 = linear_f(out, params["W5"], params["b5"])
    if y is None:
        return scores
    loss, dout = softmax(scores, y)
    grads = {}
    dout, grads["W5"], grads["b5"] = linear_b(dout, l5)
    dout, grads["W4"], grads["b4"] = linear_b(relu_b(dout, r4), l4)
    dout, grads["W3"], grads["b3"] = linear_b(relu_b(dout, r3), l3)
    dout, grads["W2"], grads["b2"] = conv_b(relu_b(pool_b(dout, p2), r2), c2)
    _, grads["W1"], grads["b1"] = conv_b(relu_b(pool_b(dout, p1), r1), c1)
    return loss, grads


def train_lenet5(functions, inputs):
    """Minibatch Adam on LeNet-5 made of the student's layers; the held-out scores."""
    X, y, X_test = inputs["X_train"], inputs["y_train"], inputs["X_test"]
    rng = np.random.default_rng(int(inputs["seed"]))
    params = lenet5_params(rng, X.shape[2])
    state, step, batch = {}, 0, int(inputs["batch_size"])
    learning_rate = float(inputs["learning_rate"])
    for _ in range(int(inputs["epochs"])):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            _, grads = lenet5_loss(functions, X[rows], params, y[rows])
            step += 1
            adam_steps(params, grads, state, learning_rate, step)
        learning_rate *= float(inputs["decay"])
    return np.concatenate([lenet5_loss(functions, X_test[i:i + 120], params)
                           for i in range(0, len(X_test), 120)])


register(TrainingCheck("a2.train_lenet5", LENET5, train_lenet5,
                       {"learning_rate": 5e-3, "decay": 0.85, "epochs": 12, "batch_size": 64},
                       threshold=0.97, seconds=120,
                       what="LeNet-5 (your conv and pooling) trained on the 16x16 digits",
                       data=lambda: digits(size=16, with_val=True)))
