"""An image-captioning model: image encoder -> LSTM decoder over word embeddings (lecture 8).

    image --CNN encoder--> h0 --LSTM over embedded words--> h --TemporalLinear--> word scores

Training uses teacher forcing: the decoder reads the true caption shifted by one
(``<START> a red circle``) and is scored on predicting the next words (``a red circle <END>``),
with the ``<NULL>`` padding masked out of the loss. At test time ``sample`` feeds back its own
greedy choice, and ``beam_search`` keeps the ``beam_width`` most likely partial captions.

The model runs on the device of its parameters (``model.to("cuda")`` for the GPU): every array
it makes comes from ``xp = get_array_module(...)`` of its inputs, so the images (and, for the
loss, the captions) must live on that device too. Decoding returns host (numpy) word ids.
"""

import numpy as np

from course import nn, ops
from course.backend import get_array_module, to_host
from course.data.captions import END, NULL, SPECIAL_TOKENS, START
from course.nn.init import make_rng

IMAGE_SHAPE = (3, 32, 32)


def _mlp_encoder(hidden_dim, encoder_dim, rng, dtype):
    """MLP over flattened 3x32x32 pixels -> (N, hidden_dim)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(int(np.prod(IMAGE_SHAPE)), encoder_dim, rng=rng, dtype=dtype),
        nn.ReLU(),
        nn.Linear(encoder_dim, hidden_dim, init="xavier", rng=rng, dtype=dtype),
    )


def _conv_encoder(hidden_dim, encoder_dim, rng, dtype):
    """Two conv-ReLU-pool stages (3x32x32 -> 16x16x16 -> encoder_dim x 8 x 8), then an affine
    map -> (N, hidden_dim)."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, rng=rng, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, encoder_dim, 3, padding=1, rng=rng, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(encoder_dim * 8 * 8, hidden_dim, init="xavier", rng=rng, dtype=dtype),
    )


ENCODERS = {"conv": _conv_encoder, "mlp": _mlp_encoder}


