"""Image-captioning data: generated shape scenes, and CS231n's COCO features (lecture 8).

Both loaders return a dict in the layout of CS231n's COCO captioning files: each split has
``<split>_captions`` (M, L) int32 word ids (``<START>`` ... ``<END>`` then ``<NULL>`` padding),
``<split>_image_idxs`` (M,) telling which image each caption describes, and the images
(``<split>_images``, shapes) or image features (``<split>_features``, COCO); plus the vocabulary
``word_to_idx`` / ``idx_to_word``. Several captions describe each image.
"""

import json
from pathlib import Path

import numpy as np

NULL, START, END, UNK = "<NULL>", "<START>", "<END>", "<UNK>"
SPECIAL_TOKENS = (NULL, START, END, UNK)  # <NULL> is id 0

# -- vocabulary helpers -------------------------------------------------------------------------


def build_vocab(words):
    """``(word_to_idx, idx_to_word)`` with the special tokens first, then the sorted words
    (lecture 8)."""
    idx_to_word = list(SPECIAL_TOKENS) + sorted(set(words) - set(SPECIAL_TOKENS))
    return {w: i for i, w in enumerate(idx_to_word)}, idx_to_word


def encode(caption, word_to_idx, length=None):
    """Word ids of ``<START> caption <END>``, padded with ``<NULL>`` to ``length`` if given
    (lecture 8).

    Unknown words become ``<UNK>``. Raises ValueError if the caption does not fit ``length``.
    """
    words = caption.split() if isinstance(caption, str) else list(caption)
    ids = ([word_to_idx[START]] + [word_to_idx.get(w, word_to_idx[UNK]) for w in words]
           + [word_to_idx[END]])
    if length is not None:
        if len(ids) > length:
            raise ValueError(f"caption {caption!r} needs {len(ids)} ids with <START> and <END>, "
                             f"more than length={length}")
        ids += [word_to_idx[NULL]] * (length - len(ids))
    return np.array(ids, dtype=np.int32)


def decode(ids, idx_to_word):
    """Caption string(s) from word ids (lecture 8): ``<START>`` and ``<NULL>`` dropped, stop at
    ``<END>``.

    ``ids`` (L,) gives one string; (N, L) gives a list of N strings.
    """
    ids = np.asarray(ids)
    if ids.ndim == 2:
        return [decode(row, idx_to_word) for row in ids]
    words = []
    for i in ids:
        word = idx_to_word[int(i)]
        if word == END:
            break
        if word not in (START, NULL):
            words.append(word)
    return " ".join(words)


def references(captions, image_idxs, idx_to_word):
    """For BLEU (lecture 8): a list with, for each image 0..max(image_idxs), the list of its
    captions as lists of words."""
    refs = [[] for _ in range(int(image_idxs.max()) + 1)]
    for caption, image in zip(captions, image_idxs, strict=True):
        refs[int(image)].append(decode(caption, idx_to_word).split())
    return refs


# -- generated shape scenes -------------------------------------------------------------------

IMAGE_SIZE = 32
COLOURS = {
    "red": (0.9, 0.15, 0.15),
    "green": (0.15, 0.8, 0.2),
    "blue": (0.2, 0.35, 0.95),
    "yellow": (0.95, 0.9, 0.15),
    "purple": (0.7, 0.2, 0.85),
}
SHAPES = ("circle", "square", "triangle", "cross")
SIZES = {"small": 3.5, "large": 6.0}  # half-width in pixels
LAYOUTS = ("single", "vertical", "horizontal", "three")
LAYOUT_PROBABILITIES = (0.2, 0.3, 0.3, 0.2)
CAPTION_LENGTH = 17  # longest caption (15 words) with <START> and <END>
_YY, _XX = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] + 0.5  # pixel centres


