"""Training-step speed: course against the same models in PyTorch, idle and under load.

Three models, each built the same way in both libraries (same layers, shapes, float32, SGD with
momentum 0.9), one step = forward, loss, backward, optimiser step:

- LeNet-5 on (128, 1, 32, 32) images, 10 classes (softmax loss);
- the small ResNet (``course.models.small_resnet``) on (64, 3, 32, 32) images, 4 classes;
- the captioning model (conv encoder, LSTM decoder) on 64 images and captions of 17 words
  (``course.models.captioning.CaptioningModel``, the masked temporal softmax loss).

The images' gradient is not computed in either library (course: ``backward(...,
input_grad=False)``). The libraries take turns, round after round, each keeping its fastest
round (``bench_conv.race``). The script prints the machine (CPU, vector extensions, BLAS kernel
and threads), the first step's time in a fresh process with an empty and a warm Numba cache,
and a table of steps per second (as images or sequences per second) and the time ratio.

``--under-load`` starts a busy-loop process (one core's worth of work) and compares each
step's time with it to the time without it, for course (and torch): on a 2-core machine a
step should take at most 2.5x its idle time, whatever the BLAS and Numba thread settings.

    PYTHONPATH=. python benchmarks/train_step.py
    PYTHONPATH=. python benchmarks/train_step.py --threads 1 --clock cpu   # on a busy machine
    PYTHONPATH=. python benchmarks/train_step.py --under-load
    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python benchmarks/train_step.py --under-load
"""

# course first: it sets OpenBLAS's thread timeout (and Numba's threading layer) before numpy
# and Numba load
import course as _course  # noqa: F401

# isort: split
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_conv  # noqa: E402

BATCH = {"lenet5": 128, "resnet": 64, "captioning": 64}
CAPTION_LENGTH, VOCAB, WORDVEC, HIDDEN = 17, 40, 64, 256
LR, MOMENTUM = 0.01, 0.9


# -- the models and their steps ------------------------------------------------------------------

def batch_of(name, seed=0):
    """The inputs and targets of one step of model ``name`` (numpy)."""
    rng = np.random.default_rng(seed)
    n = BATCH[name]
    if name == "lenet5":
        return rng.standard_normal((n, 1, 32, 32), dtype=np.float32), rng.integers(0, 10, n)
    images = rng.standard_normal((n, 3, 32, 32), dtype=np.float32)
    if name == "resnet":
        return images, rng.integers(0, 4, n)
    captions = rng.integers(3, VOCAB, (n, CAPTION_LENGTH))
    captions[:, 0] = 1  # <START>
    for row, end in enumerate(rng.integers(4, CAPTION_LENGTH, n)):
        captions[row, end], captions[row, end + 1:] = 2, 0  # <END>, then <NULL> padding
    return images, captions


def course_step(name):
    """One course training step of model ``name`` as a function of no arguments."""
    from course import ops, optim
    from course.models import lenet5, small_resnet
    from course.models.captioning import CaptioningModel

    images, targets = batch_of(name)
    if name == "captioning":
        model = CaptioningModel(VOCAB, wordvec_dim=WORDVEC, hidden_dim=HIDDEN, rng=0)
    else:
        model = lenet5(input_size=32, rng=0) if name == "lenet5" else small_resnet(rng=0)
    optimiser = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    def classify():
        scores = model(images)
        _, dscores = ops.softmax_loss(scores, targets)
        model.backward(dscores, input_grad=False)

    def caption():  # CaptioningModel.loss, with the encoder's backward skipping the images'
        words_in, words_out = targets[:, :-1], targets[:, 1:]
        h = model.lstm(model.embed(words_in), model.encoder(images))
        _, dscores = ops.temporal_softmax_loss(model.output(h), words_out, words_out != 0)
        model.embed.backward(model.lstm.backward(model.output.backward(dscores)))
        model.encoder.backward(model.lstm.dh0, input_grad=False)

    def step():
        optimiser.zero_grad()
        (caption if name == "captioning" else classify)()
        optimiser.step()
    return step


