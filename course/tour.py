"""``course tour``: train the course's models on the bundled data and save what they learned.

Each step trains one model, prints its test accuracy and time, and saves a loss curve, a
confusion matrix and the best checkpoint under the output folder.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from course import optim  # noqa: E402
from course.data import DataLoader, load_digits  # noqa: E402
from course.models import mlp  # noqa: E402
from course.train import Trainer, predict  # noqa: E402
from course.viz import plot_confusion, plot_history  # noqa: E402


def train_classifier(name, model, data, optimizer, epochs, out, device="cpu", batch_size=64,
                     scheduler=None, transform=None):
    """Train ``model`` on ``data`` (a load_* dict), save figures; returns the test accuracy."""
    start = time.perf_counter()
    folder = Path(out) / name
    trainer = Trainer(model, optimizer, scheduler=scheduler, device=device,
                      checkpoint_dir=folder, progress=True)
    train = DataLoader(data["X_train"], data["y_train"], batch_size, shuffle=True, seed=0,
                       transform=transform)
    val = DataLoader(data["X_val"], data["y_val"], 256)
    history = trainer.fit(train, val, epochs=epochs)
    trainer.load_checkpoint(folder / "best.npz")
    scores = predict(trainer.model, data["X_test"], device=device)
    test_acc = float((scores.argmax(axis=1) == data["y_test"]).mean())
    seconds = time.perf_counter() - start
    plot_history(history, title=f"{name}: training").savefig(folder / "loss_curve.png", dpi=100)
    plot_confusion(data["y_test"], scores.argmax(axis=1), data["classes"],
                   title=f"{name}: test set").savefig(folder / "confusion_matrix.png", dpi=100)
    print(f"{name}: test accuracy {test_acc:.2%} on {len(data['y_test'])} images "
          f"({seconds:.1f} s); figures and best.npz in {folder}/")
    return test_acc


def tour_mlp(out, device="cpu"):
    """An MLP on the 8x8 digits (lectures 1-2)."""
    model = mlp(64, (256, 128), 10, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
    epochs = 40
    return train_classifier("mlp", model, load_digits(), optimizer, epochs, out, device,
                            scheduler=optim.CosineLR(optimizer, epochs))


STEPS = {"mlp": tour_mlp}


def run_tour(models, out="runs/tour", device="cpu"):
    """Run the named steps in order; returns {name: test accuracy}."""
    unknown = [m for m in models if m not in STEPS]
    if unknown:
        raise ValueError(f"unknown tour step(s) {unknown}; choose from {list(STEPS)}")
    return {name: STEPS[name](out, device) for name in models}
