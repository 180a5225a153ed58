"""three_layer_convnet_loss: the first ReLU is skipped in the backward pass."""
# cell: three_layer_convnet_loss
import numpy as np


def three_layer_convnet_loss(X, y, params, reg):
    k = params["W1"].shape[2]
    conv, conv_cache = conv2d_forward(X, params["W1"], params["b1"], 1, (k - 1) // 2)  # noqa: F821
    active, relu1_cache = relu_forward(conv)  # noqa: F821
    pooled, pool_cache = max_pool2d_forward(active, 2, 2)  # noqa: F821
    hidden, linear2_cache = linear_forward(pooled, params["W2"], params["b2"])  # noqa: F821
    active2, relu2_cache = relu_forward(hidden)  # noqa: F821
    scores, linear3_cache = linear_forward(active2, params["W3"], params["b3"])  # noqa: F821
    if y is None:
        return scores
    loss, dscores = softmax_loss(scores, y)  # noqa: F821
    loss += 0.5 * reg * sum(np.sum(params[name] ** 2) for name in ("W1", "W2", "W3"))
    dactive2, dW3, db3 = linear_backward(dscores, linear3_cache)  # noqa: F821
    dpooled, dW2, db2 = linear_backward(relu_backward(dactive2, relu2_cache),  # noqa: F821
                                        linear2_cache)
    dactive = max_pool2d_backward(dpooled, pool_cache)  # noqa: F821
    _, dW1, db1 = conv2d_backward(dactive, conv_cache)  # noqa: F821
    grads = {"W1": dW1 + reg * params["W1"], "b1": db1, "W2": dW2 + reg * params["W2"],
             "b2": db2, "W3": dW3 + reg * params["W3"], "b3": db3}
    return loss, grads