def torch_model(torch, name):
    """The PyTorch model that matches course's ``name``."""
    tnn = torch.nn
    if name == "lenet5":
        return tnn.Sequential(tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                              tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                              tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
                              tnn.Linear(84, 10))
    if name == "resnet":
        def conv_bn(c, f, k, s):
            return [tnn.Conv2d(c, f, k, stride=s, padding=k // 2), tnn.BatchNorm2d(f)]

        class Block(tnn.Module):
            def __init__(self, c, f, s):
                super().__init__()
                self.block = tnn.Sequential(*conv_bn(c, f, 3, s), tnn.ReLU(), *conv_bn(f, f, 3, 1))
                self.shortcut = (tnn.Sequential(*conv_bn(c, f, 1, s)) if s != 1 or c != f
                                 else tnn.Identity())

            def forward(self, x):
                return torch.relu(self.block(x) + self.shortcut(x))

        return tnn.Sequential(*conv_bn(3, 16, 3, 1), tnn.ReLU(), tnn.MaxPool2d(2),
                              Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2),
                              tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(64, 4))

    class Captioner(tnn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = tnn.Sequential(
                tnn.Conv2d(3, 16, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Conv2d(16, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
                tnn.Linear(32 * 8 * 8, HIDDEN))
            self.embed = tnn.Embedding(VOCAB, WORDVEC)
            self.lstm = tnn.LSTM(WORDVEC, HIDDEN, batch_first=True)
            self.output = tnn.Linear(HIDDEN, VOCAB)

        def forward(self, images, words):
            h0 = self.encoder(images)[None]
            h, _ = self.lstm(self.embed(words), (h0, torch.zeros_like(h0)))
            return self.output(h)

    return Captioner()


def torch_step(torch, name):
    """One PyTorch training step of model ``name`` as a function of no arguments."""
    images, targets = (torch.from_numpy(a) for a in batch_of(name))
    model = torch_model(torch, name)
    optimiser = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    functional = torch.nn.functional

    def step():
        optimiser.zero_grad()
        if name == "captioning":
            words_in, words_out = targets[:, :-1], targets[:, 1:]
            scores = model(images, words_in)
            losses = functional.cross_entropy(scores.reshape(-1, VOCAB), words_out.reshape(-1),
                                              reduction="none")
            loss = (losses * (words_out.reshape(-1) != 0)).sum() / len(images)
        else:
            loss = functional.cross_entropy(model(images), targets)
        loss.backward()
        optimiser.step()
    return step


# -- first call, table, load -------------------------------------------------------------------

def first_step_seconds():
    """Time this process's first LeNet-5 training step (Numba compiles or loads its kernels)."""
    start = time.perf_counter()
    course_step("lenet5")()
    return time.perf_counter() - start


def measure_first_steps():
    """First-step seconds in two fresh processes sharing a new, empty Numba cache directory."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    return bench_conv.measure_first_calls(__file__, env)


def steps(torch, names):
    """``{name: {"course": step, "torch": step}}`` (torch only when installed)."""
    return {name: {"course": course_step(name), **({"torch": torch_step(torch, name)}
                                                   if torch else {})}
            for name in names}


def print_speed(torch, names, rounds, repeats):
    """The table of steps per second and ratios; returns ``{name: {library: seconds}}``."""
    rows, times = [], {}
    for name, candidates in steps(torch, names).items():
        times[name] = bench_conv.race(candidates, rounds, repeats)
        course, other = times[name]["course"], times[name].get("torch")
        unit = "sequences" if name == "captioning" else "images"
        rows.append([f"{name} (batch {BATCH[name]})", bench_conv.ms(course),
                     bench_conv.ms(other), f"{BATCH[name] / course:.0f} {unit}/s",
                     "-" if other is None else f"{BATCH[name] / other:.0f} {unit}/s",
                     bench_conv.ratio(course, other)])
    bench_conv.print_table(rows, ["training step", "course ms", "torch ms", "course speed",
                                  "torch speed", "course/torch time"])
    return times


def step_times(step, count):
    """Seconds of each of ``count`` calls of ``step`` after 0.2 s of warm-up calls."""
    end = time.perf_counter() + 0.2
    while time.perf_counter() < end:
        step()
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return seconds


def busy_loop():
    """A process that keeps one core busy until it is killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def print_under_load(torch, names, count):
    """Each library's median step time idle and with a busy-loop process running, and their
    ratio (target for course: at most 2.5x on a 2-core machine); returns
    ``{(name, library): ratio}``."""
    rows, ratios = [], {}
    for name, candidates in steps(torch, names).items():
        for library, step in candidates.items():
            idle = statistics.median(step_times(step, count))
            worker = busy_loop()
            try:
                time.sleep(0.2)
                loaded_times = step_times(step, count)
            finally:
                worker.kill()
                worker.wait()
            loaded = statistics.median(loaded_times)
            ratios[name, library] = loaded / idle
            rows.append([name, library, bench_conv.ms(idle), bench_conv.ms(loaded),
                         bench_conv.ms(max(loaded_times)), f"{loaded / idle:.2f}x"])
    bench_conv.print_table(rows, ["model", "library", "idle ms", "under load ms",
                                  "worst step ms", "load/idle"])
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=list(BATCH), default=list(BATCH))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--under-load", action="store_true",
                        help="compare step times with a busy-loop process to those without")
    parser.add_argument("--steps", type=int, default=15,
                        help="steps timed idle and under load (--under-load)")
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for Numba, BLAS and torch (default: Numba's count)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall time, or this process's CPU time (steadier on a shared "
                             "machine, comparable between libraries only with --threads 1)")
    parser.add_argument("--first-call", action="store_true",
                        help="internal: time this process's first step and print it")
    args = parser.parse_args()
    if args.first_call:
        print(first_step_seconds())
        return
    torch = None if args.no_torch else bench_conv.torch_on("cpu")
    if args.threads:
        bench_conv.use_threads(args.threads, torch)
    bench_conv.CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    print(bench_conv.describe_machine())
    if torch:
        print(f"PyTorch {torch.__version__}: {torch.get_num_threads()} threads")
    if args.under_load:
        print_under_load(torch, args.models, args.steps)
        return
    cold, warm = measure_first_steps()
    print(f"first LeNet-5 training step in a fresh process: {cold:.1f} s with an empty Numba "
          f"cache (compiling), {warm:.2f} s with the cache warm\n")
    print(f"{args.clock} clock, best of {args.rounds} alternating rounds of {args.repeats} "
          f"steps")
    print_speed(torch, args.models, args.rounds, args.repeats)


if __name__ == "__main__":
    main()
