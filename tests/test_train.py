"""The Trainer: learns, keeps history, saves the best checkpoint, resumes exactly."""

import numpy as np
import pytest

from course import optim
from course.data import DataLoader, load_digits
from course.models import mlp
from course.train import Trainer, accuracy, predict


@pytest.fixture(scope="module")
def digits():
    return load_digits()


def loaders(data):
    return (DataLoader(data["X_train"], data["y_train"], 64, shuffle=True, seed=0),
            DataLoader(data["X_val"], data["y_val"], 256))


def make_trainer(tmp_path, epochs_for_schedule=6):
    model = mlp(64, (32,), 10, rng=0)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return Trainer(model, opt, scheduler=optim.CosineLR(opt, epochs_for_schedule),
                   checkpoint_dir=tmp_path, progress=False)


def test_fit_learns_and_records_history(tmp_path, digits):
    trainer = make_trainer(tmp_path)
    history = trainer.fit(*loaders(digits), epochs=6)
    assert len(history["train_loss"]) == 6 and len(history["val_acc"]) == 6
    assert history["train_loss"][-1] < history["train_loss"][0] / 3
    assert history["val_acc"][-1] > 0.9
    assert history["lr"][0] == pytest.approx(0.1)
    assert (tmp_path / "best.npz").exists() and (tmp_path / "last.npz").exists()
    _, test_acc = trainer.evaluate(DataLoader(digits["X_test"], digits["y_test"], 100))
    scores = predict(trainer.model, digits["X_test"])
    assert accuracy(scores, digits["y_test"]) == pytest.approx(test_acc)


def test_resume_continues_exactly(tmp_path, digits):
    straight = make_trainer(tmp_path / "a")
    train, val = loaders(digits)
    straight.fit(train, val, epochs=4)

    first = make_trainer(tmp_path / "b")
    train_b, val_b = loaders(digits)
    first.fit(train_b, val_b, epochs=2)
    resumed = make_trainer(tmp_path / "b")
    resumed.model = mlp(64, (32,), 10, rng=99)  # different start: the checkpoint must win
    resumed.optimizer.parameters = resumed.model.parameters()
    # The data order continues where the first run stopped.
    resumed.fit(train_b, val_b, epochs=4, resume=True)

    assert resumed.epoch == 4 and len(resumed.history["train_loss"]) == 4
    np.testing.assert_allclose(resumed.history["train_loss"], straight.history["train_loss"],
                               rtol=1e-5)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-5, atol=1e-6)


def test_best_checkpoint_holds_the_best_validation_model(tmp_path, digits):
    trainer = make_trainer(tmp_path)
    history = trainer.fit(*loaders(digits), epochs=3)
    trainer.load_checkpoint(tmp_path / "best.npz")
    _, val_acc = trainer.evaluate(loaders(digits)[1])
    assert val_acc == pytest.approx(max(history["val_acc"]))


def test_checkpoint_without_folder_is_an_error(digits):
    trainer = Trainer(mlp(64, (8,), 10), optim.SGD(mlp(64, (8,), 10).parameters()),
                      progress=False)
    with pytest.raises(ValueError, match="no checkpoint_dir"):
        trainer.fit(*loaders(digits), epochs=1, resume=True)
