"""two_layer_loss: ignores y is None and fails on the prediction path."""
# cell: two_layer_loss
import numpy as np


def two_layer_loss(X, y, params, reg):
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    hidden, cache1 = linear_forward(X, W1, b1)  # noqa: F821 (defined in the notebook)
    active, cache2 = relu_forward(hidden)  # noqa: F821 (defined in the notebook)
    scores, cache3 = linear_forward(active, W2, b2)  # noqa: F821 (defined in the notebook)
    loss, dscores = softmax_loss(scores, y)  # noqa: F821 (defined in the notebook)
    loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dactive, dW2, db2 = linear_backward(dscores, cache3)  # noqa: F821 (defined in the notebook)
    _, dW1, db1 = linear_backward(relu_backward(dactive, cache2), cache1)  # noqa: F821 (defined in the notebook)
    grads = {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2}
    return loss, grads
