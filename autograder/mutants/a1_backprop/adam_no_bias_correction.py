"""adam: no bias correction of m and v (steps far too large at the start)."""
# cell: adam
import numpy as np


def adam(w, dw, config):
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    config["t"] += 1
    config["m"] = config["beta1"] * config["m"] + (1 - config["beta1"]) * dw
    config["v"] = config["beta2"] * config["v"] + (1 - config["beta2"]) * dw * dw
    next_w = w - config["learning_rate"] * config["m"] / (np.sqrt(config["v"])
                                                          + config["epsilon"])
    return next_w, config
