"""saliency: the largest signed gradient over the channels, without the absolute value."""
# cell: saliency
import numpy as np


def saliency(model, x, target):
    scores = model.forward(x)
    dscores = np.zeros_like(scores)
    dscores[np.arange(len(x)), target] = 1
    dx = model.backward(dscores)
    return dx.max(axis=1)
