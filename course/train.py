"""The training loop (lecture 2): progress bar, history, validation, checkpoints and resume.

    trainer = Trainer(model, optim.Adam(model.parameters(), lr=1e-3), checkpoint_dir="runs/mlp")
    history = trainer.fit(train_loader, val_loader, epochs=20)
    test_loss, test_acc = trainer.evaluate(test_loader)
"""

import json
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from course import ops
from course.backend import get_array_module, to_device, to_host
from course.tensor import no_grad

HISTORY_KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


def accuracy(scores, y):
    """Fraction of rows of ``scores`` (N, C) whose argmax is the label ``y`` (N,) (lecture 2)."""
    xp = get_array_module(scores)
    return float((xp.argmax(scores, axis=1) == y).mean())


def predict(model, X, batch_size=256, device="cpu"):
    """Scores (N, C) of ``model`` in evaluation mode, in batches, as numpy (lecture 2)."""
    was_training = model.training
    model.eval()
    with no_grad():
        scores = [to_host(model(to_device(X[i:i + batch_size], device)))
                  for i in range(0, len(X), batch_size)]
    model.train(was_training)
    return np.concatenate(scores)


def train_captioner(model, optimizer, data, epochs=100, seconds=None, batch_size=50, seed=0,
                    clock=time.perf_counter, log_every=None, device="cpu"):
    """Teacher-forced training of a ``CaptioningModel`` on a ``load_shape_captions`` dict
    (lecture 8).

    Each step takes a random batch of (image, caption) pairs; training stops after ``epochs``
    epochs or once ``seconds`` of ``clock`` have passed, whichever comes first. The model is
    moved to ``device`` ("cpu" or "cuda") and so is every batch.

    Returns:
        dict with ``losses`` (one per step) and ``steps``.
    """
    model.to(device)
    rng = np.random.default_rng(seed)
    captions, image_idxs, images = (data["train_captions"], data["train_image_idxs"],
                                    data["train_images"])
    start, losses = clock(), []
    for _ in range(epochs):
        order = rng.permutation(len(captions))
        for i in range(0, len(order) - batch_size + 1, batch_size):
            batch = order[i:i + batch_size]
            optimizer.zero_grad()
            loss, _ = model.loss(to_device(images[image_idxs[batch]], device),
                                 to_device(captions[batch], device))
            optimizer.step()
            losses.append(float(loss))
            if log_every and len(losses) % log_every == 0:
                print(f"  step {len(losses)}: loss {np.mean(losses[-log_every:]):.3f}",
                      flush=True)
            if seconds is not None and clock() - start > seconds:
                return {"losses": losses, "steps": len(losses)}
    return {"losses": losses, "steps": len(losses)}


