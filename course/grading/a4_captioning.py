"""Checks of assignment 4, captioning (lectures 7-8): LSTM step and sequence, the temporal
softmax loss, a captioning model's loss and greedy sampling.

Registered in :data:`course.grading.checks.CHECKS` under ``"a4.<exercise>"``. Word ids follow
``course.data.captions``: 0 is ``<NULL>`` (padding), 1 ``<START>``, 2 ``<END>``.
"""

import math

import numpy as np

from course.grading.checks import (
    GRAD_TOL,
    VALUE_TOL,
    Check,
    ModelLossCheck,
    Result,
    as_output,
    compare,
    copies,
    first_failure,
    modified,
    modified_inputs,
    numerical_gradients,
    op_checks,
    reference_kernels,
    reference_ops,
    register,
    unpack,
)

NULL, START, END = 0, 1, 2


def make_lstm_step(rng, n, d, h):
    return {"x": rng.standard_normal((n, d)), "prev_h": rng.standard_normal((n, h)),
            "prev_c": rng.standard_normal((n, h)),
            "Wx": rng.standard_normal((d, 4 * h)) / math.sqrt(d),
            "Wh": rng.standard_normal((h, 4 * h)) / math.sqrt(h),
            "b": 0.5 * rng.standard_normal(4 * h)}


def make_lstm(rng, n, t, d, h):
    return {"x": rng.standard_normal((n, t, d)), "h0": rng.standard_normal((n, h)),
            "Wx": rng.standard_normal((d, 4 * h)) / math.sqrt(d),
            "Wh": rng.standard_normal((h, 4 * h)) / math.sqrt(h),
            "b": 0.5 * rng.standard_normal(4 * h)}


op_checks("a4", "lstm_step", ("x", "prev_h", "prev_c", "Wx", "Wh", "b"), make_lstm_step,
          {"n": 3, "d": 4, "h": 5}, "recurrent", outputs=("next_h", "next_c"))
op_checks("a4", "lstm", ("x", "h0", "Wx", "Wh", "b"), make_lstm,
          {"n": 2, "t": 3, "d": 4, "h": 3}, "recurrent", outputs=("h",))


# ---------------------------------------------------------------------------------------------
# temporal_softmax_loss(x, y, mask) -> (loss, dx)


class TemporalSoftmaxLossCheck(Check):
    """The masked loss against the reference, its gradient against the numerical gradient."""

    def __init__(self):
        super().__init__("a4.temporal_softmax_loss", ("temporal_softmax_loss",),
                         ("course.ops.temporal_softmax_loss",
                          "course.ops.temporal.temporal_softmax_loss"),
                         {"n": 3, "t": 4, "v": 5, "keep": 0.7})

    def make(self, rng, n, t, v, keep):
        return {"x": rng.standard_normal((n, t, v)),
                "y": rng.integers(0, v, (n, t)).astype(np.int64),
                "mask": (rng.random((n, t)) < keep).astype(np.int64)}

    def call(self, functions, inputs):
        (loss_fn,) = functions
        x, y = copies(inputs, ("x", "y"))
        loss, dx = unpack(loss_fn(x, y, inputs["mask"].astype(bool)), 2,
                          "temporal_softmax_loss must return (loss, dx)")
        return {"loss": as_output(loss, "temporal_softmax_loss's loss"),
                "dx": as_output(dx, "temporal_softmax_loss's dx"),
                "inputs_modified": modified(copies(inputs, ("x",)), [x], ["x"])}

    def judge(self, inputs, outputs, **options):
        failed = modified_inputs(outputs, ["x"], self.label)
        if failed:
            return failed
        loss_fn = reference_ops().temporal_softmax_loss
        x, y, mask = np.array(inputs["x"]), inputs["y"], inputs["mask"].astype(bool)
        loss, dx = loss_fn(x, y, mask)
        numerical = numerical_gradients(lambda: loss_fn(x, y, mask)[0], {"x": x}, ["x"], 1.0)
        shown = (compare([("loss", outputs["loss"], loss, "the reference")], VALUE_TOL,
                         self.label, "wrong value"),
                 compare([("dx", outputs["dx"], numerical["x"], "the numerical gradient")],
                         GRAD_TOL, self.label, "wrong gradient"))
        return first_failure(self.label, shown, compare(
            [("dx", outputs["dx"], dx, "the reference")], GRAD_TOL, self.label,
            "wrong gradient"))


register(TemporalSoftmaxLossCheck())


# ---------------------------------------------------------------------------------------------
# The captioning model: h0 = features W_proj + b_proj; words embedded by W_embed; an LSTM;
# scores = h W_vocab + b_vocab; temporal softmax loss of the next word where it is not <NULL>.

PARAMS = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")