def _shape_mask(shape, cx, cy, r):
    """Boolean (32, 32) mask of one shape centred at (cx, cy) with half-width r."""
    dx, dy = _XX - cx, _YY - cy
    if shape == "circle":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return np.maximum(abs(dx), abs(dy)) <= 0.85 * r
    if shape == "triangle":  # apex up, base at the bottom
        return (dy <= r) & (abs(dx) <= (dy + r) / 2)
    return ((abs(dx) <= r / 3) & (abs(dy) <= r)) | ((abs(dy) <= r / 3) & (abs(dx) <= r))


def _phrase(obj, with_size):
    size = f"{obj['size']} " if with_size else ""
    return f"a {size}{obj['colour']} {obj['shape']}"


def _captions(objects, layout):
    """All true captions of a scene (with and without sizes, both directions of a relation)."""
    captions = []
    for with_size in (True, False):
        p = [_phrase(obj, with_size) for obj in objects]
        if layout == "single":
            captions.append(p[0])
        elif layout == "vertical":  # objects[0] is above objects[1]
            captions += [f"{p[0]} above {p[1]}", f"{p[1]} below {p[0]}"]
        elif layout == "horizontal":  # objects[0] is left of objects[1]
            captions += [f"{p[0]} to the left of {p[1]}", f"{p[1]} to the right of {p[0]}"]
        else:  # three objects, listed from left to right
            captions.append(f"{p[0]} next to {p[1]} and {p[2]}")
    return captions


def _random_scene(rng):
    """Objects (shape, colour, size, centre) and the layout that the captions describe."""
    layout = LAYOUTS[np.searchsorted(np.cumsum(LAYOUT_PROBABILITIES), rng.uniform())]
    count = {"single": 1, "vertical": 2, "horizontal": 2, "three": 3}[layout]
    objects = [{"shape": SHAPES[rng.integers(len(SHAPES))],
                "colour": list(COLOURS)[rng.integers(len(COLOURS))],
                "size": list(SIZES)[rng.integers(len(SIZES))]} for _ in range(count)]
    if layout == "single":
        centres = [rng.uniform(9, 23, size=2)]
    elif layout == "vertical":  # clearly above: 12+ pixels apart vertically, at most 6 across
        x = rng.uniform(10, 22)
        centres = [(x, rng.uniform(7, 10)),
                   (np.clip(x + rng.uniform(-6, 6), 7, 25), rng.uniform(22, 25))]
    elif layout == "horizontal":
        y = rng.uniform(10, 22)
        centres = [(rng.uniform(7, 10), y),
                   (rng.uniform(22, 25), np.clip(y + rng.uniform(-6, 6), 7, 25))]
    else:  # one object per column, listed left to right
        centres = [(x + rng.uniform(-1, 1), rng.uniform(8, 24)) for x in (5.5, 16, 26.5)]
    for obj, (cx, cy) in zip(objects, centres, strict=True):
        obj["centre"] = (float(cx), float(cy))
    return objects, layout


def _render(objects, rng):
    """(3, 32, 32) float32 image: dark noisy background, shapes painted in order."""
    image = rng.uniform(0.0, 0.1) + rng.normal(0, 0.03, (IMAGE_SIZE, IMAGE_SIZE, 3))
    for obj in objects:
        mask = _shape_mask(obj["shape"], *obj["centre"], SIZES[obj["size"]])
        image[mask] = np.array(COLOURS[obj["colour"]]) + rng.normal(0, 0.05, 3)
    return np.clip(image, 0, 1).transpose(2, 0, 1).astype(np.float32)


