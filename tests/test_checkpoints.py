"""Trainer checkpoints as issue 16 asks: a path without ".npz" round-trips, best.npz is a plain
state dict, resume starts fresh without a checkpoint, a resumed shuffled run equals an
uninterrupted one with fresh loaders, and another optimiser's checkpoint is refused."""

import numpy as np
import pytest

from course import optim
from course.data import DataLoader, load_digits
from course.models import mlp
from course.train import Trainer


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def make(path, opt=optim.SGD, **kwargs):
    model = mlp(64, (16,), 10, rng=0)
    return Trainer(model, opt(model.parameters(), lr=0.05, **kwargs), checkpoint_dir=path,
                   progress=False)


def loader(data):
    return DataLoader(data["X_train"][:256], data["y_train"][:256], 32, shuffle=True, seed=3)


def test_save_and_load_agree_on_the_suffix(tmp_path, digits):
    trainer = make(tmp_path)
    trainer.fit(loader(digits), epochs=1)
    trainer.save_checkpoint(tmp_path / "ckpt")
    assert (tmp_path / "ckpt.npz").exists()
    other = make(tmp_path)
    other.load_checkpoint(tmp_path / "ckpt")
    assert other.epoch == 1


def test_best_is_a_state_dict(tmp_path, digits):
    trainer = make(tmp_path)
    trainer.fit(loader(digits), epochs=2)
    model = mlp(64, (16,), 10, rng=5)
    model.load_state_dict(np.load(tmp_path / "best.npz"))
    for a, b in zip(model.parameters(), trainer.model.parameters(), strict=True):
        assert a.shape == b.shape


def test_resume_without_a_checkpoint_starts_fresh(tmp_path, digits):
    history = make(tmp_path / "new").fit(loader(digits), epochs=1, resume=True)
    assert len(history["train_loss"]) == 1


def test_a_resumed_shuffled_run_equals_an_uninterrupted_one(tmp_path, digits):
    straight = make(tmp_path / "a", momentum=0.9)
    straight.fit(loader(digits), epochs=3)
    first = make(tmp_path / "b", momentum=0.9)
    first.fit(loader(digits), epochs=1)
    resumed = make(tmp_path / "b", momentum=0.9)
    resumed.fit(loader(digits), epochs=3, resume=True)  # a fresh loader: its state is restored
    np.testing.assert_allclose(resumed.history["train_loss"], straight.history["train_loss"],
                               rtol=1e-6)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)


def test_another_optimisers_checkpoint_is_refused(tmp_path, digits):
    make(tmp_path, momentum=0.9).fit(loader(digits), epochs=1)
    adam = make(tmp_path, opt=optim.Adam)
    with pytest.raises(ValueError, match="belongs to a SGD optimiser, not a Adam"):
        adam.fit(loader(digits), epochs=2, resume=True)
