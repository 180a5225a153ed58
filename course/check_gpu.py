"""``python -m course.check_gpu``: the one command that verifies the GPU backend (lecture 9).

On a machine with CuPy and a CUDA device it checks, printing one PASS or FAIL line per check:

1. kernels: every kernel of ``course.kernels.gpu`` against ``course.kernels.reference`` on the
   host copy of random inputs (odd sizes, strides, padding, batch of 1), float64 and float32;
2. gradients: every op of ``course.ops`` in float64 with its inputs on the GPU;
3. training: one epoch of LeNet-5 on the 32x32 digits, on the CPU and on the GPU from one seed;
4. speed (unless ``--no-bench``): the conv table of ``benchmarks/bench_conv.py --device cuda``,
   the device's memory bandwidth, and training throughput, GPU vs Numba CPU: LeNet-5 and the
   LSTM layer of ``benchmarks/bench_lstm.py`` (run it from the repository root).

Without CuPy or a CUDA device it says what is missing and exits 0. Exit status 1 if a check
failed. The checks take the kernel set and the device as arguments, so that the tests can run
them on the CPU with the Numba kernels standing in for the GPU ones.

``--record FILE`` also writes the run to FILE as JSON, a few KB (lecture 9 draws the recorded
GPU run from ``lectures/data/09_gpu_run.json``); it needs the speed section. The fields:

    gpu, cuda_runtime, cupy    the GPU's model name, CUDA runtime version ("12.8"), CuPy version
    date                       when the run started, ISO 8601 in UTC
    checks                     sections 1-3: [{"label", "ok", "detail"}], one per PASS/FAIL line
    lenet5_losses              section 3: {"cpu": [loss per step], "gpu": [loss per step]}
    matmul_gflops              float32 2048^3 matrix product on the GPU, GFLOP/s
    copy_gbps                  copy of 256 MiB on the GPU, GB/s (bytes read + bytes written)
    conv                       [{"layer", "flops", "course_ms", "torch_ms"}] per layer of
                               ``course.roofline.CONV_LAYERS``, forward + backward; torch_ms is
                               null without PyTorch CUDA
    lenet5_images_per_s        {"cpu": Numba CPU, "gpu": GPU}: training, batch 64
    lstm_sequences_per_s       {"cpu", "gpu"}: forward + backward of the LSTM layer
    lstm_shape                 [N, T, D, H] of that layer
"""

import argparse
import datetime
import functools
import inspect
import itertools
import json
import time
from pathlib import Path

import numpy as np

from course import ops, optim
from course.backend import (
    array_module_for,
    describe_device,
    require_cupy,
    synchronize,
    to_device,
    to_host,
)
from course.data import DataLoader, load_digits
from course.gradcheck import check_loss, check_op, rel_error
from course.kernels import reference
from course.kernels.shapes import conv_output_size
from course.models import lenet5
from course.roofline import CONV_LAYERS, copy_gbps, median_time
from course.train import Trainer

TOLERANCE = {np.float64: 1e-10, np.float32: 1e-5}  # largest rel_error against the reference
GRAD_TOLERANCE = 1e-6                             # float64 gradient checks, as in the tests
LOSS_STEPS_COMPARED = 10                          # LeNet-5 steps whose losses must agree
LOSS_TOLERANCE = 1e-3                             # on those steps (float32 training)


def report(ok, label, detail=""):
    """Print one PASS/FAIL line; return the result ``{"label", "ok", "detail"}`` (GPU backend)."""
    print(f"{'PASS' if ok else 'FAIL'}  {label}  {detail}".rstrip(), flush=True)
    return {"label": label, "ok": bool(ok), "detail": detail}


def checked(label, check):
    """Run ``check() -> (ok, detail)`` and return its result; an exception is a FAIL that names
    it (GPU backend)."""
    try:
        ok, detail = check()
    except Exception as error:  # a broken kernel must not stop the other checks
        ok, detail = False, f"raised {type(error).__name__}: {error}"
    return report(ok, label, detail)


