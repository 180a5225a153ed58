"""Captioning: generated data, the COCO loader, the model's loss, decoding, and BLEU (lecture 8)."""

import json
import math

import numpy as np
import pytest

from course import optim
from course.backend import gpu_available, to_device
from course.data.captions import (
    CAPTION_LENGTH,
    decode,
    encode,
    load_coco_captions,
    load_shape_captions,
    references,
)
from course.gradcheck import rel_error
from course.metrics import caption_bleu, corpus_bleu
from course.models.captioning import CaptioningModel
from course.train import train_captioner

pytestmark = pytest.mark.rnn

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "a", "red", "blue", "circle", "square"]
WORD_TO_IDX = {w: i for i, w in enumerate(WORDS)}
NULL, START, END = 0, 1, 2


@pytest.fixture(scope="module")
def shapes():
    return load_shape_captions(40, 10, 10, seed=3)


# -- generated shape captions -------------------------------------------------------------------

def test_shape_captions_layout(shapes):
    assert shapes["train_images"].shape == (40, 3, 32, 32)
    assert shapes["train_images"].dtype == np.float32
    assert 0 <= shapes["train_images"].min() and shapes["train_images"].max() <= 1
    assert shapes["idx_to_word"][:4] == ["<NULL>", "<START>", "<END>", "<UNK>"]
    for split, n in (("train", 40), ("val", 10), ("test", 10)):
        captions, idxs = shapes[f"{split}_captions"], shapes[f"{split}_image_idxs"]
        assert captions.shape == (len(idxs), CAPTION_LENGTH) and captions.dtype == np.int32
        assert np.all(captions[:, 0] == START)
        assert np.all((captions == END).sum(axis=1) == 1)
        assert np.all(np.bincount(idxs, minlength=n) >= 2)  # several true captions per image
        assert "<UNK>" not in " ".join(decode(captions, shapes["idx_to_word"]))


def test_shape_caption_splits_are_fixed_by_the_seed(shapes):
    other = load_shape_captions(5, 10, 10, seed=3)
    np.testing.assert_array_equal(other["val_images"], shapes["val_images"])
    np.testing.assert_array_equal(other["test_captions"], shapes["test_captions"])
    assert not np.array_equal(load_shape_captions(5, 10, 0, seed=4)["val_images"],
                              shapes["val_images"])


def test_two_shape_captions_describe_both_directions(shapes):
    captions = decode(shapes["train_captions"], shapes["idx_to_word"])
    above = [c for c in captions if " above " in c]
    below = {c for c in captions if " below " in c}
    assert above
    for caption in above:  # "A above B" comes with "B below A"
        first, second = caption.split(" above ")
        assert f"{second} below {first}" in below


def test_encode_decode_round_trip():
    ids = encode("a red circle", WORD_TO_IDX, length=7)
    np.testing.assert_array_equal(ids, [START, 4, 5, 7, END, NULL, NULL])
    assert decode(ids, WORDS) == "a red circle"
    assert decode(encode("a green circle", WORD_TO_IDX), WORDS) == "a <UNK> circle"
    assert decode(np.array([[4, 7, END, 5], [6, 8, 2, 0]]), WORDS) == ["a circle", "blue square"]
    with pytest.raises(ValueError, match="more than length=4"):
        encode("a red circle", WORD_TO_IDX, length=4)


# -- COCO files ---------------------------------------------------------------------------------

def write_tiny_coco(folder):
    import h5py

    with h5py.File(folder / "coco2014_captions.h5", "w") as f:
        f["train_captions"] = np.array([[1, 4, 5, 7, 2], [1, 4, 6, 8, 2], [1, 4, 7, 2, 0]])
        f["train_image_idxs"] = np.array([0, 1, 1])
        f["val_captions"] = np.array([[1, 4, 8, 2, 0]])
        f["val_image_idxs"] = np.array([0])
    with h5py.File(folder / "train2014_vgg16_fc7_pca.h5", "w") as f:
        f["features"] = np.arange(6, dtype=np.float32).reshape(2, 3)
    (folder / "coco2014_vocab.json").write_text(
        json.dumps({"idx_to_word": WORDS, "word_to_idx": WORD_TO_IDX}))
    (folder / "train2014_urls.txt").write_text("http://x/0.jpg\nhttp://x/1.jpg\n")


