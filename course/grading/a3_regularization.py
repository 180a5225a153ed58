"""Checks of assignment 3, regularisation (lectures 5-6): dropout, batch norm (training,
evaluation and running statistics, both backward passes), spatial batch norm, and a
batch-normalised, dropout-regularised net trained on the digits.

Registered in :data:`course.grading.checks.CHECKS` under ``"a3.<exercise>"``.
"""

import math

import numpy as np

from course.grading.checks import (
    GRAD_TOL,
    VALUE_TOL,
    Check,
    Result,
    as_output,
    as_shape,
    compare,
    copies,
    first_failure,
    kink_free,
    mask_problem,
    modified,
    modified_inputs,
    numerical_gradients,
    reference_kernels,
    reference_ops,
    register,
    unpack,
)
from course.grading.training import TrainingCheck, adam_steps

# ---------------------------------------------------------------------------------------------
# Inverted dropout: dropout_forward(x, p, train=True, rng=None) -> (out, cache)


class DropoutCheck(Check):
    """Dropout's output (and with ``backward``, its gradient) from the student's own mask.

    The mask is random, so it cannot be compared with the library's: the check reads it from
    the output (x has no zeros), then tests that kept values are scaled by 1 / (1 - p), that
    the fraction kept is 1 - p within five standard deviations, that evaluation mode is the
    identity, and that the backward pass uses the same mask and scale.
    """

    def __init__(self, name, backward):
        functions = ("dropout_forward", "dropout_backward") if backward else ("dropout_forward",)
        forbidden = tuple(f"course.ops{module}.dropout_{part}" for module in ("", ".dropout")
                          for part in ("forward", "backward"))
        super().__init__(name, functions, forbidden,
                         {"shape": (50, 40), "p": 0.3, "train": True})
        self.backward = backward

    def make(self, rng, shape, p, train):
        shape = as_shape(shape)
        return {"x": kink_free(rng.standard_normal(shape)), "dout": rng.standard_normal(shape),
                "p": np.array(float(p)), "train": np.array(int(bool(train))),
                "rng": np.array(int(rng.integers(2**31)))}

    def call(self, functions, inputs):
        forward = functions[0]
        (x,) = copies(inputs, ("x",))
        out, cache = unpack(forward(x, float(inputs["p"]), train=bool(inputs["train"]),
                                    rng=int(inputs["rng"])), 2,
                            "dropout_forward must return (out, cache)")
        outputs = {"out": as_output(out, "dropout_forward's out")}
        # (issue 17: the mask must be random) a second mask, from another seed
        other, _ = unpack(forward(copies(inputs, ("x",))[0], float(inputs["p"]),
                                  train=bool(inputs["train"]), rng=int(inputs["rng"]) + 1), 2,
                          "dropout_forward must return (out, cache)")
        outputs["other_out"] = as_output(other, "dropout_forward's out")
        names, before, after = ["x"], copies(inputs, ("x",)), [x]
        if self.backward:
            (dout,) = copies(inputs, ("dout",))
            outputs["dx"] = as_output(functions[1](dout, cache), "dropout_backward's dx")
            names, before, after = ["x", "dout"], copies(inputs, ("x", "dout")), [x, dout]
        outputs["inputs_modified"] = modified(before, after, names)
        return outputs

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, ["x", "dout"], self.label)
        if failed:
            return failed
        x, p, out = inputs["x"], float(inputs["p"]), outputs["out"]
        if out.shape != x.shape:
            return Result(False, f"{self.label}: out has shape {out.shape}, expected {x.shape}",
                          "wrong shape", math.inf)
        if not inputs["train"]:
            return compare([("out", out, x, "x (evaluation mode is the identity)")], VALUE_TOL,
                           self.label, "wrong value")
        keep = out != 0
        if "other_out" in outputs:  # (issue 17) random masks, not a fixed pattern
            random = mask_problem((keep, outputs["other_out"] != 0), p, self.label)
            if random:
                return random
        kept, expected = keep.mean(), 1 - p
        spread = 5 * math.sqrt(p * (1 - p) / x.size)
        if abs(kept - expected) > spread + 1e-12:
            return Result(False, f"{self.label}: kept {kept:.3f} of the values, expected "
                                 f"{expected:.3f} +- {spread:.3f} (p is the probability of "
                                 f"DROPPING a value)", "wrong value", math.inf)
        entries = [("out", out, keep * x / (1 - p), "x * mask / (1 - p) with your mask")]
        if self.backward:
            entries.append(("dx", outputs["dx"], keep * inputs["dout"] / (1 - p),
                            "dout * mask / (1 - p) with your forward's mask"))
        return compare(entries, VALUE_TOL, self.label, "wrong value")


