"""softmax_loss: the gradient is not divided by the batch size N (the loss is)."""
# cell: softmax_loss
import numpy as np


def softmax_loss(scores, y):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].sum() / n
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return loss, dscores