def passed(results):
    """True when every result ``{"label", "ok", "detail"}`` is ok (GPU backend)."""
    return all(result["ok"] for result in results)


def on(device, value):
    """``value`` with its arrays moved to ``device`` (tuples and dicts such as batch-norm state)
    (GPU backend)."""
    if isinstance(value, np.ndarray):
        return to_device(value, device)
    if isinstance(value, (tuple, list)):
        return type(value)(on(device, v) for v in value)
    if isinstance(value, dict):
        return {key: on(device, v) for key, v in value.items()}
    return value


def host(value):
    """``value`` (an array or a tuple of arrays) copied to numpy (GPU backend)."""
    if isinstance(value, (tuple, list)):
        return tuple(to_host(v) for v in value)
    return to_host(value)


# -- 1. kernels against the reference --------------------------------------------------------

def kernel_names():
    """The kernel functions of ``course.kernels.reference`` (GPU backend): every kernel set has
    these names."""
    return sorted(name for name, value in vars(reference).items()
                  if inspect.isfunction(value) and not name.startswith("_"))


# (N, C, H, W, F, kernel, stride, padding) and (N, C, H, W, kernel, stride): odd, strided, N = 1
CONV_GEOMETRIES = [(1, 3, 7, 9, 4, (3, 3), (1, 1), (1, 1)),
                   (2, 2, 8, 5, 3, (3, 2), (2, 2), (0, 1)),
                   (3, 1, 11, 6, 2, (5, 3), (2, 1), (2, 0))]
POOL_GEOMETRIES = [(1, 2, 7, 9, (2, 2), (2, 2)),
                   (2, 3, 8, 5, (3, 2), (1, 2)),
                   (3, 1, 6, 6, (3, 3), (3, 3))]
NORM_SHAPES = [(1, 3, 7), (5, 4, 1), (2, 3, 10)]  # (N, C, L)
LSTM_SHAPES = [(1, 3), (4, 5)]                      # (N, H)
# (N, C, H, W, F, kernel, stride, padding, dilation, groups): dilated and grouped convolutions
GENERAL_CONV_GEOMETRIES = [(2, 4, 9, 8, 6, (3, 2), (2, 1), (1, 2), (2, 1), 2),
                           (1, 3, 7, 7, 3, (3, 3), (1, 2), (2, 0), (1, 3), 3)]
ACTIVATION_SHAPES = [(1,), (7, 3), (2, 3, 5, 5)]    # any shape: odd sizes, 1 value
CONCAT_SHAPES = [(1, (1, 2), ()), (3, (2, 1, 4), (5, 3))]  # (N, channel sizes, trailing axes)