def test_load_coco_captions(tmp_path):
    write_tiny_coco(tmp_path)
    data = load_coco_captions(tmp_path)
    assert data["train_captions"].shape == (3, 5)
    assert data["train_features"].shape == (2, 3)
    assert "val_features" not in data  # its file is absent
    assert list(data["train_urls"]) == ["http://x/0.jpg", "http://x/1.jpg"]
    assert data["idx_to_word"] == WORDS and data["word_to_idx"]["circle"] == 7
    assert decode(data["train_captions"][1], data["idx_to_word"]) == "a blue square"
    refs = references(data["train_captions"], data["train_image_idxs"], data["idx_to_word"])
    assert refs == [[["a", "red", "circle"]], [["a", "blue", "square"], ["a", "circle"]]]
    assert len(load_coco_captions(tmp_path, max_train=2)["train_captions"]) == 2


def test_load_coco_captions_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="coco2014_captions.h5"):
        load_coco_captions(tmp_path / "nowhere")
    write_tiny_coco(tmp_path)
    (tmp_path / "coco2014_vocab.json").unlink()
    with pytest.raises(FileNotFoundError, match="coco2014_vocab.json"):
        load_coco_captions(tmp_path)


# -- the model ----------------------------------------------------------------------------------

def tiny_model(image_input="features", encoder="conv", seed=0):
    return CaptioningModel(WORD_TO_IDX, wordvec_dim=3, hidden_dim=4, image_input=image_input,
                           input_dim=5, encoder=encoder, encoder_dim=3, rng=seed,
                           dtype=np.float64)


def tiny_batch(rng, image_input="features"):
    shape = (3, 5) if image_input == "features" else (3, 3, 32, 32)
    captions = np.array([[START, 4, 5, 7, END, NULL],
                         [START, 4, 6, 8, 8, END],
                         [START, 7, END, NULL, NULL, NULL]])
    return rng.standard_normal(shape), captions


def numerical_parameter_gradient(model, images, captions, param, entries):
    grads = []
    for index in entries:
        old = param.data[index]
        param.data[index] = old + 1e-6
        plus = model.loss(images, captions)[0]
        param.data[index] = old - 1e-6
        minus = model.loss(images, captions)[0]
        param.data[index] = old
        grads.append((plus - minus) / 2e-6)
    return np.array(grads)


@pytest.mark.parametrize("image_input, encoder",
                         [("features", None), ("pixels", "conv"), ("pixels", "mlp")])
def test_caption_loss_gradient(rng, image_input, encoder):
    model = tiny_model(image_input, encoder)
    images, captions = tiny_batch(rng, image_input)
    loss, grads = model.loss(images, captions)
    assert set(grads) == {name for name, _ in model.named_parameters()}
    for name, param in model.named_parameters():
        analytic = grads[name].copy()
        flat = rng.choice(param.data.size, size=min(param.data.size, 8), replace=False)
        entries = [np.unravel_index(i, param.data.shape) for i in flat]
        numerical = numerical_parameter_gradient(model, images, captions, param, entries)
        assert rel_error(np.array([analytic[e] for e in entries]), numerical) < 1e-6, name


def test_caption_loss_ignores_padding(rng):
    model = tiny_model()
    images, captions = tiny_batch(rng)
    loss = model.loss(images, captions)[0]
    padded = np.concatenate([captions, np.zeros((3, 2), dtype=captions.dtype)], axis=1)
    assert model.loss(images, padded)[0] == pytest.approx(loss)


def test_caption_loss_rejects_words_outside_the_vocabulary(rng):
    model = tiny_model()
    images, captions = tiny_batch(rng)
    captions[0, 2] = len(WORDS)
    with pytest.raises(ValueError, match=r"must be in \[0, 9\)"):
        model.loss(images, captions)


def model_that_ends_early(seed):
    model = CaptioningModel(WORD_TO_IDX, wordvec_dim=4, hidden_dim=6, image_input="features",
                            input_dim=5, rng=seed)
    model.output.bias.data[END] = 1.5  # <END> likely, but not at the first step of every row
    return model