register(DropoutCheck("a3.dropout_forward", backward=False))
register(DropoutCheck("a3.dropout_backward", backward=True))


# ---------------------------------------------------------------------------------------------
# Batch norm: NAME_forward(x, gamma, beta, state, train=True, momentum=0.1, eps=1e-5)


def make_batchnorm(rng, shape, train, momentum):
    shape = as_shape(shape)
    features = shape[1]
    return {"x": 2.0 * rng.standard_normal(shape) + rng.standard_normal(features).reshape(
                (1, features) + (1,) * (len(shape) - 2)),
            "gamma": 1 + 0.5 * rng.standard_normal(features),
            "beta": rng.standard_normal(features),
            "running_mean": rng.standard_normal(features),
            "running_var": 0.5 + rng.random(features),
            "dout": rng.standard_normal(shape),
            "train": np.array(int(bool(train))), "momentum": np.array(float(momentum))}


class BatchNormCheck(Check):
    """Batch norm forward (output and updated running statistics) or backward (dx, dgamma,
    dbeta against numerical gradients of the reference forward in training mode)."""

    ARGS = ("x", "gamma", "beta")

    def __init__(self, name, op, backward, spatial):
        functions = (f"{op}_forward", f"{op}_backward") if backward else (f"{op}_forward",)
        forbidden = tuple(f"course.ops{module}.{op}_{part}"
                          for module in ("", ".batchnorm") for part in ("forward", "backward"))
        shape = (3, 2, 3, 2) if spatial else (6, 4)
        super().__init__(name, functions, forbidden,
                         {"shape": shape, "train": True, "momentum": 0.1})
        self.op, self.backward, self.spatial = op, backward, spatial

    def make(self, rng, shape, train, momentum):
        return make_batchnorm(rng, shape, train, momentum)

    def call(self, functions, inputs):
        forward = functions[0]
        x, gamma, beta, mean, var = copies(inputs, (*self.ARGS, "running_mean", "running_var"))
        state = {"running_mean": mean, "running_var": var}
        out, cache = unpack(forward(x, gamma, beta, state, train=bool(inputs["train"]),
                                    momentum=float(inputs["momentum"])), 2,
                            f"{forward.__name__} must return (out, cache)")
        outputs = {"out": as_output(out, f"{forward.__name__}'s out"),
                   "running_mean": as_output(state.get("running_mean"), "state['running_mean']"),
                   "running_var": as_output(state.get("running_var"), "state['running_var']")}
        names, after = list(self.ARGS), [x, gamma, beta]
        if self.backward:
            (dout,) = copies(inputs, ("dout",))
            grads = unpack(functions[1](dout, cache), 3,
                           f"{functions[1].__name__} must return (dx, dgamma, dbeta)")
            outputs.update({f"d{name}": as_output(g, f"{functions[1].__name__}'s d{name}")
                            for name, g in zip(self.ARGS, grads, strict=True)})
            names, after = [*names, "dout"], [*after, dout]
        outputs["inputs_modified"] = modified(copies(inputs, names), after, names)
        return outputs

    def reference(self, inputs):
        """The reference op's output, updated state and gradients (training or evaluation)."""
        ops = reference_ops()
        arrays = {name: np.array(inputs[name]) for name in self.ARGS}
        state = {"running_mean": np.array(inputs["running_mean"]),
                 "running_var": np.array(inputs["running_var"])}
        train, momentum = bool(inputs["train"]), float(inputs["momentum"])
        forward = getattr(ops, f"{self.op}_forward")
        with reference_kernels():
            out, cache = forward(*arrays.values(), state, train=train, momentum=momentum)
            grads = getattr(ops, f"{self.op}_backward")(inputs["dout"], cache)

        def run():
            scratch = {key: value.copy() for key, value in state.items()}
            return forward(*arrays.values(), scratch, train=train, momentum=momentum)[0]

        return out, state, dict(zip(self.ARGS, grads, strict=True)), arrays, run

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, [*self.ARGS, "dout"], self.label)
        if failed:
            return failed
        out, state, grads, arrays, run = self.reference(inputs)
        mode = "training" if inputs["train"] else "evaluation"
        if not self.backward:
            return compare(
                [("out", outputs["out"], out, f"the reference in {mode} mode"),
                 ("running_mean", outputs["running_mean"], state["running_mean"],
                  f"the reference's running mean after a {mode} step"),
                 ("running_var", outputs["running_var"], state["running_var"],
                  f"the reference's running variance after a {mode} step")],
                VALUE_TOL, self.label, "wrong value")
        numerical = numerical_gradients(run, arrays, self.ARGS, inputs["dout"])
        return first_failure(self.label, (compare(
            [(f"d{name}", outputs[f"d{name}"], numerical[name], "the numerical gradient")
             for name in self.ARGS], GRAD_TOL, self.label, "wrong gradient"),), compare(
            [(f"d{name}", outputs[f"d{name}"], grads[name], "the reference")
             for name in self.ARGS], GRAD_TOL, self.label, "wrong gradient"))


