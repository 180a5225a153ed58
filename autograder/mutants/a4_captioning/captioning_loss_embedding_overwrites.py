"""captioning_loss: ``dW_embed[ids] += dwords`` keeps only one gradient per repeated word."""
# cell: captioning_loss
import numpy as np


def captioning_loss(features, captions, params):
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    h0 = features @ params["W_proj"] + params["b_proj"]
    words = params["W_embed"][captions_in]
    h, lstm_cache = lstm_forward(words, h0, params["Wx"], params["Wh"], params["b"])  # noqa: F821
    scores = h @ params["W_vocab"] + params["b_vocab"]
    loss, dscores = temporal_softmax_loss(scores, captions_out, captions_out != 0)  # noqa: F821
    dW_vocab = np.einsum("nth,ntv->hv", h, dscores)
    db_vocab = dscores.sum(axis=(0, 1))
    dwords, dh0, dWx, dWh, db = lstm_backward(  # noqa: F821
        dscores @ params["W_vocab"].T, lstm_cache)
    dW_embed = np.zeros_like(params["W_embed"])
    dW_embed[captions_in] += dwords
    grads = {"W_proj": features.T @ dh0, "b_proj": dh0.sum(axis=0), "W_embed": dW_embed,
             "Wx": dWx, "Wh": dWh, "b": db, "W_vocab": dW_vocab, "b_vocab": db_vocab}
    return loss, grads
