"""The Trainer: learns, keeps history, saves the best checkpoint, resumes exactly; a training
step of each tour model on the GPU leaves no array on the host."""

import numpy as np
import pytest

from course import nn, optim
from course.backend import is_cupy_array, to_device
from course.data import DataLoader, load_digits, load_shape_captions
from course.models import CaptioningModel, lenet5, mlp, small_resnet
from course.train import Trainer, accuracy, predict, train_captioner


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


# -- one training step of each tour model, on either device ----------------------------------

TOUR_MODELS = ["lenet5", "resnet", "captioning"]


def tour_step(name, device):
    """Build the tour's ``name`` model and train it one step on ``device`` the way the tour does.

    Returns the model, its optimiser, and the arrays the model computes for one more batch
    (class scores, or the captioning loss's gradients).
    """
    rng = np.random.default_rng(0)
    if name == "captioning":
        data = load_shape_captions(20, 0, 0, seed=0)
        model = CaptioningModel(data["word_to_idx"], wordvec_dim=64, hidden_dim=128, rng=0)
        optimizer = optim.Adam(model.parameters(), lr=2e-3, clip_norm=5.0)
        train_captioner(model, optimizer, data, epochs=1,
                        batch_size=len(data["train_captions"]), device=device)
        images = to_device(data["train_images"][:2], device)
        captions = to_device(data["train_captions"][:2], device)
        return model, optimizer, list(model.loss(images, captions)[1].values())
    if name == "lenet5":
        model, image_shape, classes = lenet5(input_size=32, rng=0), (1, 32, 32), 10
    else:
        model, image_shape, classes = small_resnet(num_classes=4, rng=0), (3, 32, 32), 4
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    trainer = Trainer(model, optimizer, device=device, progress=False)
    xb = rng.standard_normal((8, *image_shape)).astype(np.float32)
    trainer.train_step(xb, rng.integers(0, classes, 8))
    return model, optimizer, [model(to_device(xb, device))]


def arrays_in(value, path):
    """Yield ``(path, array)`` for every numpy or CuPy array reachable from ``value`` through
    modules, parameters, dicts, lists and tuples: parameters, gradients, buffers, the caches
    of the last forward pass, optimiser state."""
    if isinstance(value, np.ndarray) or is_cupy_array(value):
        yield path, value
    elif isinstance(value, (nn.Module, nn.Parameter)):
        yield from arrays_in(vars(value), path)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from arrays_in(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from arrays_in(item, f"{path}[{i}]")


def arrays_of_a_step(model, optimizer, outputs):
    return [*arrays_in(model, "model"), *arrays_in(optimizer.state, "optimizer.state"),
            *arrays_in(outputs, "outputs")]


def optimizer_slots(optimizer):
    return [v for slots in optimizer.state.values() for v in slots.values() if hasattr(v, "shape")]


@pytest.mark.parametrize("name", TOUR_MODELS)
def test_the_array_walk_reaches_every_array_of_a_step(name):
    # what the GPU test below checks must really be seen: every parameter, gradient, buffer,
    # Adam slot (m and v of every parameter) and output
    model, optimizer, outputs = tour_step(name, "cpu")
    seen = {id(array) for _, array in arrays_of_a_step(model, optimizer, outputs)}
    expected = ([p.data for p in model.parameters()] + [p.grad for p in model.parameters()]
                + [b for _, b in model.named_buffers()] + optimizer_slots(optimizer) + outputs)
    assert len(optimizer_slots(optimizer)) == 2 * len(model.parameters())
    assert all(a is not None for a in expected)
    assert {id(a) for a in expected} <= seen


@pytest.mark.gpu
@pytest.mark.parametrize("name", TOUR_MODELS)
def test_a_gpu_training_step_leaves_no_array_on_the_host(name):
    import cupy

    model, optimizer, outputs = tour_step(name, "cuda")
    on_host = [path for path, array in arrays_of_a_step(model, optimizer, outputs)
               if not isinstance(array, cupy.ndarray)]
    assert not on_host, f"host arrays after a GPU training step: {on_host}"
    # and none is missing: every parameter has its gradient and Adam's two slots
    assert all(p.grad is not None for p in model.parameters())
    assert len(optimizer_slots(optimizer)) == 2 * len(model.parameters())