def kernel_cases(rng, dtype):
    """``{kernel name: [argument tuples]}`` of host arrays in ``dtype`` for every kernel
    (GPU backend)."""
    def normal(*shape):
        return rng.standard_normal(shape).astype(dtype)

    cases = {}
    for n, c, h, w, f, k, s, p in CONV_GEOMETRIES:
        x, weight = normal(n, c, h, w), normal(f, c, *k)
        dout = normal(n, f, conv_output_size(h, k[0], s[0], p[0]),
                      conv_output_size(w, k[1], s[1], p[1]))
        cases.setdefault("conv2d_forward", []).append((x, weight, normal(f), s, p))
        cases.setdefault("conv2d_backward_data", []).append((dout, weight, (h, w), s, p))
        cases.setdefault("conv2d_backward_weight", []).append((dout, x, k, s, p))
        cases.setdefault("conv2d_backward", []).append((dout, x, weight, s, p))
    for n, c, h, w, f, k, s, p, d, g in GENERAL_CONV_GEOMETRIES:
        x, weight = normal(n, c, h, w), normal(f, c // g, *k)
        dout = normal(n, f, conv_output_size(h, (k[0] - 1) * d[0] + 1, s[0], p[0]),
                      conv_output_size(w, (k[1] - 1) * d[1] + 1, s[1], p[1]))
        cases.setdefault("conv2d_general_forward", []).append((x, weight, normal(f), s, p, d, g))
        cases.setdefault("conv2d_general_backward_data", []).append(
            (dout, weight, (h, w), s, p, d, g))
        cases.setdefault("conv2d_general_backward_weight", []).append((dout, x, k, s, p, d, g))
    for n, c, h, w, k, s in POOL_GEOMETRIES:
        x = normal(n, c, h, w)
        out, argmax = reference.max_pool2d_forward(x, k, s)
        dout = normal(*out.shape)
        cases.setdefault("max_pool2d_forward", []).append((x, k, s))
        cases.setdefault("max_pool2d_backward", []).append((dout, argmax, (h, w), k, s))
        cases.setdefault("avg_pool2d_forward", []).append((x, k, s))
        cases.setdefault("avg_pool2d_backward", []).append((dout, (h, w), k, s))
    for shape in NORM_SHAPES:
        x, dout = normal(*shape) * 2 + 1, normal(*shape)
        gamma, beta = normal(shape[1]), normal(shape[1])
        mean, inv_std = normal(shape[1]), rng.uniform(0.5, 2, shape[1]).astype(dtype)
        cases.setdefault("batchnorm_train_forward", []).append((x, gamma, beta, 1e-5))
        cases.setdefault("batchnorm_eval_forward", []).append((x, mean, inv_std, gamma, beta))
        cases.setdefault("batchnorm_backward", []).extend(
            (dout, x, mean, inv_std, gamma, train) for train in (True, False))
    for p in (0.0, 0.3, 0.8):
        x = normal(64, 33)
        cases.setdefault("dropout_forward", []).append((x, p, 7))  # 7 seeds a fresh Generator
        cases.setdefault("dropout_backward", []).append((normal(64, 33), x > 0, p))
    for shape in ACTIVATION_SHAPES:
        x = normal(*shape) * 3
        cases.setdefault("gelu_forward", []).append((x,))
        cases.setdefault("gelu_backward", []).append((normal(*shape), x))
        cases.setdefault("silu_forward", []).append((x,))
        cases.setdefault("silu_backward", []).append((normal(*shape), x))
        cases.setdefault("relu_forward", []).append((x,))
        cases.setdefault("relu_backward", []).append((normal(*shape), x))
    for n, sizes, rest in CONCAT_SHAPES:
        parts = [normal(n, c, *rest) for c in sizes]
        cases.setdefault("channel_concat", []).append((parts,))
        cases.setdefault("channel_split", []).append((normal(n, sum(sizes), *rest), sizes))
    for n, h in LSTM_SHAPES:
        a, prev_c = normal(n, 4 * h) * 2, normal(n, h)
        _, _, gates, tanh_c = reference.lstm_cell_forward(a, prev_c)
        cases.setdefault("lstm_cell_forward", []).append((a, prev_c))
        cases.setdefault("lstm_cell_backward", []).append(
            (normal(n, h), normal(n, h), prev_c, gates, tanh_c))
    return cases


def compare_kernel(kernels, device, name, args):
    """Largest rel_error between ``kernels.name`` on ``device`` and the reference on the host
    (GPU backend)."""
    expected = getattr(reference, name)(*args)
    got = getattr(kernels, name)(*on(device, args))
    expected = tuple(expected) if isinstance(expected, (tuple, list)) else (expected,)
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    if len(got) != len(expected):
        raise ValueError(f"returned {len(got)} arrays, the reference {len(expected)}")
    for g, e in zip(got, expected, strict=True):
        if g.shape != e.shape or g.dtype != e.dtype:
            raise ValueError(f"returned {g.dtype} {g.shape}, the reference {e.dtype} {e.shape}")
    return max(rel_error(host(g), e) for g, e in zip(got, expected, strict=True))


def compare_dropout(kernels, device, name, args):
    """The fast kernel draws its own mask (GPU backend): check its output against the reference's
    scaling of ``x`` through that same mask, and that it keeps about a fraction 1 - p of the
    values."""
    x, p, seed = args
    out, keep = host(kernels.dropout_forward(on(device, x), p, np.random.default_rng(seed)))
    kept, spread = keep.mean(), 5 * np.sqrt(p * (1 - p) / x.size) + 1e-12
    if abs(kept - (1 - p)) > spread:
        raise ValueError(f"kept {kept:.3f} of the values, expected {1 - p:.3f} +- {spread:.3f}")
    return rel_error(out, reference.dropout_backward(x, keep, p))


COMPARE = {"dropout_forward": compare_dropout}  # the others: compare_kernel


def check_kernels(kernels, device, seed=0):
    """Section 1 (GPU backend): every kernel against the reference in float64 and float32; returns
    the results."""
    results = []
    for dtype in (np.float64, np.float32):
        cases = kernel_cases(np.random.default_rng(seed), dtype)
        for name in kernel_names():
            def check(name=name, cases=cases, dtype=dtype):
                compare = COMPARE.get(name, compare_kernel)
                error = max(compare(kernels, device, name, args) for args in cases[name])
                return error <= TOLERANCE[dtype], f"rel error {error:.1e}"
            results.append(checked(f"kernel {name} {np.dtype(dtype).name}", check))
    return results


# -- 2. gradient checks on the device --------------------------------------------------------

def check_op_on(device, forward, backward, inputs, params=None):
    """``check_op`` with every forward and backward pass run on ``device`` (GPU backend).

    The inputs stay on the host, where ``check_op`` perturbs them in place; each forward pass
    gets a fresh device copy and hands its outputs back to the host.
    """
    @functools.wraps(forward)  # keeps the parameter names for check_op's messages
    def forward_on_device(*args, **kwargs):
        out, cache = forward(*on(device, args), **kwargs)
        return host(out), cache

    def backward_on_device(dout, cache):
        return backward(on(device, dout), cache)

    return check_op(forward_on_device, backward_on_device, inputs, params, tol=GRAD_TOLERANCE)


def check_loss_on(device, loss_fn, scores, *args):
    """``check_loss`` with every call of ``loss_fn`` run on ``device`` (GPU backend)."""
    def loss_on_device(s, *rest):
        loss, dscores = loss_fn(*on(device, (s, *rest)))
        return float(loss), to_host(dscores)

    return check_loss(loss_on_device, scores, *args, tol=GRAD_TOLERANCE)


def op_cases(rng):
    """``[(label, forward, backward, inputs, params)]`` in float64 (GPU backend): every op of
    ``course.ops``."""
    def normal(*shape):
        return rng.standard_normal(shape)

    def away_from_zero(*shape):  # no input near the kink of ReLU and friends
        return rng.uniform(0.1, 1, shape) * rng.choice([-1, 1], shape)

    def tie_free(*shape):  # distinct values one apart: no ties in max pooling
        return rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2

    def bn_state(c):
        state = ops.batchnorm_state(c, np.float64)
        state["running_mean"][:], state["running_var"][:] = normal(c), rng.uniform(0.5, 2, c)
        return state

    n, t, d, h = 2, 4, 3, 5
    lstm = [normal(n, t, d), normal(n, h), normal(d, 4 * h) * .5, normal(h, 4 * h) * .5,
            normal(4 * h) * .5]
    rnn = [*lstm[:2], lstm[2][:, :h], lstm[3][:, :h], lstm[4][:h]]
    cases = [("linear", [normal(3, 4), normal(4, 5), normal(5)], {}),
             ("relu", [away_from_zero(3, 4)], {}),
             ("sigmoid", [normal(3, 4)], {}),
             ("tanh", [normal(3, 4)], {}),
             ("leaky_relu", [away_from_zero(3, 4)], {"alpha": 0.1}),
             ("elu", [away_from_zero(3, 4)], {"alpha": 1.7}),
             ("gelu", [normal(3, 4)], {}),
             ("silu", [normal(3, 4)], {}),
             ("layernorm", [normal(4, 5) * 2 + 1, normal(5), normal(5)], {"eps": 1e-3}),
             ("dropout", [normal(3, 4, 5), 0.3], {"rng": 7}),
             ("conv2d", [normal(2, 3, 7, 6), normal(4, 3, 3, 2), normal(4)],
              {"stride": (2, 1), "padding": 1}),
             ("conv1d", [normal(2, 3, 9), normal(4, 3, 3), normal(4)],
              {"stride": 2, "padding": 1}),
             ("concat", [normal(2, 1, 3), normal(2, 2, 3), normal(2, 3, 3)], {}),
             ("split", [normal(2, 6, 3), [1, 2, 3]], {}),
             ("conv_transpose2d", [normal(2, 3, 4, 3), normal(3, 2, 3, 3), normal(2)],
              {"stride": 2, "padding": (1, 0)}),
             ("conv2d_general", [normal(2, 4, 7, 6), normal(6, 2, 3, 2), normal(6)],
              {"stride": (2, 1), "padding": 1, "dilation": (1, 2), "groups": 2}),
             ("conv_transpose2d_general", [normal(2, 3, 4, 3), normal(3, 2, 3, 3), normal(2)],
              {"stride": 2, "padding": (1, 0), "output_padding": (1, 0)}),
             ("max_pool2d", [tie_free(1, 2, 7, 5)], {"size": 3, "stride": 2}),
             ("avg_pool2d", [normal(2, 2, 5, 6)], {"size": (3, 1), "stride": 1}),
             ("global_avg_pool2d", [normal(2, 3, 5, 4)], {}),
             ("embedding", [np.array([[0, 2, 2, 4], [4, 4, 1, 0]]), normal(6, 3)], {}),
             ("temporal_linear", [normal(2, 5, 4), normal(4, 3), normal(3)], {}),
             ("rnn_step", [lstm[0][:, 0], *rnn[1:]], {}),
             ("rnn", rnn, {}),
             ("lstm_step", [lstm[0][:, 0], lstm[1], normal(n, h), *lstm[2:]], {}),
             ("lstm", lstm, {}),
             ("lstm_states", [*lstm[:2], normal(n, h), *lstm[2:]], {})]
    for train in (True, False):
        cases.append(("batchnorm", [normal(6, 4), normal(4), normal(4), bn_state(4)],
                      {"train": train}))
        cases.append(("spatial_batchnorm", [normal(3, 2, 4, 5), normal(2), normal(2),
                                            bn_state(2)], {"train": train}))
    return [(name, getattr(ops, f"{name}_forward"), getattr(ops, f"{name}_backward"), inputs,
             params) for name, inputs, params in cases]


def loss_cases(rng):
    """``[(loss function, scores, *other arguments)]`` in float64 (GPU backend): every ``*_loss``
    op."""
    mask = np.arange(6)[None, :] < np.array([[6], [3], [1]])  # captions of different lengths
    return [(ops.softmax_loss, rng.standard_normal((6, 5)), rng.integers(0, 5, 6)),
            (ops.svm_loss, rng.standard_normal((6, 5)), rng.integers(0, 5, 6)),
            (ops.mse_loss, rng.standard_normal((4, 3)), rng.standard_normal((4, 3))),
            (ops.temporal_softmax_loss, rng.standard_normal((3, 6, 7)),
             rng.integers(0, 7, (3, 6)), mask),
            (ops.pixel_softmax_loss, rng.standard_normal((2, 4, 3, 5)),
             rng.integers(0, 4, (2, 3, 5)))]


def check_gradients(device, seed=0):
    """Section 2 (GPU backend): gradient-check every op and loss in float64 on ``device``; returns
    the results."""
    rng = np.random.default_rng(seed)
    results = []
    for name, forward, backward, inputs, params in op_cases(rng):
        def check(forward=forward, backward=backward, inputs=inputs, params=params):
            errors = check_op_on(device, forward, backward, inputs, params)
            return True, f"largest rel error {max(errors.values()):.1e}"
        label = f"gradient {name}" + (f" train={params['train']}" if "train" in params else "")
        results.append(checked(label, check))
    for loss_fn, *args in loss_cases(rng):
        results.append(checked(f"gradient {loss_fn.__name__}", lambda loss_fn=loss_fn, args=args: (
            True, f"rel error {check_loss_on(device, loss_fn, *args):.1e}")))
    return results


# -- 3. LeNet-5 training, CPU against GPU ----------------------------------------------------

def lenet_epoch(device, steps=None, seed=0):
    """Train LeNet-5 on the 32x32 digits for one epoch (or ``steps`` steps) on ``device``
    (GPU backend).

    Returns the per-step losses, the number of images and the seconds the steps took.
    """
    data = load_digits(size=32)
    model = lenet5(rng=seed)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=2e-3), device=device,
                      progress=False)
    loader = DataLoader(data["X_train"], data["y_train"], batch_size=64, shuffle=True, seed=seed)
    losses, images, start = [], 0, time.perf_counter()
    for xb, yb in itertools.islice(loader, steps):
        losses.append(trainer.train_step(xb, yb)[0])  # float(loss) waits for the GPU
        images += len(xb)
    return np.array(losses), images, time.perf_counter() - start


