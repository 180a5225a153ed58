"""End-to-end checks: the student's own functions train a real model, judged on held-out data.

A :class:`TrainingCheck` hands the training data (never the held-out labels or references) to
``train(functions, inputs)``, a loop written with numpy and the student's functions only (it
runs in the grading sandbox, where the library's ops cannot be imported), times it, and judges
the held-out result in the grader's own process: below the threshold, or slower than the time
limit, the check fails with a message that says by how much and what to look at.
"""

import math
import time

import numpy as np

from course.grading.checks import Check, Result, as_output


def adam_steps(params, grads, state, learning_rate, step):
    """One Adam update of every parameter (the training loops' optimizer; beta 0.9, 0.999)."""
    for name, grad in grads.items():
        m, v = state.setdefault(name, (np.zeros_like(grad), np.zeros_like(grad)))
        m, v = 0.9 * m + 0.1 * grad, 0.999 * v + 0.001 * grad * grad
        state[name] = (m, v)
        params[name] = params[name] - learning_rate * (m / (1 - 0.9 ** step)) / (
            np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)


def digits(size=8, flatten=False, with_val=False):
    """The digits' training images and labels (and the validation ones, ``with_val``) and the
    held-out test images, float64."""
    from course.data import load_digits

    data = load_digits(size=size, dtype=np.float64)
    X_train, X_test = data["X_train"], data["X_test"]
    if with_val:
        X_train = np.concatenate([X_train, data["X_val"]])
        data["y_train"] = np.concatenate([data["y_train"], data["y_val"]])
    if flatten:
        X_train, X_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    return {"X_train": X_train, "y_train": data["y_train"], "X_test": X_test}


def digits_accuracy(inputs, outputs):
    """Accuracy of the held-out scores (N, 10) on the digits' test labels."""
    from course.data import load_digits

    y_test = load_digits()["y_test"]
    scores = outputs["scores"]
    if scores.shape != (len(y_test), 10):
        raise ValueError(f"the held-out scores have shape {scores.shape}, expected "
                         f"{(len(y_test), 10)}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("the held-out scores are not finite (the training diverged)")
    return float((scores.argmax(axis=1) == y_test).mean()), "held-out accuracy"


class TrainingCheck(Check):
    """Train with the student's functions; pass when the held-out metric reaches ``threshold``
    within ``seconds``.

    Args:
        functions: the student functions ``train`` takes, in order.
        train: ``train(functions, inputs) -> held-out output`` (numpy and the functions only).
        defaults: the training settings (numbers), handed to ``train`` as 0-d arrays.
        data: ``data() -> dict`` of training arrays and held-out inputs.
        evaluate: ``evaluate(inputs, outputs) -> (value, name)``, in the grader's process.
        what: what is trained, for the messages.
    """

    slow = True  # the tests run it on the notebook's seeds only

    def __init__(self, name, functions, train, defaults, threshold, seconds, what,
                 data=lambda: digits(flatten=True), evaluate=digits_accuracy):
        super().__init__(name, functions, (), defaults)
        self.train, self.threshold, self.seconds, self.what = train, threshold, seconds, what
        self.data, self.evaluate = data, evaluate

    def make(self, rng, **options):
        inputs = {key: np.array(value) for key, value in options.items()}
        inputs["seed"] = np.array(int(rng.integers(2**31)))
        return {**inputs, **self.data()}

    def call(self, functions, inputs):
        start = time.perf_counter()
        result = self.train(functions, inputs)
        seconds = time.perf_counter() - start
        return {"scores": as_output(result, f"{self.label}'s held-out result"),
                "seconds": np.array(seconds)}

    def judge(self, inputs, outputs, **options):
        seconds = float(outputs["seconds"])
        if not seconds <= self.seconds:
            return Result(False, f"{self.what}: training took {seconds:.0f} s, more than the "
                                 f"{self.seconds} s allowed", "timeout", math.inf)
        try:
            value, name = self.evaluate(inputs, outputs)
        except ValueError as error:
            return Result(False, f"{self.what}: {error}", "wrong value", math.inf)
        if not value >= self.threshold:
            return Result(False, f"{self.what}: {name} {value:.3f} is below the "
                                 f"{self.threshold} required. If every check above passes, "
                                 f"look at how the functions are used together (the order "
                                 f"of the layers, the learning rate); otherwise fix the "
                                 f"failing ones first", "wrong value",
                          self.threshold / max(value, 1e-12))
        return Result(True, f"{self.what}: {name} {value:.3f} (at least {self.threshold} "
                            f"required) in {seconds:.1f} s ... OK", "ok", 0.0)