class CaptioningModel(nn.Module):
    """Caption generator (lecture 8).

    Args:
        vocabulary: ``word_to_idx`` dict (with ``<NULL>``, ``<START>``, ``<END>``), or the
            vocabulary size V when the special tokens have the ids 0, 1, 2 of
            ``course.data.captions.SPECIAL_TOKENS``.
        wordvec_dim: size of the word embeddings. hidden_dim: LSTM hidden size H.
        image_input: ``"pixels"``: images (N, 3, 32, 32) through an MLP encoder;
            ``"features"``: precomputed features (N, input_dim) through an affine projection.
        input_dim: feature size, for ``image_input="features"``.
        encoder: for pixels, ``"conv"`` (a small CNN) or ``"mlp"`` (one hidden layer).
        encoder_dim: channels of the CNN's second layer, or the MLP's hidden width.
        rng: seed or Generator for the initial weights. dtype: float32 (train) or float64.
    """

    def __init__(self, vocabulary, wordvec_dim=64, hidden_dim=256, image_input="pixels",
                 input_dim=None, encoder="conv", encoder_dim=32, rng=None, dtype=np.float32):
        super().__init__()
        if isinstance(vocabulary, dict):
            word_to_idx = vocabulary
        else:
            word_to_idx = {w: i for i, w in enumerate(SPECIAL_TOKENS)}
            if vocabulary < len(SPECIAL_TOKENS):
                raise ValueError(f"vocabulary must hold at least the {len(SPECIAL_TOKENS)} "
                                 f"special tokens, got size {vocabulary}")
        missing = {NULL, START, END} - set(word_to_idx)
        if missing:
            raise ValueError(f"word_to_idx lacks the special tokens {sorted(missing)}")
        self.vocab_size = vocabulary if isinstance(vocabulary, int) else len(word_to_idx)
        self.null, self.start, self.end = (word_to_idx[t] for t in (NULL, START, END))
        rng = make_rng(rng)
        if image_input == "pixels":
            if encoder not in ENCODERS:
                raise ValueError(f"encoder must be 'conv' or 'mlp', got {encoder!r}")
            self.encoder = ENCODERS[encoder](hidden_dim, encoder_dim, rng, dtype)
        elif image_input == "features":
            if input_dim is None:
                raise ValueError("image_input='features' needs input_dim, the feature size")
            self.encoder = nn.Linear(input_dim, hidden_dim, init="xavier", rng=rng, dtype=dtype)
        else:
            raise ValueError(f"image_input must be 'pixels' or 'features', got {image_input!r}")
        self.image_input = image_input
        self.embed = nn.Embedding(self.vocab_size, wordvec_dim, rng=rng, dtype=dtype)
        self.lstm = nn.LSTM(wordvec_dim, hidden_dim, rng=rng, dtype=dtype)
        self.output = nn.TemporalLinear(hidden_dim, self.vocab_size, rng=rng, dtype=dtype)

    def loss(self, images, captions):
        """Teacher-forced loss and gradients.

        Args:
            images: (N, 3, 32, 32) pixels or (N, input_dim) features, on the model's device.
            captions: (N, L) int word ids, ``<START> ... <END> <NULL>...``, on that device too.

        Returns:
            loss (sum over time of the cross-entropy, mean over the batch) and a dict
            ``{parameter name: gradient}``; the gradients are also in each ``p.grad``.
        """
        if captions.ndim != 2 or captions.shape[1] < 2:
            raise ValueError(f"captions must be (N, L) with L >= 2, got shape {captions.shape}")
        captions_in, captions_out = captions[:, :-1], captions[:, 1:]
        h0 = self.encoder(images)
        h = self.lstm(self.embed(captions_in), h0)
        scores = self.output(h)
        loss, dscores = ops.temporal_softmax_loss(scores, captions_out, captions_out != self.null)
        dh = self.output.backward(dscores)
        self.embed.backward(self.lstm.backward(dh))
        self.encoder.backward(self.lstm.dh0, input_grad=False)  # nothing needs the images'
        return loss, {name: p.grad for name, p in self.named_parameters()}

    def _initial_state(self, images):
        """The decoder's first state: h (N, H) encodes the images, the cell c (N, H) is zero."""
        h = self.encoder(images)
        return h, get_array_module(h).zeros_like(h)

    def _step(self, words, h, c):
        """Feed one word per row: words (n,) int ids, h and c (n, H), all on the model's device.

        Returns:
            log-probabilities (n, V) of the next word, and the new (h, c).
        """
        xp = get_array_module(h)
        x = self.embed.weight.data[words]
        (h, c), _ = ops.lstm_step_forward(x, h, c, self.lstm.Wx.data, self.lstm.Wh.data,
                                          self.lstm.b.data)
        scores = h @ self.output.weight.data.T + self.output.bias.data
        shifted = scores - scores.max(axis=1, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True)), h, c

    def sample(self, images, max_length=16):
        """Greedy decoding: feed back the most likely word at every step.

        Args:
            images: (N, 3, 32, 32) pixels or (N, input_dim) features, on the model's device.
            max_length: the number of words generated per image, at most.

        Returns:
            (N, max_length) int64 word ids (without ``<START>``) as a numpy array, wherever the
            model lives; a row stops at its first ``<END>`` (kept) and is ``<NULL>`` afterwards.
            On the GPU the words stay there until the end; each step reads back one boolean
            ("has every row finished?").
        """
        h, c = self._initial_state(images)
        xp = get_array_module(h)
        n = h.shape[0]
        captions = xp.full((n, max_length), self.null, dtype=xp.int64)
        words = xp.full(n, self.start, dtype=xp.int64)
        finished = xp.zeros(n, dtype=bool)
        for t in range(max_length):
            log_probs, h, c = self._step(words, h, c)
            words = xp.where(finished, self.null, log_probs.argmax(axis=1))
            captions[:, t] = words
            finished |= words == self.end
            if finished.all():
                break
        return to_host(captions)

    def beam_search(self, images, beam_width=3, max_length=16):
        """Beam search: keep the ``beam_width`` partial captions of highest log-probability.

        A caption is finished at ``<END>``; the search of an image stops when no unfinished
        caption can beat its best finished one (log-probabilities only decrease). Scores are
        sums of log-probabilities, without length normalisation. ``beam_width=1`` is not quite
        greedy: a caption ending at ``<END>`` is kept whenever ``<END>`` is among the best
        ``2 * beam_width`` candidates of a step, not only when it is the best (lecture 8).

        The images are searched one at a time. The LSTM steps and the scoring run on the
        model's device; at each step the (beams * V) scores of the candidates come to the host,
        where Python picks the beams to keep, and their words go back (a few kilobytes).

        Args:
            images: (N, 3, 32, 32) pixels or (N, input_dim) features, on the model's device.

        Returns:
            (N, max_length) int64 word ids as a numpy array, in the format of :meth:`sample`.
        """
        if beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got {beam_width}")
        h0, c0 = self._initial_state(images)
        captions = np.full((h0.shape[0], max_length), self.null, dtype=np.int64)
        for i in range(h0.shape[0]):
            best = self._beam_search_one(h0[i:i + 1], c0[i:i + 1], beam_width, max_length)
            captions[i, :len(best)] = best
        return captions

    def _beam_search_one(self, h, c, beam_width, max_length):
        """Beam search from one image's state h, c (1, H); returns its best caption's words."""
        xp = get_array_module(h)
        scores = [0.0]                     # the log-probability of each live beam (host)
        beams = [[]]                       # the words of each live beam
        words = xp.asarray([self.start])   # the last word of each live beam, on the device
        finished = []                      # (score, words) of captions that reached <END>
        for _ in range(max_length):
            log_probs, h, c = self._step(words, h, c)
            total = to_host((xp.asarray(scores)[:, None] + log_probs).ravel())
            order = np.argsort(-total, kind="stable")[:2 * beam_width]
            keep = []
            for k in order:
                beam, word = divmod(int(k), self.vocab_size)
                if word == self.end:
                    finished.append((total[k], beams[beam] + [word]))
                elif len(keep) < beam_width:
                    keep.append((beam, word, total[k]))
            if not keep:
                break
            rows = xp.asarray([beam for beam, _, _ in keep])
            beams = [beams[beam] + [word] for beam, word, _ in keep]
            scores = [score for _, _, score in keep]
            words = xp.asarray([word for _, word, _ in keep])
            h, c = h[rows], c[rows]
            if finished and max(s for s, _ in finished) >= max(scores):
                break
        candidates = finished + list(zip(scores, beams, strict=True))
        return max(candidates, key=lambda pair: pair[0])[1]
