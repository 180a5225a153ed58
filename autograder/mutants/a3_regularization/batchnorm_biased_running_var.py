"""batchnorm_forward: the running variance averages the biased batch variance (divide by N)."""
# cell: batchnorm_forward
import numpy as np


def batchnorm_forward(x, gamma, beta, state, train=True, momentum=0.1, eps=1e-5):
    if train:
        mean, var = x.mean(axis=0), x.var(axis=0)
        state["running_mean"] = (1 - momentum) * state["running_mean"] + momentum * mean
        state["running_var"] = (1 - momentum) * state["running_var"] + momentum * var
    else:
        mean, var = state["running_mean"], state["running_var"]
    std = np.sqrt(var + eps)
    x_hat = (x - mean) / std
    return gamma * x_hat + beta, (x_hat, gamma, std, train)