def check_training(device, steps=None, seed=0):
    """Section 3 (GPU backend): the first steps' losses on ``device`` match the CPU's.

    Returns the result and the losses, ``{"cpu": [loss per step], "gpu": [...]}`` (lists, empty
    where training raised).
    """
    losses = {"cpu": [], "gpu": []}

    def check():
        for name, on_device in (("cpu", "cpu"), ("gpu", device)):
            losses[name] = lenet_epoch(on_device, steps, seed)[0].tolist()
        cpu, gpu = np.array(losses["cpu"]), np.array(losses["gpu"])
        diff = np.abs(cpu - gpu)
        first = diff[:LOSS_STEPS_COMPARED].max()
        return first <= LOSS_TOLERANCE, (
            f"{len(diff)} steps; max |loss difference| {first:.1e} over the first "
            f"{min(len(diff), LOSS_STEPS_COMPARED)} steps, {diff.max():.1e} over all; final "
            f"loss cpu {cpu[-1]:.4f} gpu {gpu[-1]:.4f}")
    return checked("training LeNet-5 one epoch, CPU vs GPU losses", check), losses


# -- 4. speed ---------------------------------------------------------------------------------

def lenet_images_per_s(device, steps=None):
    """LeNet-5 training throughput on ``device`` in images/s (GPU backend): the second of two
    runs of ``lenet_epoch``, after the first has compiled the kernels."""
    lenet_epoch(device, steps)
    _, images, seconds = lenet_epoch(device, steps)
    return images / seconds