for _op, _spatial in (("batchnorm", False), ("spatial_batchnorm", True)):
    register(BatchNormCheck(f"a3.{_op}_forward", _op, backward=False, spatial=_spatial))
    register(BatchNormCheck(f"a3.{_op}_backward", _op, backward=True, spatial=_spatial))


# ---------------------------------------------------------------------------------------------
# End to end: a batch-normalised, dropout-regularised net trained on the digits

REGULARIZED_FUNCTIONS = ("linear_forward", "linear_backward", "relu_forward", "relu_backward",
                         "softmax_loss", "batchnorm_forward", "batchnorm_backward",
                         "dropout_forward", "dropout_backward")


def train_regularized(functions, inputs):
    """linear - batch norm - ReLU - dropout - linear - softmax, trained with Adam on the
    student's batch norm and dropout (and the notebook's given dense layers); the held-out
    scores in evaluation mode (running statistics, no dropout)."""
    (linear_forward, linear_backward, relu_forward, relu_backward, softmax_loss,
     batchnorm_forward, batchnorm_backward, dropout_forward, dropout_backward) = functions
    X, y, X_test = inputs["X_train"], inputs["y_train"], inputs["X_test"]
    rng = np.random.default_rng(int(inputs["seed"]))
    d, hidden, p = X.shape[1], int(inputs["hidden"]), float(inputs["p"])
    params = {"W1": rng.standard_normal((d, hidden)) * np.sqrt(2 / d), "b1": np.zeros(hidden),
              "gamma": np.ones(hidden), "beta": np.zeros(hidden),
              "W2": rng.standard_normal((hidden, 10)) * np.sqrt(2 / hidden), "b2": np.zeros(10)}
    state = {"running_mean": np.zeros(hidden), "running_var": np.ones(hidden)}

    def scores_of(X, train):
        a, c1 = linear_forward(X, params["W1"], params["b1"])
        b, c2 = batchnorm_forward(a, params["gamma"], params["beta"], state, train=train)
        r, c3 = relu_forward(b)
        o, c4 = dropout_forward(r, p, train=train, rng=int(rng.integers(2**31)))
        scores, c5 = linear_forward(o, params["W2"], params["b2"])
        return scores, (c1, c2, c3, c4, c5)

    adam, step, batch = {}, 0, int(inputs["batch_size"])
    for _ in range(int(inputs["epochs"])):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            rows = order[start:start + batch]
            scores, (c1, c2, c3, c4, c5) = scores_of(X[rows], True)
            _, dscores = softmax_loss(scores, y[rows])
            do, dW2, db2 = linear_backward(dscores, c5)
            db, dgamma, dbeta = batchnorm_backward(relu_backward(dropout_backward(do, c4), c3),
                                                   c2)
            _, dW1, db1 = linear_backward(db, c1)
            step += 1
            adam_steps(params, {"W1": dW1, "b1": db1, "gamma": dgamma, "beta": dbeta,
                                "W2": dW2, "b2": db2}, adam, float(inputs["learning_rate"]),
                       step)
    return scores_of(X_test, False)[0]


register(TrainingCheck("a3.train_regularized", REGULARIZED_FUNCTIONS, train_regularized,
                       {"hidden": 128, "p": 0.3, "learning_rate": 5e-3, "epochs": 12,
                        "batch_size": 64}, threshold=0.96, seconds=60,
                       what="the batch-normalised, dropout-regularised net trained on the "
                            "8x8 digits"))
