"""temporal_softmax_loss: the mask is ignored, so padding counts in the loss."""
# cell: temporal_softmax_loss
import numpy as np


def temporal_softmax_loss(x, y, mask):
    n, steps, v = x.shape
    flat = x.reshape(-1, v)
    shifted = flat - flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows, targets = np.arange(n * steps), y.reshape(-1)
    loss = -log_probs[rows, targets].sum() / n
    dx = np.exp(log_probs)
    dx[rows, targets] -= 1
    return loss, (dx / n).reshape(x.shape)
