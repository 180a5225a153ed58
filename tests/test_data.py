"""Bundled digits, batching, and loaders for MNIST IDX and CIFAR-10 files the tests write."""

import gzip
import pickle

import numpy as np
import pytest

from course.data import DataLoader, load_cifar10, load_digits, load_mnist, read_idx


def test_digits_splits_are_fixed_and_disjoint():
    data = load_digits()
    assert data["X_train"].shape == (1257, 1, 8, 8) and data["X_test"].shape == (360, 1, 8, 8)
    assert data["X_val"].shape == (180, 1, 8, 8)
    assert data["X_train"].dtype == np.float32 and data["y_train"].dtype == np.int64
    assert 0.0 <= data["X_train"].min() and data["X_train"].max() <= 1.0
    again = load_digits()
    np.testing.assert_array_equal(data["y_test"], again["y_test"])
    rows = {x.tobytes() for x in data["X_test"]}
    assert not rows & {x.tobytes() for x in data["X_train"]}
    assert set(np.unique(data["y_train"])) == set(range(10))


@pytest.mark.parametrize("size", [28, 32])
def test_digits_resized(size):
    data = load_digits(size=size, dtype=np.float64)
    assert data["X_train"].shape == (1257, 1, size, size)
    assert data["X_train"].dtype == np.float64
    small = load_digits()
    # Upsampling keeps the picture: shrunk back, it correlates strongly with the original.
    big = data["X_train"][:, 0]
    index = (np.arange(8) + 0.5) * size / 8
    shrunk = big[:, index.astype(int)][:, :, index.astype(int)]
    assert np.corrcoef(shrunk.ravel(), small["X_train"].ravel())[0, 1] > 0.9
    with pytest.raises(ValueError, match="size must be an int of at least 8"):
        load_digits(size=4)


def test_loader_batches_shuffles_and_drops_last():
    X, y = np.arange(10)[:, None], np.arange(10)
    batches = list(DataLoader(X, y, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert [len(b[1]) for b in DataLoader(X, y, batch_size=4, drop_last=True)] == [4, 4]
    shuffled = np.concatenate([b[1] for b in DataLoader(X, y, 3, shuffle=True, seed=1)])
    assert sorted(shuffled) == list(range(10)) and list(shuffled) != list(range(10))
    again = np.concatenate([b[1] for b in DataLoader(X, y, 3, shuffle=True, seed=1)])
    np.testing.assert_array_equal(shuffled, again)
    for xb, yb in DataLoader(X, y, 3, shuffle=True, seed=2):
        np.testing.assert_array_equal(xb[:, 0], yb)  # inputs stay paired with labels


def test_loader_transform_and_errors():
    X = np.zeros((4, 2))
    loader = DataLoader(X, None, 2, transform=lambda xb, rng: xb + 1)
    assert all((xb == 1).all() for xb in loader)
    with pytest.raises(ValueError, match="same length"):
        DataLoader(X, np.zeros(3))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(X, batch_size=0)


def write_idx(path, array, code):
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape)
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def test_mnist_from_idx_files(tmp_path, rng):
    images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images, 0x08)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 0x08)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images[:2], 0x08)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:2], 0x08)
    data = load_mnist(tmp_path)
    assert data["X_train"].shape == (5, 1, 28, 28) and data["X_test"].shape == (2, 1, 28, 28)
    np.testing.assert_allclose(data["X_train"][:, 0] * 255, images, atol=1e-4)
    np.testing.assert_array_equal(data["y_test"], labels[:2])


def test_idx_other_dtypes_and_bad_files(tmp_path):
    values = np.array([[1.5, -2.0], [3.0, 4.0]], dtype=np.float32)
    write_idx(tmp_path / "floats.idx", values, 0x0D)
    np.testing.assert_array_equal(read_idx(tmp_path / "floats.idx"), values)
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "junk")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 9, 1, 2]))
    with pytest.raises(ValueError, match="promises 9 bytes"):
        read_idx(tmp_path / "short")
    with pytest.raises(FileNotFoundError, match="MNIST folder not found: .*nowhere"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)


def test_cifar10_from_python_batches(tmp_path, rng):
    def batch(n):
        return {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
                b"labels": list(rng.integers(0, 10, size=n))}

    batches = [batch(3) for _ in range(5)]
    for i, b in enumerate(batches, 1):
        (tmp_path / f"data_batch_{i}").write_bytes(pickle.dumps(b))
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch(2)))
    names = [n.encode() for n in ["plane", "car", "bird", "cat", "deer", "dog", "frog",
                                  "horse", "ship", "truck"]]
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}))
    data = load_cifar10(tmp_path)
    assert data["X_train"].shape == (15, 3, 32, 32) and data["X_test"].shape == (2, 3, 32, 32)
    assert data["classes"][1] == "car"
    first = batches[0][b"data"][0].reshape(3, 32, 32) / 255.0
    np.testing.assert_allclose(data["X_train"][0], first, rtol=1e-6)
    assert data["y_train"].tolist()[:3] == batches[0][b"labels"]
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        load_cifar10(tmp_path)
