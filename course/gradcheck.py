"""Numerical gradients and gradient checks (lecture 2, backprop; used by tests and grading).

A gradient check compares the gradient an op's ``backward`` returns with a central-difference
estimate ``(f(x + h) - f(x - h)) / 2h``. Everything runs in float64, where a correct backward
pass agrees with the estimate to about 1e-8 and a wrong one is off by 1e-2 or more.
"""

import inspect

import numpy as np

from course.backend import to_host


class GradientCheckError(AssertionError):
    """Raised when an analytic gradient disagrees with the numerical one (lecture 2)."""


def rel_error(a, b):
    """Largest absolute difference relative to the larger array's magnitude (lecture 2).

    ``max|a - b| / max(max|a|, max|b|)``: 0 for identical arrays, about 1e-8 or less for a
    correct float64 gradient against a numerical one, 1e-2 or more for a bug. Unlike an
    element-by-element ratio it is not fooled by entries that are zero up to rounding.
    """
    a = np.asarray(to_host(a), dtype=np.float64)
    b = np.asarray(to_host(b), dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error needs equal shapes, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-12)
    return float(np.abs(a - b).max() / scale)


def numerical_gradient(f, x, h=1e-6):
    """Gradient of the scalar ``f()`` with respect to the array ``x`` (lecture 2).

    ``f`` takes no arguments and reads ``x``, which is perturbed in place one entry at a time
    and restored afterwards. Returns an array shaped like ``x``.
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(*x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = float(f())
        x[index] = original - h
        f_minus = float(f())
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-6):
    """Gradient of ``sum(f() * dout)`` with respect to ``x``: a numerical backward (lecture 2).

    ``f`` returns an array (or a tuple of arrays, with ``dout`` a matching tuple).
    """
    douts = dout if isinstance(dout, (tuple, list)) else (dout,)

    def weighted_sum():
        outs = f()
        outs = outs if isinstance(outs, (tuple, list)) else (outs,)
        pairs = zip(outs, douts, strict=True)
        return sum(np.sum(np.asarray(o, dtype=np.float64) * d) for o, d in pairs)

    return numerical_gradient(weighted_sum, x, h)


def _describe_mismatch(name, analytic, numerical, error, tol):
    diff = np.abs(analytic - numerical)
    worst = np.unravel_index(np.argmax(diff), diff.shape) if diff.size else ()
    return (
        f"gradient of '{name}' is wrong: relative error {error:.1e} (a correct one is below "
        f"{tol:.0e}); largest difference at index {tuple(int(i) for i in worst)}: "
        f"your backward gives {analytic[worst]:.6g}, the numerical gradient is "
        f"{numerical[worst]:.6g}"
    )


def _as_float64(value):
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value.astype(np.float64)
    return value


def check_op(forward, backward, inputs, params=None, wrt=None, seed=0, h=1e-6, tol=1e-6,
             verbose=False):
    """Check every gradient that ``backward`` returns against numerical gradients (lecture 2).

    Args:
        forward: ``forward(*inputs, **params) -> (out, cache)``; ``out`` may be a tuple.
        backward: ``backward(dout, cache) -> grad`` or a tuple of grads, one per input in ``wrt``.
        inputs: the positional arguments of ``forward``; floating arrays are copied to float64.
        params: keyword arguments of ``forward`` (stride, padding, ...).
        wrt: positions in ``inputs`` that ``backward`` returns gradients for, in order; by default
            every floating-point array.
        seed: seeds the random upstream gradient ``dout``.
        h: finite-difference step. tol: largest relative error accepted.
        verbose: print one line per gradient.

    Returns:
        dict mapping each checked input's name to its relative error.

    Raises:
        GradientCheckError: naming the wrong gradient, its error, and the worst entry.
    """
    params = dict(params or {})
    inputs = [_as_float64(v) for v in inputs]
    names = _input_names(forward, len(inputs))
    if wrt is None:
        wrt = [i for i, v in enumerate(inputs)
               if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)]

    def run_forward():
        return forward(*inputs, **params)[0]

    out, cache = forward(*inputs, **params)
    rng = np.random.default_rng(seed)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    douts = tuple(rng.standard_normal(np.shape(o)) for o in outs)
    dout = douts if isinstance(out, (tuple, list)) else douts[0]
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, (tuple, list)) else (grads,)
    expected = ", ".join(names[i] for i in wrt)
    if len(grads) != len(wrt):
        raise GradientCheckError(
            f"backward returned {len(grads)} gradient(s); expected {len(wrt)}, one for each of: "
            f"{expected}")

    errors = {}
    for i, grad in zip(wrt, grads, strict=True):
        name = names[i]
        if grad is None or np.shape(grad) != np.shape(inputs[i]):
            got = None if grad is None else np.shape(grad)
            raise GradientCheckError(
                f"gradient of '{name}' has shape {got}, but '{name}' has shape "
                f"{np.shape(inputs[i])}")
        grad = np.asarray(to_host(grad), dtype=np.float64)
        numerical = numerical_gradient_array(run_forward, inputs[i], dout, h)
        errors[name] = rel_error(grad, numerical)
        if verbose:
            print(f"d{name}: relative error {errors[name]:.2e}")
        if not errors[name] <= tol:
            raise GradientCheckError(_describe_mismatch(name, grad, numerical, errors[name], tol))
    return errors


def check_loss(loss_fn, scores, *args, h=1e-6, tol=1e-6, verbose=False):
    """Check ``loss_fn(scores, *args) -> (loss, dscores)`` against a numerical gradient (lecture 2).

    Returns the relative error of ``dscores``; raises GradientCheckError when it exceeds ``tol``.
    """
    scores = np.array(scores, dtype=np.float64)
    _, dscores = loss_fn(scores, *args)
    numerical = numerical_gradient(lambda: loss_fn(scores, *args)[0], scores, h)
    dscores = np.asarray(to_host(dscores), dtype=np.float64)
    if dscores.shape != scores.shape:
        raise GradientCheckError(
            f"gradient of 'scores' has shape {dscores.shape}, but 'scores' has shape "
            f"{scores.shape}")
    error = rel_error(dscores, numerical)
    if verbose:
        print(f"dscores: relative error {error:.2e}")
    if not error <= tol:
        raise GradientCheckError(_describe_mismatch("scores", dscores, numerical, error, tol))
    return error


def _input_names(forward, count):
    """Names of ``forward``'s first ``count`` positional parameters, for error messages."""
    try:
        parameters = list(inspect.signature(forward).parameters)
    except (TypeError, ValueError):
        parameters = []
    names = parameters[:count]
    return names + [f"input{i}" for i in range(len(names), count)]
