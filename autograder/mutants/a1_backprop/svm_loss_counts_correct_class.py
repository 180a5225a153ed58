"""svm_loss: the correct class's own margin (always 1) is counted in the loss."""
# cell: svm_loss
import numpy as np


def svm_loss(scores, y):
    n = scores.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, scores - scores[rows, y][:, None] + 1)
    loss = margins.sum() / n
    margins[rows, y] = 0
    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    return loss, dscores / n