class Trainer:
    """Trains a module with an optimiser on ``loss_fn(scores, y) -> (loss, dscores)`` (lecture 2).

    Args:
        model: an ``nn.Module``; moved to ``device``.
        optimizer: an ``optim.Optimizer`` over ``model.parameters()``.
        loss_fn: defaults to the softmax cross-entropy.
        scheduler: an optional learning-rate schedule, stepped once per epoch.
        device: "cpu" or "cuda"; every batch is moved there.
        checkpoint_dir: if set, ``last.npz`` (everything needed to resume: parameters,
            optimiser, history, the loader's random state) is written after each epoch, and
            ``best.npz`` (the model's state dict alone: ``model.load_state_dict(np.load(...))``)
            whenever the validation accuracy (or, without validation, the training loss) improves.
        progress: show a tqdm progress bar (notebook-aware).
    """

    def __init__(self, model, optimizer, loss_fn=ops.softmax_loss, scheduler=None, device="cpu",
                 checkpoint_dir=None, progress=True):
        self.model = model.to(device)
        self.optimizer, self.loss_fn, self.scheduler = optimizer, loss_fn, scheduler
        self.device, self.progress = device, progress
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.history = {key: [] for key in HISTORY_KEYS}
        self.epoch = 0
        self.best = None

    def train_step(self, xb, yb):
        """One update on one batch; returns (loss, accuracy)."""
        xb, yb = to_device(xb, self.device), to_device(yb, self.device)
        scores = self.model(xb)
        loss, dscores = self.loss_fn(scores, yb)
        self.optimizer.zero_grad()
        self.model.backward(dscores)
        self.optimizer.step()
        return float(loss), self._accuracy(scores, yb)

    def evaluate(self, loader):
        """Mean loss and accuracy over ``loader`` in evaluation mode."""
        self.model.eval()
        losses, accs, counts = [], [], []
        with no_grad():
            for xb, yb in loader:
                xb, yb = to_device(xb, self.device), to_device(yb, self.device)
                scores = self.model(xb)
                losses.append(float(self.loss_fn(scores, yb)[0]))
                accs.append(self._accuracy(scores, yb))
                counts.append(len(xb))
        self.model.train()
        return _mean(losses, counts, "loader"), _mean(accs, counts, "loader")

    def fit(self, train_loader, val_loader=None, epochs=10, resume=False):
        """Train until ``epochs`` epochs are done in total; returns the history dict.

        With ``resume=True`` and a ``last.npz`` in ``checkpoint_dir``, training continues from
        the saved epoch with the saved parameters, optimiser state, history and the
        ``train_loader``'s random state (so shuffling continues as in an uninterrupted run);
        without a ``last.npz`` it starts fresh.
        """
        if resume and self._path("last").exists():
            self.load_checkpoint(self._path("last"), loader=train_loader)
        self.model.train()
        bar = tqdm(total=epochs, initial=self.epoch, desc="epochs", disable=not self.progress)
        while self.epoch < epochs:
            losses, accs, counts = [], [], []
            for xb, yb in train_loader:
                loss, acc = self.train_step(xb, yb)
                losses.append(loss)
                accs.append(acc)
                counts.append(len(xb))
            self.history["train_loss"].append(_mean(losses, counts, "train_loader"))
            self.history["train_acc"].append(_mean(accs, counts, "train_loader"))
            self.history["lr"].append(self.optimizer.lr)
            if val_loader is not None:
                val_loss, val_acc = self.evaluate(val_loader)
                self.history["val_loss"].append(val_loss)
                self.history["val_acc"].append(val_acc)
            self.epoch += 1
            if self.scheduler is not None:
                self.scheduler.step()
            self._save_checkpoints(has_val=val_loader is not None, loader=train_loader)
            bar.set_postfix({key: f"{values[-1]:.3f}" for key, values in self.history.items()
                             if values and key != "lr"})
            bar.update()
        bar.close()
        return self.history

    # -- checkpoints -------------------------------------------------------------------------

    def _path(self, name):
        if self.checkpoint_dir is None:
            raise ValueError("this Trainer has no checkpoint_dir")
        return self.checkpoint_dir / f"{name}.npz"

    def _save_checkpoints(self, has_val, loader=None):
        if self.checkpoint_dir is None:
            return
        score = self.history["val_acc"][-1] if has_val else -self.history["train_loss"][-1]
        self.save_checkpoint(self._path("last"), loader=loader)
        if self.best is None or score > self.best:
            self.best = score
            np.savez(self._path("best"), **self.model.state_dict())

    def save_checkpoint(self, path, loader=None):
        """Write parameters, buffers, optimiser state, epoch, history and, if given, the
        loader's random state to one ``.npz`` file (".npz" is added to a path without it)."""
        arrays = {f"model/{k}": v for k, v in self.model.state_dict().items()}
        optimizer_state = self.optimizer.state_dict()
        numbers = {}
        for i, slots in optimizer_state["state"].items():
            for key, value in slots.items():
                if hasattr(value, "shape"):
                    arrays[f"optim/{i}/{key}"] = to_host(value)
                else:
                    numbers[f"{i}/{key}"] = value
        groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()}
                  for g in optimizer_state["param_groups"]]
        meta = {"epoch": self.epoch, "best": self.best, "history": self.history,
                "optimizer": optimizer_state["type"], "param_groups": groups,
                "steps": optimizer_state["steps"], "optim_numbers": numbers,
                "loader_rng": _rng_state(loader)}
        arrays["meta"] = np.array(json.dumps(meta))
        path = _npz(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)

    def load_checkpoint(self, path, loader=None):
        """Restore what ``save_checkpoint`` wrote (no pickles are read), and the random state
        of ``loader`` if given. A file holding only a state dict (``best.npz``) restores the
        model alone."""
        with np.load(_npz(path), allow_pickle=False) as saved:
            if "meta" not in saved.files:
                self.model.load_state_dict(saved)
                self.model.to(self.device)
                return
            meta = json.loads(str(saved["meta"]))
            model_state = {k[len("model/"):]: saved[k] for k in saved.files
                           if k.startswith("model/")}
            state = {}
            for key in saved.files:
                if key.startswith("optim/"):
                    _, i, slot = key.split("/", 2)
                    state.setdefault(i, {})[slot] = saved[key]
        for key, value in meta["optim_numbers"].items():
            i, slot = key.split("/", 1)
            state.setdefault(i, {})[slot] = value
        # the optimiser first: a checkpoint of another rule fails before the model changes
        self.optimizer.load_state_dict({"type": meta["optimizer"], "steps": meta["steps"],
                                        "param_groups": meta["param_groups"], "state": state})
        self.model.load_state_dict(model_state)
        self.epoch, self.best, self.history = meta["epoch"], meta["best"], meta["history"]
        if loader is not None and meta.get("loader_rng") is not None:
            loader.rng.bit_generator.state = meta["loader_rng"]
        if self.scheduler is not None:
            self.scheduler.epoch = self.epoch
        self.model.to(self.device)

    def _accuracy(self, scores, y):
        if scores.ndim == 2 and y.ndim == 1:
            return accuracy(scores, y)
        return float("nan")


def _npz(path):
    """``path`` with the ".npz" suffix that ``numpy.savez`` adds (so save and load agree)."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _rng_state(loader):
    """The state of a loader's ``numpy.random.Generator`` (JSON-ready), or None."""
    rng = getattr(loader, "rng", None)
    return rng.bit_generator.state if isinstance(rng, np.random.Generator) else None


def _mean(values, counts, name):
    """Mean of per-batch values weighted by batch size; an empty loader is an error."""
    if not counts or sum(counts) == 0:
        raise ValueError(f"{name} yielded no examples")
    return float(np.average(values, weights=counts))
