"""rmsprop: updates w in place (the caller's array changes)."""
# cell: rmsprop
import numpy as np


def rmsprop(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    rho = config["decay_rate"]
    config["cache"] = rho * config["cache"] + (1 - rho) * dw * dw
    w -= config["learning_rate"] * dw / (np.sqrt(config["cache"]) + config["epsilon"])
    return w, config
