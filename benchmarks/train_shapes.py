"""Train ``small_resnet`` (or ``small_vgg``) on the generated shapes set; print accuracy and time.

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/train_shapes.py [--model resnet] [--epochs 6]
        [--threads 2] [--n-train 8000]

Measured (2-vCPU machine shared with other jobs, ``--threads 1``): test accuracy 0.991 after 6
epochs on 8000 images (val 0.725, 0.856, 0.938, 0.978, 0.980, 0.987), 529 s of CPU time; an
epoch took 18-28 s of CPU when the machine was quiet. The same run with 2 threads gives the
same numbers (the run is deterministic) but, on a busy machine, Numba's and OpenBLAS's threads
wait for each other and a step can take 30x longer: use ``--threads 1`` there.
"""

import argparse
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["resnet", "vgg"], default="resnet")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--n-train", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--augment", action="store_true", help="random crops and flips")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import numba

    numba.set_num_threads(args.threads)
    from course import optim
    from course.data import DataLoader, crop_and_flip, load_shapes
    from course.models.resnet import small_resnet
    from course.models.vgg import small_vgg
    from course.train import Trainer

    start = time.perf_counter()
    data = load_shapes(n_train=args.n_train, n_val=1000, n_test=2000, seed=args.seed)
    print(f"generated {args.n_train} + 1000 + 2000 images in {time.perf_counter() - start:.1f} s",
          flush=True)

    model = (small_resnet if args.model == "resnet" else small_vgg)(num_classes=4, rng=args.seed)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    trainer = Trainer(model, optimizer, scheduler=optim.CosineLR(optimizer, args.epochs),
                      progress=False)
    train = DataLoader(data["X_train"], data["y_train"], batch_size=args.batch_size,
                       shuffle=True, seed=args.seed,
                       transform=crop_and_flip(2) if args.augment else None)
    val = DataLoader(data["X_val"], data["y_val"], batch_size=500)
    test = DataLoader(data["X_test"], data["y_test"], batch_size=500)

    start, cpu_start = time.perf_counter(), time.process_time()
    for epoch in range(1, args.epochs + 1):
        history = trainer.fit(train, val, epochs=epoch)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        print(f"epoch {epoch}: train loss {history['train_loss'][-1]:.3f}, "
              f"train acc {history['train_acc'][-1]:.3f}, val acc {history['val_acc'][-1]:.3f}, "
              f"{wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)
    _, test_acc = trainer.evaluate(test)
    print(f"small_{args.model}: test accuracy {test_acc:.4f} after {args.epochs} epochs; "
          f"training took {wall:.0f} s wall clock, {cpu:.0f} s CPU time, {args.threads} threads")


if __name__ == "__main__":
    main()