def _shape_split(n, rng, word_to_idx):
    images = np.empty((n, 3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    captions, image_idxs = [], []
    for i in range(n):
        objects, layout = _random_scene(rng)
        images[i] = _render(objects, rng)
        for caption in _captions(objects, layout):
            captions.append(encode(caption, word_to_idx, CAPTION_LENGTH))
            image_idxs.append(i)
    captions = np.array(captions, dtype=np.int32).reshape(-1, CAPTION_LENGTH)
    return images, captions, np.array(image_idxs, dtype=np.int32)


def shape_vocabulary():
    """Every word the shape captions use, as ``(word_to_idx, idx_to_word)`` (lecture 8)."""
    words = ["a", "above", "below", "to", "the", "left", "right", "of", "next", "and"]
    return build_vocab(words + list(COLOURS) + list(SHAPES) + list(SIZES))


def load_shape_captions(n_train=8000, n_val=500, n_test=500, seed=0):
    """Generated 32x32 RGB scenes of one to three coloured shapes, with their true captions
    (lecture 8).

    "a small red circle above a large blue square", "a blue square below a red circle", ...:
    each image has 2 (one shape or three) or 4 (two shapes) true captions, with and without
    sizes, and for two shapes from either side of the relation. Three shapes are listed from
    left to right ("a red circle next to a blue cross and a green square").

    The splits are fixed by ``seed``: the validation and test images do not change with
    ``n_train``. About 1 s per 5000 images.

    Returns:
        dict with ``train_images`` (n_train, 3, 32, 32) float32 in [0, 1], ``train_captions``
        (M, 17) int32, ``train_image_idxs`` (M,) int32, the same for ``val`` and ``test``, and
        ``word_to_idx`` / ``idx_to_word``.
    """
    word_to_idx, idx_to_word = shape_vocabulary()
    data = {"word_to_idx": word_to_idx, "idx_to_word": idx_to_word}
    for index, (split, n) in enumerate((("train", n_train), ("val", n_val), ("test", n_test))):
        rng = np.random.default_rng([seed, index])
        images, captions, image_idxs = _shape_split(n, rng, word_to_idx)
        data[f"{split}_images"] = images
        data[f"{split}_captions"] = captions
        data[f"{split}_image_idxs"] = image_idxs
    return data


# -- CS231n's COCO captioning files -------------------------------------------------------------


def _read_h5(path):
    import h5py

    with h5py.File(path, "r") as f:
        return {key: np.asarray(value) for key, value in f.items()}


def load_coco_captions(path, pca_features=True, max_train=None, seed=0):
    """Read CS231n's COCO 2014 captioning data from the folder ``path`` (lecture 8).

    Expects ``coco2014_captions.h5`` (``train_captions``, ``train_image_idxs``, ``val_...``,
    possibly ``train_features``/``val_features``) and ``coco2014_vocab.json`` (``idx_to_word``,
    ``word_to_idx``). Features not in the captions file come from
    ``{train,val}2014_vgg16_fc7_pca.h5`` (or ``..._fc7.h5`` with ``pca_features=False``), key
    ``features``, when present; image URLs from ``{train,val}2014_urls.txt`` when present.

    Args:
        max_train: keep a random subset of this many training captions.

    Raises:
        FileNotFoundError: naming the missing file.
    """
    folder = Path(path)
    caption_file = folder / "coco2014_captions.h5"
    vocab_file = folder / "coco2014_vocab.json"
    for required in (caption_file, vocab_file):
        if not required.is_file():
            raise FileNotFoundError(
                f"COCO captioning file not found: {required} (download CS231n's coco_captioning "
                f"folder and pass its path)")
    data = _read_h5(caption_file)
    suffix = "_pca" if pca_features else ""
    for split in ("train", "val"):
        feature_file = folder / f"{split}2014_vgg16_fc7{suffix}.h5"
        if f"{split}_features" not in data and feature_file.is_file():
            data[f"{split}_features"] = _read_h5(feature_file)["features"]
        url_file = folder / f"{split}2014_urls.txt"
        if url_file.is_file():
            data[f"{split}_urls"] = np.array(url_file.read_text().split())
    data.update(json.loads(vocab_file.read_text()))
    if max_train is not None and max_train < len(data["train_captions"]):
        keep = np.random.default_rng(seed).choice(len(data["train_captions"]), max_train,
                                                  replace=False)
        data["train_captions"] = data["train_captions"][keep]
        data["train_image_idxs"] = data["train_image_idxs"][keep]
    return data
