"""``course tour``: train the course's models on the bundled data and save what they learned.

Each step trains one model, prints its test accuracy and time, and saves a loss curve, a
confusion matrix and the best checkpoint under the output folder.
"""

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from course import ops, optim  # noqa: E402
from course.data import (  # noqa: E402
    DataLoader,
    crop,
    crop_and_flip,
    load_digits,
    load_shape_captions,
    load_shape_scenes,
    load_shapes,
)
from course.metrics import caption_bleu, mean_iou, pixel_accuracy  # noqa: E402
from course.models import CaptioningModel, lenet5, mlp, small_resnet, unet  # noqa: E402
from course.train import Trainer, predict, train_captioner  # noqa: E402
from course.viz import plot_confusion, plot_history, show_images  # noqa: E402
from course.viz.segmentation import show_masks  # noqa: E402


def train_classifier(name, model, data, optimizer, epochs, out, device="cpu", batch_size=64,
                     scheduler=None, transform=None):
    """Train ``model`` on ``data`` (a load_* dict), save figures; returns the test accuracy
    (no lecture: ``course tour``)."""
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


def tour_lenet5(out, device="cpu"):
    """LeNet-5 on the digits upsampled to 32x32, with random shifts of up to 2 pixels
    (lectures 3-4)."""
    model = lenet5(input_size=32, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    epochs = 30
    return train_classifier("lenet5", model, load_digits(size=32), optimizer, epochs, out,
                            device, scheduler=optim.CosineLR(optimizer, epochs),
                            transform=crop(2))


def tour_resnet(out, device="cpu"):
    """The small ResNet (batch norm, residual blocks) on the generated coloured shapes
    (lectures 5-6)."""
    data = load_shapes(n_train=8000, n_val=1000, n_test=2000, seed=0)
    model = small_resnet(num_classes=4, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=2e-3)
    epochs = 6
    return train_classifier("small_resnet", model, data, optimizer, epochs, out, device,
                            scheduler=optim.CosineLR(optimizer, epochs),
                            transform=crop_and_flip(2))


def tour_captioning(out, device="cpu"):
    """The LSTM captioning model on generated scenes; prints corpus BLEU on held-out images
    and saves some test images with their captions (lectures 7-8)."""
    start = time.perf_counter()
    folder = Path(out) / "captioning"
    folder.mkdir(parents=True, exist_ok=True)
    data = load_shape_captions(n_train=10000, n_val=0, n_test=500, seed=0)
    model = CaptioningModel(data["word_to_idx"], wordvec_dim=64, hidden_dim=128, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=2e-3, clip_norm=5.0)
    result = train_captioner(model, optimizer, data, epochs=6, seed=0, device=device)
    bleu, hypotheses, _ = caption_bleu(model, data["test_images"], data["test_captions"],
                                       data["test_image_idxs"], data["idx_to_word"],
                                       device=device)
    titles = ["\n".join(_wrap(hypotheses[i])) for i in range(8)]
    show_images(data["test_images"][:8], titles, ncols=4, scale=2.2).savefig(
        folder / "test_captions.png", dpi=100)
    print(f"captioning: test BLEU-1..4 {' '.join(f'{b:.3f}' for b in bleu)} on "
          f"{len(data['test_images'])} images after {result['steps']} steps "
          f"({time.perf_counter() - start:.1f} s); captioned test images in {folder}/")
    return bleu[3]


def tour_unet(out, device="cpu"):
    """A small U-Net segmenting generated scenes (lecture 6c's model and training); prints the
    mean IoU and pixel accuracy on held-out scenes and saves some predicted masks."""
    start = time.perf_counter()
    folder = Path(out) / "unet"
    folder.mkdir(parents=True, exist_ok=True)
    data = load_shape_scenes(n_train=2000, n_val=0, n_test=500, seed=0)
    model = unet(widths=(8, 16, 32), convs=2, rng=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    epochs = 10
    trainer = Trainer(model, optimizer, loss_fn=ops.pixel_softmax_loss,
                      scheduler=optim.CosineLR(optimizer, epochs), device=device, progress=True)
    trainer.fit(DataLoader(data["X_train"], data["y_train"], 16, shuffle=True, seed=0),
                epochs=epochs)
    masks = predict(model, data["X_test"], device=device).argmax(axis=1)
    classes = len(data["classes"])
    iou = mean_iou(masks, data["y_test"], classes)
    accuracy = pixel_accuracy(masks, data["y_test"], classes)
    show_masks(data["X_test"][:8], masks[:8], data["classes"], truth=data["y_test"][:8],
               ncols=8).savefig(folder / "test_masks.png", dpi=100)
    print(f"unet: test mean IoU {iou:.3f}, pixel accuracy {accuracy:.2%} on "
          f"{len(data['X_test'])} scenes ({time.perf_counter() - start:.1f} s); "
          f"predicted masks in {folder}/")
    return iou


def _wrap(words, width=4):
    """A caption cut into lines of ``width`` words, for figure titles."""
    return [" ".join(words[i:i + width]) for i in range(0, len(words), width)]


STEPS = {"mlp": tour_mlp, "lenet5": tour_lenet5, "resnet": tour_resnet,
         "captioning": tour_captioning, "unet": tour_unet}


def run_tour(models, out="runs/tour", device="cpu"):
    """Run the named steps in order; returns {name: test accuracy (BLEU-4 for captioning,
    mean IoU for unet)}
    (no lecture: ``course tour``)."""
    unknown = [m for m in models if m not in STEPS]
    if unknown:
        raise ValueError(f"unknown tour step(s) {unknown}; choose from {list(STEPS)}")
    return {name: STEPS[name](out, device) for name in models}
