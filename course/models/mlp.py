"""Multi-layer perceptron (lectures 1-2)."""

import numpy as np

from course import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
               "leaky_relu": nn.LeakyReLU, "elu": nn.ELU}


def mlp(in_features=64, hidden=(128,), num_classes=10, activation="relu", rng=0,
        dtype=np.float32):
    """Flatten -> [Linear -> activation] per hidden width -> Linear to scores (lecture 1).

    Args:
        in_features: values per example after flattening (64 for the 8x8 digits).
        hidden: widths of the hidden layers.
        num_classes: outputs.
        activation: "relu", "tanh", "sigmoid", "leaky_relu" or "elu".
        rng: seed (or Generator) for the initial weights.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    rng = np.random.default_rng(rng)
    init = "he" if activation in ("relu", "leaky_relu", "elu") else "xavier"
    layers, width = [nn.Flatten()], in_features
    for size in hidden:
        layers += [nn.Linear(width, size, init=init, rng=rng, dtype=dtype),
                   ACTIVATIONS[activation]()]
        width = size
    layers.append(nn.Linear(width, num_classes, init="xavier", rng=rng, dtype=dtype))
    return nn.Sequential(*layers)
