"""Evaluation metrics: corpus BLEU for generated captions (lecture 8, captioning); pixel accuracy
and intersection over union for segmentation masks (lecture 6c, dense prediction).

BLEU (Papineni et al., 2002) compares each generated sentence with one or more reference
sentences:

- the modified n-gram precision p_n: n-grams of the hypotheses that occur in a reference,
  each counted at most as often as it occurs in the single reference where it is most frequent,
  divided by the number of hypothesis n-grams; counts are summed over the whole corpus first
  (corpus BLEU, not an average of sentence scores);
- the brevity penalty BP = exp(1 - r / c) when the hypotheses' total length c is below r, the
  sum over sentences of the reference length closest to the hypothesis (the shorter on ties);
- BLEU-N = BP * exp(mean of log p_1 ... log p_N).

Smoothing (Chen & Cherry, 2014, method 1, as nltk's ``SmoothingFunction().method1``): a
precision with no matching n-gram at all becomes ``epsilon / (number of hypothesis n-grams)``
instead of 0, so one missing order does not zero the whole score.
"""

import math
from collections import Counter

import numpy as np

from course.backend import to_device, to_host
from course.ops.checks import check_int_array


def _tokens(sentence):
    return sentence.split() if isinstance(sentence, str) else list(sentence)


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses, references, max_order=4, epsilon=0.1):
    """BLEU-1 ... BLEU-``max_order`` of a corpus (lecture 8).

    Args:
        hypotheses: list of generated sentences (strings or lists of words).
        references: list, one entry per hypothesis, of lists of reference sentences.
        max_order: the largest n-gram order; BLEU-n uses orders 1..n with equal weights.
        epsilon: the smoothing numerator for orders without any match (0 disables smoothing).

    Returns:
        list ``[BLEU-1, ..., BLEU-max_order]``, each in [0, 1].
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"got {len(hypotheses)} hypotheses but {len(references)} reference "
                         f"lists; each hypothesis needs its own list of references")
    matches, totals = [0] * max_order, [0] * max_order
    hyp_length = ref_length = 0
    for hypothesis, refs in zip(hypotheses, references, strict=True):
        hyp = _tokens(hypothesis)
        refs = [_tokens(r) for r in refs]
        if not refs:
            raise ValueError("every hypothesis needs at least one reference")
        hyp_length += len(hyp)
        ref_length += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_order + 1):
            counts = _ngrams(hyp, n)
            max_ref_counts = Counter()
            for r in refs:
                max_ref_counts |= _ngrams(r, n)  # | keeps the larger count of each n-gram
            matches[n - 1] += sum(min(c, max_ref_counts[g]) for g, c in counts.items())
            totals[n - 1] += sum(counts.values())
    if hyp_length == 0:
        return [0.0] * max_order
    brevity = 1.0 if hyp_length > ref_length else math.exp(1 - ref_length / hyp_length)
    log_precisions = []
    for match, total in zip(matches, totals, strict=True):
        if total == 0 or (match == 0 and epsilon == 0):
            log_precisions.append(-math.inf)
        else:
            log_precisions.append(math.log((match if match else epsilon) / total))
    scores = []
    for n in range(1, max_order + 1):
        mean_log = sum(log_precisions[:n]) / n
        scores.append(brevity * math.exp(mean_log) if mean_log > -math.inf else 0.0)
    return scores


def caption_bleu(model, images, captions, image_idxs, idx_to_word, beam_width=1,
                 max_length=16, device="cpu"):
    """Corpus BLEU-1..4 of a captioning model's captions for ``images`` (lecture 8).

    Args:
        model: a ``CaptioningModel`` on ``device``; decodes greedily (``beam_width=1``) or by
            beam search.
        images: (N, 3, 32, 32) images, moved to ``device`` ("cpu" or "cuda") for decoding.
        captions: (M, L) true captions as word ids, each belonging to the image
            ``image_idxs[m]``. idx_to_word: the vocabulary.

    Returns:
        ``(bleu, hypotheses, references)``: the four BLEU scores, the generated captions as
        word lists, and each image's true captions as lists of word lists.
    """
    from course.data.captions import decode, references

    images = to_device(images, device)
    if beam_width == 1:
        generated = model.sample(images, max_length=max_length)
    else:
        generated = model.beam_search(images, beam_width, max_length=max_length)
    hypotheses = [sentence.split() for sentence in decode(generated, idx_to_word)]
    refs = references(captions, image_idxs, idx_to_word)
    return corpus_bleu(hypotheses, refs), hypotheses, refs


def confusion_matrix(pred, target, num_classes, ignore_index=None):
    """(num_classes, num_classes) int64 counts: entry [t, p] = pixels of true class t predicted
    as p (lecture 6c, dense prediction).

    Args:
        pred, target: integer arrays of one shape (labels, or per-pixel masks such as
            (N, H, W)), numpy or CuPy. ignore_index: a target value to leave out, or None.
    """
    pred, target = to_host(pred), to_host(target)
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have one shape, got {pred.shape} and "
                         f"{target.shape}")
    keep = np.ones(target.shape, dtype=bool) if ignore_index is None else target != ignore_index
    check_int_array("pred", pred[keep], num_classes)
    check_int_array("target", target[keep], num_classes)
    flat = target[keep].astype(np.int64) * num_classes + pred[keep]
    return np.bincount(flat, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def pixel_accuracy(pred, target, num_classes, ignore_index=None):
    """Share of the (non-ignored) pixels whose predicted class is right (lecture 6c)."""
    counts = confusion_matrix(pred, target, num_classes, ignore_index)
    return float(np.trace(counts) / max(counts.sum(), 1))


def class_iou(pred, target, num_classes, ignore_index=None):
    """Intersection over union per class (lecture 6c): |pred = c and target = c| divided by
    |pred = c or target = c|; NaN for a class absent from both. Returns (num_classes,)."""
    counts = confusion_matrix(pred, target, num_classes, ignore_index)
    intersection = np.diag(counts).astype(np.float64)
    union = counts.sum(axis=0) + counts.sum(axis=1) - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, np.nan)


def mean_iou(pred, target, num_classes, ignore_index=None):
    """Mean of :func:`class_iou` over the classes present in pred or target (lecture 6c): the
    standard score of semantic segmentation, where every class counts the same however few
    pixels it covers."""
    return float(np.nanmean(class_iou(pred, target, num_classes, ignore_index)))
