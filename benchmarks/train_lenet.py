"""Train LeNet-5 on the digits resized to 32x32 and print the test accuracy and the time.

    PYTHONPATH=. python benchmarks/train_lenet.py                   # Adam, 30 epochs, shifts
    PYTHONPATH=. python benchmarks/train_lenet.py --no-augment --seed 1

The test split is the 360 images fixed by ``course.data.load_digits``. Augmentation moves each
training image by up to 2 pixels in each direction (zero fill).
"""

import argparse
import time

import numpy as np

from course import optim
from course.data import DataLoader, load_digits
from course.models import lenet5
from course.train import Trainer


def random_shift(xb, rng, max_shift=2):
    """Translate each image of the batch by up to ``max_shift`` pixels, filling with zeros."""
    n, _, h, w = xb.shape
    m = max_shift
    padded = np.pad(xb, ((0, 0), (0, 0), (m, m), (m, m)))
    dy, dx = rng.integers(0, 2 * m + 1, (2, n))
    return np.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_digits(size=32)
    model = lenet5(input_size=32, rng=args.seed)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    train = DataLoader(data["X_train"], data["y_train"], batch_size=args.batch_size,
                       shuffle=True, seed=args.seed,
                       transform=None if args.no_augment else random_shift)
    val = DataLoader(data["X_val"], data["y_val"], batch_size=256)
    test = DataLoader(data["X_test"], data["y_test"], batch_size=256)
    trainer = Trainer(model, optimizer, scheduler=optim.CosineLR(optimizer, args.epochs),
                      progress=False)
    wall, cpu = time.perf_counter(), time.process_time()
    history = trainer.fit(train, val, epochs=args.epochs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    _, test_acc = trainer.evaluate(test)
    errors = round((1 - test_acc) * len(data["y_test"]))
    print(f"LeNet-5, Adam lr={args.lr}, cosine schedule, {args.epochs} epochs, batch "
          f"{args.batch_size}, augment={not args.no_augment}, seed={args.seed}")
    print(f"val accuracy {history['val_acc'][-1]:.4f}, test accuracy {test_acc:.4f} "
          f"({errors} errors of {len(data['y_test'])}); training took {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU")


if __name__ == "__main__":
    main()
