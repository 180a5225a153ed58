"""Train the captioning model on generated shape scenes and report corpus BLEU on held-out images.

    PYTHONPATH=. python benchmarks/train_captioning.py [--seconds 280] [--threads 2] [--clock cpu]

Trains with Adam until the time budget is spent (or --epochs run out), then decodes the test
images greedily and prints BLEU-1..4 against all their true captions, and the time taken.

On a machine shared with other jobs, wall-clock time says little: ``--clock cpu`` counts the
budget as the process's CPU time divided by --threads, what the wall-clock time would be on
idle cores (both figures are printed either way).
"""

import argparse
import os
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=280, help="training time budget")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-test", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--hidden-dim", type=int, default=128)
    parser.add_argument("--wordvec-dim", type=int, default=64)
    parser.add_argument("--encoder", choices=["conv", "mlp"], default="conv")
    parser.add_argument("--encoder-dim", type=int, default=None,
                        help="CNN channels (default 32) or MLP width (default 256)")
    parser.add_argument("--beam-width", type=int, default=1, help="1: greedy decoding")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="what --seconds counts: wall-clock, or CPU time / threads")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)

    import numpy as np

    from course import optim
    from course.data.captions import decode, load_shape_captions, references
    from course.metrics import corpus_bleu
    from course.models.captioning import CaptioningModel

    start = time.perf_counter()
    data = load_shape_captions(args.n_train, 0, args.n_test, seed=args.seed)
    print(f"generated {args.n_train} training and {args.n_test} test images "
          f"in {time.perf_counter() - start:.1f} s")
    model = CaptioningModel(data["word_to_idx"], wordvec_dim=args.wordvec_dim,
                            hidden_dim=args.hidden_dim, encoder=args.encoder,
                            encoder_dim=args.encoder_dim or (32 if args.encoder == "conv" else 256),
                            rng=args.seed)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, clip_norm=5.0)
    rng = np.random.default_rng(args.seed)
    captions, image_idxs = data["train_captions"], data["train_image_idxs"]
    images = data["train_images"]
    def clock():
        if args.clock == "cpu":
            return time.process_time() / args.threads
        return time.perf_counter()

    train_start, train_cpu = clock(), time.process_time()
    steps = 0
    for epoch in range(args.epochs):
        order = rng.permutation(len(captions))
        losses = []
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):
            batch = order[i:i + args.batch_size]
            loss, _ = model.loss(images[image_idxs[batch]], captions[batch])
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss)
            steps += 1
            if steps % 200 == 0:
                print(f"  step {steps}: loss {np.mean(losses[-200:]):.3f}", flush=True)
            if clock() - train_start > args.seconds:
                break
        elapsed = clock() - train_start
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}  ({steps} steps, {elapsed:.0f} s)")
        if elapsed > args.seconds:
            break
    train_time = clock() - train_start
    train_cpu = time.process_time() - train_cpu

    test_start = time.perf_counter()
    if args.beam_width == 1:
        generated = model.sample(data["test_images"], max_length=16)
    else:
        generated = model.beam_search(data["test_images"], args.beam_width, max_length=16)
    hypotheses = [s.split() for s in decode(generated, data["idx_to_word"])]
    refs = references(data["test_captions"], data["test_image_idxs"], data["idx_to_word"])
    bleu = corpus_bleu(hypotheses, refs)
    for i in range(5):
        print(f"  {' '.join(hypotheses[i])!r}  (true: {' '.join(refs[i][0])!r})")
    print("test BLEU-1..4: " + "  ".join(f"{b:.3f}" for b in bleu))
    print(f"training {train_time:.0f} s by the {args.clock} clock ({train_cpu:.0f} CPU-seconds, "
          f"{steps} steps), decoding "
          f"{time.perf_counter() - test_start:.1f} s, total {time.perf_counter() - start:.0f} s "
          f"on {args.threads} threads")


if __name__ == "__main__":
    main()