def test_sample_stops_at_end_and_handles_batches(rng):
    model = model_that_ends_early(1)
    images = rng.standard_normal((16, 5)).astype(np.float32)
    captions = model.sample(images, max_length=10)
    assert captions.shape == (16, 10)
    ended = 0
    for row in captions:
        ends = np.flatnonzero(row == END)
        if ends.size:
            ended += 1
            assert np.all(row[ends[0] + 1:] == NULL)  # nothing after <END>
            assert np.all(row[:ends[0]] != NULL)
    assert ended > 0
    np.testing.assert_array_equal(model.sample(images[5:6], max_length=10), captions[5:6])


def test_beam_search_width_one_is_greedy(rng):
    model = model_that_ends_early(2)
    images = rng.standard_normal((8, 5)).astype(np.float32)
    np.testing.assert_array_equal(model.beam_search(images, beam_width=1, max_length=9),
                                  model.sample(images, max_length=9))


def test_beam_search_output_and_score(rng):
    model = model_that_ends_early(3)
    images = rng.standard_normal((6, 5)).astype(np.float32)
    greedy = model.sample(images, max_length=8)
    beam = model.beam_search(images, beam_width=4, max_length=8)
    assert beam.shape == (6, 8)

    def log_prob(image, caption):
        full = np.concatenate([[START], caption])[None]
        return -model.loss(image[None], full)[0]

    for image, g, b in zip(images, greedy, beam, strict=True):
        ends = np.flatnonzero(b == END)
        if ends.size:
            assert np.all(b[ends[0] + 1:] == NULL)
        if END in g and END in b:  # finished captions: beam's is at least as likely
            assert log_prob(image, b) >= log_prob(image, g) - 1e-5
    with pytest.raises(ValueError, match="beam_width"):
        model.beam_search(images, beam_width=0)


def test_model_learns_to_caption_a_few_images(rng):
    model = CaptioningModel(WORD_TO_IDX, wordvec_dim=8, hidden_dim=16, image_input="features",
                            input_dim=5, rng=0)
    features, captions = tiny_batch(rng)
    features = features.astype(np.float32)
    optimizer = optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(60):
        optimizer.zero_grad()
        model.loss(features, captions)
        optimizer.step()
    generated = model.sample(features, max_length=6)
    assert decode(generated, WORDS) == decode(captions, WORDS)


@pytest.mark.gpu
@pytest.mark.parametrize("image_input", ["features", "pixels"])
def test_decoding_on_the_gpu_gives_the_cpu_captions(rng, image_input):
    import cupy

    model = CaptioningModel(WORD_TO_IDX, wordvec_dim=4, hidden_dim=6, image_input=image_input,
                            input_dim=5, encoder_dim=3, rng=4, dtype=np.float64)
    model.output.bias.data[END] = 1.5
    images = rng.standard_normal((8, 5) if image_input == "features" else (8, 3, 32, 32))
    on_cpu = model.sample(images, max_length=10), model.beam_search(images, 3, max_length=10)

    model.to("cuda")
    steps_on_gpu = []

    def step(words, h, c):  # every decoder step must read and write GPU arrays only
        log_probs, next_h, next_c = CaptioningModel._step(model, words, h, c)
        steps_on_gpu.append(all(isinstance(a, cupy.ndarray)
                                for a in (words, h, c, log_probs, next_h, next_c)))
        return log_probs, next_h, next_c

    model._step = step
    images = to_device(images, "cuda")
    on_gpu = model.sample(images, max_length=10), model.beam_search(images, 3, max_length=10)
    assert steps_on_gpu and all(steps_on_gpu)
    for cpu_captions, gpu_captions in zip(on_cpu, on_gpu, strict=True):
        assert type(gpu_captions) is np.ndarray and gpu_captions.dtype == np.int64  # host ids
        np.testing.assert_array_equal(gpu_captions, cpu_captions)


