"""Checks of assignment 4, captioning (lectures 7-8): LSTM step and sequence, the temporal
softmax loss, a captioning model's loss, greedy sampling, and the model trained on generated
scenes (corpus BLEU-4 of its held-out captions).

Registered in :data:`course.grading.checks.CHECKS` under ``"a4.<exercise>"``. Word ids follow
``course.data.captions``: 0 is ``<NULL>`` (padding), 1 ``<START>``, 2 ``<END>``.
"""

import math

import numpy as np

from course.grading.checks import (
    GRAD_TOL,
    VALUE_TOL,
    BackwardCheck,
    Check,
    ForwardCheck,
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
from course.grading.replay import ReplayModelLossCheck, record, replaying
from course.grading.training import TrainingCheck, adam_steps

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
def lstm_loop(x, h0, Wx, Wh, b, dh=None, ops=None):
    """The LSTM over a sequence as the assignment builds it: the reference step, step by step
    (forward, then backward through time when ``dh`` is given). Recorded for the replay."""
    ops = ops or reference_ops()
    h, c, caches = h0, np.zeros_like(h0), []
    for t in range(x.shape[1]):
        (h, c), cache = ops.lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        caches.append(cache)
    if dh is not None:
        dprev_h, dprev_c = np.zeros_like(h0), np.zeros_like(h0)
        for t in reversed(range(x.shape[1])):
            _, dprev_h, dprev_c, *_ = ops.lstm_step_backward((dh[:, t] + dprev_h, dprev_c),
                                                             caches[t])


class _ReplayedSteps:
    """Mixin for the sequence checks: the student's step functions are replayed (see
    :mod:`course.grading.replay`), so a bug in a step costs the step's points only."""

    def make_inputs(self, seed, **options):
        inputs = super().make_inputs(seed, **options)
        arrays = [inputs[k] for k in ("x", "h0", "Wx", "Wh", "b")] + [inputs.get("dh")]
        return {**inputs, **record(lstm_loop, ("lstm_step_forward", "lstm_step_backward"),
                                   *arrays)}

    def call(self, functions, inputs):
        with replaying(functions[0], inputs):
            return super().call(functions, inputs)


class ReplayedLstmForward(_ReplayedSteps, ForwardCheck):
    pass


class ReplayedLstmBackward(_ReplayedSteps, BackwardCheck):
    pass


_LSTM = dict(op="lstm", args=("x", "h0", "Wx", "Wh", "b"), make=make_lstm,
             defaults={"n": 2, "t": 3, "d": 4, "h": 3}, module="recurrent", outputs=("h",))
register(ReplayedLstmForward("a4.lstm_forward", kind="forward", **_LSTM))
register(ReplayedLstmBackward("a4.lstm_backward", kind="backward", **_LSTM))


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


CAPTIONING_LAYERS = ("lstm_forward", "lstm_backward", "temporal_softmax_loss")
"""The graded functions captioning_loss calls, replayed while it is checked."""


def captioning_reference(features, captions, params, ops=None):
    """Loss and gradients of the captioning model, from the library's ops (or ``ops``)."""
    ops = ops or reference_ops()
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


register(ReplayModelLossCheck("a4.captioning_loss", "captioning_loss", ("features", "captions"),
                              PARAMS, make_captioning, captioning_reference,
                              {"n": 2, "f": 4, "w": 3, "h": 3, "v": 6, "length": 5},
                              CAPTIONING_LAYERS, regularized=False))


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


# ---------------------------------------------------------------------------------------------
# End to end: the student's captioning model trained on generated scenes, BLEU-4 of its
# greedy captions on held-out scenes

CAPTION_DATA = {"n_train": 1500, "n_test": 200, "pool": 4}


def caption_features(images, pool):
    """Image features: the pixels averaged over ``pool`` x ``pool`` blocks, flattened."""
    n, c, h, w = images.shape
    blocks = images.reshape(n, c, h // pool, pool, w // pool, pool).mean(axis=(3, 5))
    return blocks.reshape(n, -1).astype(np.float64)


def caption_data():
    """Training features and captions, held-out features (their captions stay with the
    grader)."""
    from course.data.captions import load_shape_captions

    data = load_shape_captions(n_train=CAPTION_DATA["n_train"], n_val=1,
                               n_test=CAPTION_DATA["n_test"])
    pool = CAPTION_DATA["pool"]
    return {"features_train": caption_features(data["train_images"], pool),
            "captions_train": data["train_captions"].astype(np.int64),
            "image_idxs_train": data["train_image_idxs"].astype(np.int64),
            "features_test": caption_features(data["test_images"], pool),
            "vocab_size": np.array(len(data["word_to_idx"]))}


def caption_bleu4(inputs, outputs):
    """Corpus BLEU-4 of the sampled held-out captions against their true captions."""
    from course.data.captions import decode, load_shape_captions, references
    from course.metrics import corpus_bleu

    data = load_shape_captions(n_train=1, n_val=1, n_test=CAPTION_DATA["n_test"])
    captions = outputs["scores"]
    if captions.ndim != 2 or len(captions) != CAPTION_DATA["n_test"]:
        raise ValueError(f"the sampled captions have shape {captions.shape}, expected "
                         f"({CAPTION_DATA['n_test']}, max_length)")
    words = np.clip(captions, 0, len(data["idx_to_word"]) - 1)
    hypotheses = [sentence.split() for sentence in decode(words, data["idx_to_word"])]
    refs = references(data["test_captions"], data["test_image_idxs"], data["idx_to_word"])
    return corpus_bleu(hypotheses, refs)[3], "corpus BLEU-4 of your greedy captions"


def train_captioner(functions, inputs):
    """Adam on the student's ``captioning_loss``, then ``sample_captions`` on held-out
    scenes (numpy and the student's functions only)."""
    captioning_loss, sample_captions = functions
    features, captions = inputs["features_train"], inputs["captions_train"]
    image_idxs = inputs["image_idxs_train"]
    rng = np.random.default_rng(int(inputs["seed"]))
    f, w, h, v = features.shape[1], int(inputs["wordvec"]), int(inputs["hidden"]), \
        int(inputs["vocab_size"])
    params = {"W_proj": rng.standard_normal((f, h)) / math.sqrt(f), "b_proj": np.zeros(h),
              "W_embed": 0.3 * rng.standard_normal((v, w)),
              "Wx": rng.standard_normal((w, 4 * h)) / math.sqrt(w),
              "Wh": rng.standard_normal((h, 4 * h)) / math.sqrt(h), "b": np.zeros(4 * h),
              "W_vocab": rng.standard_normal((h, v)) / math.sqrt(h), "b_vocab": np.zeros(v)}
    params["b"][h:2 * h] = 1.0  # forget-gate bias (lecture 7)
    state, step, batch = {}, 0, int(inputs["batch_size"])
    for _ in range(int(inputs["epochs"])):
        order = rng.permutation(len(captions))
        for start in range(0, len(order) - batch + 1, batch):
            rows = order[start:start + batch]
            _, grads = captioning_loss(features[image_idxs[rows]], captions[rows], params)
            step += 1
            adam_steps(params, grads, state, float(inputs["learning_rate"]), step)
    return sample_captions(inputs["features_test"], params, 16)


register(TrainingCheck("a4.train_captioner", ("captioning_loss", "sample_captions"),
                       train_captioner, {"wordvec": 32, "hidden": 96, "learning_rate": 1e-2,
                                         "epochs": 4, "batch_size": 50},
                       threshold=0.4, seconds=300,
                       what="your captioning model trained on generated scenes",
                       data=caption_data, evaluate=caption_bleu4))
