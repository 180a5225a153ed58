"""Mini-batches over arrays (lecture 2): shuffling with a seed, drop-last, an optional transform."""

import numpy as np

from course.random import make_rng


class DataLoader:
    """Iterate over ``(X[batch], y[batch])`` pairs (lecture 2).

    Args:
        X: (N, ...) inputs. y: (N, ...) targets (or None to yield inputs alone).
        batch_size: examples per batch.
        shuffle: draw a new order each epoch from ``seed``'s generator.
        seed: makes the shuffling (and the transform's randomness) repeatable; None draws one
            from ``course.manual_seed``'s source when it was called (fresh entropy otherwise).
        drop_last: skip the last batch when it is smaller than ``batch_size``.
        transform: ``transform(xb, rng) -> xb`` applied to each input batch (augmentation).
    """

    def __init__(self, X, y=None, batch_size=64, shuffle=False, seed=None, drop_last=False,
                 transform=None):
        if y is not None and len(X) != len(y):
            raise ValueError(f"X and y must have the same length, got {len(X)} and {len(y)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.X, self.y = X, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform = transform
        self.rng = make_rng(seed)

    def __len__(self):
        n = len(self.X)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.X)
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = order[start:start + self.batch_size]
            xb = self.X[index]
            if self.transform is not None:
                xb = self.transform(xb, self.rng)
            yield xb if self.y is None else (xb, self.y[index])
