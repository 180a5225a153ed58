"""Loaders for standard dataset files on a local disk: MNIST IDX and CIFAR-10 python batches.

Nothing is downloaded: point the loader at a folder you already have.
"""

import gzip
import pickle
from pathlib import Path

import numpy as np

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _existing(path, what):
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def read_idx(path):
    """Read one IDX file (optionally gzipped) into a numpy array of its stored shape
    (no lecture: optional data sets)."""
    path = _existing(path, "IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(IDX_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{path}: header promises {expected} bytes of data, found "
                         f"{len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _find(folder, stem):
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    raise FileNotFoundError(f"MNIST file {stem}[.gz] not found in {folder}")


def load_mnist(path, dtype=np.float32):
    """MNIST from the four IDX files in ``path`` (train-images-idx3-ubyte[.gz] and the rest)
    (no lecture: optional data sets).

    Returns dict with ``X_train`` (60000, 1, 28, 28) in [0, 1], ``y_train``, ``X_test``, ``y_test``.
    """
    folder = _existing(path, "MNIST folder")
    arrays = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(_find(folder, f"{prefix}-images-idx3-ubyte"))
        labels = read_idx(_find(folder, f"{prefix}-labels-idx1-ubyte"))
        arrays[f"X_{split}"] = (images[:, None] / 255.0).astype(dtype)
        arrays[f"y_{split}"] = labels.astype(np.int64)
    return arrays


def _cifar_batch(path):
    with open(_existing(path, "CIFAR-10 batch"), "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    return images, np.asarray(batch[b"labels"], dtype=np.int64)


def load_cifar10(path, dtype=np.float32):
    """CIFAR-10 from the python batches in ``path`` (data_batch_1..5, test_batch, batches.meta)
    (no lecture: optional data sets).

    Only open files you trust: the batches are Python pickles.

    Returns dict with ``X_train`` (50000, 3, 32, 32) in [0, 1], ``y_train``, ``X_test``,
    ``y_test`` and ``classes``.
    """
    folder = _existing(path, "CIFAR-10 folder")
    train = [_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
    X_test, y_test = _cifar_batch(folder / "test_batch")
    with open(_existing(folder / "batches.meta", "CIFAR-10 batches.meta"), "rb") as f:
        classes = [c.decode() for c in pickle.load(f, encoding="bytes")[b"label_names"]]
    return {
        "X_train": (np.concatenate([x for x, _ in train]) / 255.0).astype(dtype),
        "y_train": np.concatenate([y for _, y in train]),
        "X_test": (X_test / 255.0).astype(dtype), "y_test": y_test,
        "classes": classes,
    }
