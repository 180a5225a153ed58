"""Train the captioning model on generated shape scenes and report corpus BLEU on held-out images.

    PYTHONPATH=. python benchmarks/train_captioning.py [--seconds 280] [--threads 2] [--clock cpu]
        [--device cuda]

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
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="what --seconds counts: wall-clock, or CPU time / threads")
    args = parser.parse_args()
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ["NUMBA_NUM_THREADS"] = str(args.threads)


    from course import optim
    from course.data.captions import load_shape_captions
    from course.metrics import caption_bleu
    from course.models.captioning import CaptioningModel
    from course.train import train_captioner

    start = time.perf_counter()
    data = load_shape_captions(args.n_train, 0, args.n_test, seed=args.seed)
    print(f"generated {args.n_train} training and {args.n_test} test images "
          f"in {time.perf_counter() - start:.1f} s")
    model = CaptioningModel(data["word_to_idx"], wordvec_dim=args.wordvec_dim,
                            hidden_dim=args.hidden_dim, encoder=args.encoder,
                            encoder_dim=args.encoder_dim or (32 if args.encoder == "conv" else 256),
                            rng=args.seed)
    optimizer = optim.Adam(model.parameters(), lr=args.lr, clip_norm=5.0)

    def clock():
        if args.clock == "cpu":
            return time.process_time() / args.threads
        return time.perf_counter()

    train_start, train_cpu = clock(), time.process_time()
    result = train_captioner(model, optimizer, data, epochs=args.epochs, seconds=args.seconds,
                             batch_size=args.batch_size, seed=args.seed, clock=clock,
                             log_every=200, device=args.device)
    train_time = clock() - train_start
    train_cpu = time.process_time() - train_cpu

    test_start = time.perf_counter()
    bleu, hypotheses, refs = caption_bleu(model, data["test_images"], data["test_captions"],
                                          data["test_image_idxs"], data["idx_to_word"],
                                          beam_width=args.beam_width, device=args.device)
    for i in range(5):
        print(f"  {' '.join(hypotheses[i])!r}  (true: {' '.join(refs[i][0])!r})")
    print("test BLEU-1..4: " + "  ".join(f"{b:.3f}" for b in bleu))
    print(f"training {train_time:.0f} s by the {args.clock} clock ({train_cpu:.0f} CPU-seconds, "
          f"{result['steps']} steps), decoding "
          f"{time.perf_counter() - test_start:.1f} s, total {time.perf_counter() - start:.0f} s "
          f"on {args.threads} threads")

if __name__ == "__main__":
    main()