def make_captioning(rng, n, f, w, h, v, length):
    """Features, captions ``<START> words... <END> <NULL>...`` and small random weights."""
    captions = np.full((n, length), NULL, dtype=np.int64)
    captions[:, 0] = START
    for i in range(n):
        words = int(rng.integers(1, length - 1))  # at least one word, then <END>
        captions[i, 1:words + 1] = rng.integers(3, v, words)
        captions[i, words + 1] = END
    return {"features": rng.standard_normal((n, f)), "captions": captions,
            "W_proj": rng.standard_normal((f, h)) / math.sqrt(f),
            "b_proj": 0.1 * rng.standard_normal(h),
            "W_embed": rng.standard_normal((v, w)) / 2,
            "Wx": rng.standard_normal((w, 4 * h)) / math.sqrt(w),
            "Wh": rng.standard_normal((h, 4 * h)) / math.sqrt(h),
            "b": 0.5 * rng.standard_normal(4 * h),
            "W_vocab": rng.standard_normal((h, v)) / math.sqrt(h),
            "b_vocab": 0.1 * rng.standard_normal(v)}


def captioning_reference(features, captions, params):
    """Loss and gradients of the captioning model, from the library's ops."""
    ops = reference_ops()
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    h0, proj_cache = ops.linear_forward(features, params["W_proj"], params["b_proj"])
    words, embed_cache = ops.embedding_forward(captions_in, params["W_embed"])
    h, lstm_cache = ops.lstm_forward(words, h0, params["Wx"], params["Wh"], params["b"])
    scores, vocab_cache = ops.temporal_linear_forward(h, params["W_vocab"], params["b_vocab"])
    loss, dscores = ops.temporal_softmax_loss(scores, captions_out, captions_out != NULL)
    dh, dW_vocab, db_vocab = ops.temporal_linear_backward(dscores, vocab_cache)
    dwords, dh0, dWx, dWh, db = ops.lstm_backward(dh, lstm_cache)
    dW_embed = ops.embedding_backward(dwords, embed_cache)
    _, dW_proj, db_proj = ops.linear_backward(dh0, proj_cache)
    grads = {"W_proj": dW_proj, "b_proj": db_proj, "W_embed": dW_embed, "Wx": dWx, "Wh": dWh,
             "b": db, "W_vocab": dW_vocab, "b_vocab": db_vocab}
    return loss, grads


register(ModelLossCheck("a4.captioning_loss", "captioning_loss", ("features", "captions"),
                        PARAMS, make_captioning, captioning_reference,
                        {"n": 2, "f": 4, "w": 3, "h": 3, "v": 6, "length": 5},
                        regularized=False))


# ---------------------------------------------------------------------------------------------
# Greedy sampling: sample_captions(features, params, max_length) -> (N, max_length) word ids


def sample_reference(features, params, max_length):
    """Greedy decoding with the library's LSTM step: the most likely word at every step; a
    row keeps its first <END> and is <NULL> afterwards."""
    ops = reference_ops()
    h, _ = ops.linear_forward(features, params["W_proj"], params["b_proj"])
    c = np.zeros_like(h)
    n = features.shape[0]
    captions = np.full((n, max_length), NULL, dtype=np.int64)
    words = np.full(n, START, dtype=np.int64)
    finished = np.zeros(n, dtype=bool)
    for t in range(max_length):
        (h, c), _ = ops.lstm_step_forward(params["W_embed"][words], h, c, params["Wx"],
                                          params["Wh"], params["b"])
        scores = h @ params["W_vocab"] + params["b_vocab"]
        words = np.where(finished, NULL, scores.argmax(axis=1))
        captions[:, t] = words
        finished |= words == END
    return captions


class SampleCaptionsCheck(Check):
    """``sample_captions`` against greedy decoding with the reference LSTM step."""

    def __init__(self):
        super().__init__("a4.sample_captions", ("sample_captions",), (),
                         {"n": 4, "f": 4, "w": 3, "h": 5, "v": 6, "max_length": 6,
                          "end_bias": 0.0})

    def make(self, rng, n, f, w, h, v, max_length, end_bias):
        inputs = make_captioning(rng, n, f, w, h, v, 3)
        del inputs["captions"]
        inputs["W_vocab"] *= 3  # confident scores: no near ties between the top two words
        inputs["b_vocab"][END] += end_bias  # a larger bias ends captions sooner
        inputs["max_length"] = np.array(int(max_length))
        return inputs

    def call(self, functions, inputs):
        (sample_captions,) = functions
        features, *values = copies(inputs, ("features", *PARAMS))
        params = dict(zip(PARAMS, values, strict=True))
        captions = sample_captions(features, params, int(inputs["max_length"]))
        return {"captions": np.array(captions, dtype=np.int64)}

    def judge(self, inputs, outputs, **options):
        params = {k: inputs[k] for k in PARAMS}
        with reference_kernels():
            expected = sample_reference(inputs["features"], params, int(inputs["max_length"]))
        got = outputs["captions"]
        if got.shape != expected.shape:
            return Result(False, f"{self.label}: captions have shape {got.shape}, expected "
                                 f"{expected.shape}", "wrong shape", math.inf)
        wrong = np.argwhere(got != expected)
        if len(wrong):
            i, t = wrong[0]
            return Result(False, f"{self.label}: {len(wrong)} of {got.size} word ids differ "
                                 f"from greedy decoding; first at caption {i}, step {t}: you "
                                 f"give {got[i, t]}, expected {expected[i, t]} (row "
                                 f"{expected[i].tolist()})", "wrong value", math.inf)
        return Result(True, f"{self.label}: all {got.size} word ids match greedy decoding "
                            f"... OK", "ok", 0.0)


register(SampleCaptionsCheck())