def lstm_sequences_per_s(device, repeats=7):
    """Forward + backward throughput on ``device`` of the LSTM layer of
    ``benchmarks/bench_lstm.py``, in sequences/s (GPU backend); imports it from the repo root."""
    from benchmarks import bench_lstm

    step = bench_lstm.course_step(*on(device, bench_lstm.lstm_inputs(*bench_lstm.SHAPE)))
    seconds = median_time(step, repeats, sync=functools.partial(synchronize, device))
    return bench_lstm.SHAPE[0] / seconds


def benchmark(device, repeats=7, layers=CONV_LAYERS, steps=None, rounds=3):
    """Section 4 (GPU backend): speed on ``device``, printed and returned as the record's speed
    fields (see the module docstring); an empty dict when ``benchmarks/`` does not import.

    ``repeats``: timed runs per measurement (median); the conv table takes the best of
    ``rounds`` such medians (``bench_conv.race``). ``layers``: the conv layers to time.
    ``steps``: LeNet-5 steps per timed run (None: one epoch).
    """
    try:
        from benchmarks import bench_conv, bench_lstm
    except ImportError:
        print("speed section skipped: benchmarks/ imports only from the repository root")
        return {}
    speed = bench_conv.run_on(device, rounds, repeats, layers)
    speed["copy_gbps"] = copy_gbps(array_module_for(device), repeats,
                                   sync=functools.partial(synchronize, device))
    print(f"\nmemory copy of 256 MiB on the device: {speed['copy_gbps']:.0f} GB/s")
    devices = {"cpu": "cpu", "gpu": device}
    speed["lenet5_images_per_s"] = {key: lenet_images_per_s(on_device, steps)
                                    for key, on_device in devices.items()}
    speed["lstm_sequences_per_s"] = {key: lstm_sequences_per_s(on_device, repeats)
                                     for key, on_device in devices.items()}
    speed["lstm_shape"] = list(bench_lstm.SHAPE)
    n, t, d, h = bench_lstm.SHAPE
    for key, name in (("cpu", "Numba CPU"), ("gpu", "GPU")):
        print(f"LeNet-5 training, batch 64, {name}: "
              f"{speed['lenet5_images_per_s'][key]:.0f} images/s")
        print(f"LSTM forward+backward N{n} T{t} D{d} H{h}, {name}: "
              f"{speed['lstm_sequences_per_s'][key]:.0f} sequences/s")
    return speed


