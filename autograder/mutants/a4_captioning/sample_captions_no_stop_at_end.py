"""sample_captions: captions keep going after <END> instead of padding with <NULL>."""
# cell: sample_captions
import numpy as np


def sample_captions(features, params, max_length=16):
    h = features @ params["W_proj"] + params["b_proj"]
    c = np.zeros_like(h)
    n = features.shape[0]
    captions = np.zeros((n, max_length), dtype=np.int64)
    words = np.full(n, 1, dtype=np.int64)
    for t in range(max_length):
        (h, c), _ = lstm_step_forward(params["W_embed"][words], h, c, params["Wx"],  # noqa: F821
                                      params["Wh"], params["b"])
        words = (h @ params["W_vocab"] + params["b_vocab"]).argmax(axis=1)
        captions[:, t] = words
    return captions
