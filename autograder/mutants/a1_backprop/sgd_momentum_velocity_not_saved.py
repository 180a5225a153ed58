"""sgd_momentum: the new velocity is never stored in the config, so momentum never builds."""
# cell: sgd_momentum
import numpy as np


def sgd_momentum(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    velocity = config.setdefault("velocity", np.zeros_like(w))
    velocity = config["momentum"] * velocity - config["learning_rate"] * dw
    return w + velocity, config