# -- the record --------------------------------------------------------------------------------

def run_sections(kernels, device, bench=True, steps=None, repeats=7, layers=CONV_LAYERS,
                 rounds=3):
    """Sections 1-4 with ``kernels`` on ``device``, printed (GPU backend); returns the record of
    the run, the fields of the module docstring (no speed fields when ``bench`` is False).

    ``steps`` (LeNet-5 steps per run, None: one epoch), ``repeats``, ``layers`` and ``rounds``
    as in ``benchmark``. On ``"cpu"`` (the tests) the record names the processor as its GPU and has
    None for the CUDA and CuPy versions.
    """
    info = describe_device(device)
    record = {"gpu": info["name"], "cuda_runtime": info["cuda_runtime"], "cupy": info["cupy"],
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    print("== 1. GPU kernels vs the reference")
    checks = check_kernels(kernels, device)
    print("== 2. gradient checks of every op on the GPU (float64)")
    checks += check_gradients(device)
    print("== 3. LeNet-5 training, CPU vs GPU")
    training, record["lenet5_losses"] = check_training(device, steps)
    record["checks"] = checks + [training]
    if bench:
        print("== 4. speed")
        record.update(benchmark(device, repeats, layers, steps, rounds))
    return record


def write_record(path, record):
    """Write ``record`` (from ``run_sections``) to ``path`` as JSON, creating its folder
    (GPU backend)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")


def read_record(path):
    """The record written by ``--record`` (lecture 9), or None when ``path`` does not exist."""
    path = Path(path)
    return json.loads(path.read_text()) if path.exists() else None


def main(argv=None):
    """Run every check on the GPU; exit status 0 when all pass (GPU backend)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-bench", action="store_true", help="skip the speed section")
    parser.add_argument("--record", metavar="FILE",
                        help="also write the run to FILE as JSON (lecture 9 reads "
                             "lectures/data/09_gpu_run.json); needs the speed section")
    args = parser.parse_args(argv)
    try:
        require_cupy()
    except RuntimeError as missing:
        print(f"SKIPPED every GPU check: {missing}")
        return 0
    from course.kernels import gpu

    record = run_sections(gpu, "cuda", bench=not args.no_bench)
    if args.record and "conv" in record:
        write_record(args.record, record)
        print(f"record of this run written to {args.record}")
    elif args.record:
        print(f"no record written to {args.record}: it needs the speed section")
    ok = passed(record["checks"])
    print("all checks PASSED" if ok else "some checks FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