def test_train_captioner_and_caption_bleu(shapes):
    model = CaptioningModel(shapes["word_to_idx"], wordvec_dim=8, hidden_dim=16, encoder="mlp",
                            encoder_dim=16, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-2, clip_norm=5.0)
    result = train_captioner(model, optimizer, shapes, epochs=3, batch_size=20, device="cpu")
    assert result["steps"] == len(result["losses"]) == 3 * (len(shapes["train_captions"]) // 20)
    assert np.mean(result["losses"][-3:]) < 0.9 * np.mean(result["losses"][:3])  # it learns
    for beam_width in (1, 2):
        bleu, hypotheses, refs = caption_bleu(
            model, shapes["test_images"], shapes["test_captions"], shapes["test_image_idxs"],
            shapes["idx_to_word"], beam_width=beam_width, device="cpu")
        assert len(bleu) == 4 and all(0 <= b <= 1 for b in bleu)
        assert len(hypotheses) == len(refs) == len(shapes["test_images"])


@pytest.mark.skipif(gpu_available(), reason="checks the message shown without a GPU")
def test_captioning_on_cuda_without_a_gpu_says_so_before_any_step(shapes):
    model = tiny_model("pixels")
    before = model.state_dict()
    optimizer = optim.Adam(model.parameters())
    with pytest.raises(RuntimeError, match="CuPy is not installed|no CUDA device"):
        train_captioner(model, optimizer, shapes, epochs=1, device="cuda")
    assert optimizer.steps == 0
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    with pytest.raises(RuntimeError, match="CuPy is not installed|no CUDA device"):
        caption_bleu(model, shapes["test_images"], shapes["test_captions"],
                     shapes["test_image_idxs"], shapes["idx_to_word"], device="cuda")


def test_model_rejects_bad_configuration():
    with pytest.raises(ValueError, match="image_input must be"):
        CaptioningModel(WORD_TO_IDX, image_input="video")
    with pytest.raises(ValueError, match="encoder must be"):
        CaptioningModel(WORD_TO_IDX, encoder="rnn")
    with pytest.raises(ValueError, match="needs input_dim"):
        CaptioningModel(WORD_TO_IDX, image_input="features")
    with pytest.raises(ValueError, match="lacks the special tokens"):
        CaptioningModel({"a": 0})


# -- BLEU (expected values computed by hand) ----------------------------------------------------

def test_bleu_by_hand():
    # p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0/3 -> smoothed 0.1/3; same length, no brevity penalty
    bleu = corpus_bleu(["the cat sat on the mat"], [["the cat is on the mat"]])
    assert bleu == pytest.approx([5 / 6, math.sqrt(0.5), 0.5, (0.125 / 30) ** 0.25])


def test_bleu_clips_counts_by_the_most_generous_reference():
    # "the" occurs at most twice in one reference; closest reference length 3 < 4: no penalty
    bleu = corpus_bleu(["the the the the"], [["the cat", "the the dog"]], max_order=1)
    assert bleu == pytest.approx([0.5])


def test_bleu_brevity_penalty():
    assert corpus_bleu(["the cat"], [["the cat is here"]], max_order=1) == pytest.approx(
        [math.exp(1 - 4 / 2)])
    # the closest reference length is used: "a cat" (2) rather than the long one
    assert corpus_bleu(["the cat"], [["the cat sat on the mat", "a cat"]],
                       max_order=1) == pytest.approx([1.0])


def test_bleu_sums_counts_over_the_corpus():
    # corpus p1 = (2 + 1) / (2 + 4) = 0.5, not the mean of sentence scores (0.625)
    bleu = corpus_bleu([["a", "b"], ["c", "d", "e", "f"]], [[["a", "b"]], [["c", "x", "y", "z"]]],
                       max_order=1)
    assert bleu == pytest.approx([0.5])


def test_bleu_perfect_and_without_smoothing():
    assert corpus_bleu(["a red circle above a blue square"],
                       [["a red circle above a blue square"]]) == pytest.approx([1, 1, 1, 1])
    assert corpus_bleu(["a b c"], [["a b d"]], epsilon=0)[2:] == [0.0, 0.0]
    with pytest.raises(ValueError, match="reference lists"):
        corpus_bleu(["a"], [])
