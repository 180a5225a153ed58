"""batchnorm_forward: evaluation mode normalises with the batch's statistics."""
# cell: batchnorm_forward
import numpy as np


def batchnorm_forward(x, gamma, beta, state, train=True, momentum=0.1, eps=1e-5):
    n = x.shape[0]
    mean, var = x.mean(axis=0), x.var(axis=0)
    if train:
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
        state["running_var"] = ((1 - momentum) * state["running_var"]
                                + momentum * var * n / (n - 1))
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    return gamma * x_hat + beta, (x_hat, gamma, std, train)
