"""Input validation shared by every op: clear errors at the Python boundary.

Every message names the argument, what was expected and what came, so that neither a student
nor a kernel ever meets a silently wrong shape.
"""

import numpy as np

from course.backend import get_array_module, is_cupy_array

FLOAT_DTYPES = (np.float32, np.float64)


def check_float_array(name, x, ndim=None, min_ndim=None):
    """Raise unless ``x`` is a float32/float64 numpy or CuPy array of the given rank (lecture 1)."""
    if not (isinstance(x, np.ndarray) or is_cupy_array(x)):
        raise TypeError(f"{name} must be a numpy or CuPy array, got {type(x).__name__}")
    if x.dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {x.dtype}")
    if ndim is not None and x.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {tuple(x.shape)}")
    if min_ndim is not None and x.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimensions, got shape {tuple(x.shape)}")


def check_same_dtype(**arrays):
    """Raise unless all arrays share one dtype (ops never mix float32 and float64) (lecture 1)."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{name} is {dtype}" for name, dtype in dtypes.items())
        raise TypeError(f"all arrays must share one dtype, but {listed}")


def check_same_device(**arrays):
    """Raise unless all arrays live on the same device (all numpy or all CuPy) (lecture 1)."""
    kinds = {name: ("cuda" if is_cupy_array(a) else "cpu")
             for name, a in arrays.items() if a is not None}
    if len(set(kinds.values())) > 1:
        listed = ", ".join(f"{name} on {kind}" for name, kind in kinds.items())
        raise ValueError(f"all arrays must be on one device, but {listed}")


def check_shape(name, x, expected):
    """Raise unless ``x.shape == expected`` (lecture 1)."""
    if tuple(x.shape) != tuple(expected):
        raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(x.shape)}")


def check_labels(name, y, num_samples, num_classes):
    """Raise unless ``y`` is a 1-D integer array of ``num_samples`` labels in [0, num_classes)
    (lecture 1)."""
    if not (isinstance(y, np.ndarray) or is_cupy_array(y)):
        raise TypeError(f"{name} must be an integer array, got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    if y.shape != (num_samples,):
        raise ValueError(f"{name} must have shape ({num_samples},), got {tuple(y.shape)}")
    if y.size:
        xp = get_array_module(y)
        low, high = int(xp.min(y)), int(xp.max(y))
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name} must be in [0, {num_classes}) for {num_classes} classes, "
                f"got values from {low} to {high}")


def check_positive_int(name, value):
    """Raise unless ``value`` is an int >= 1 (bool excluded) (lecture 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")


def check_nonnegative_int(name, value):
    """Raise unless ``value`` is an int >= 0 (bool excluded) (lecture 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be at least 0, got {value}")


def check_number(name, value, low=None, high=None, high_inclusive=True, low_inclusive=True):
    """Raise unless ``value`` is a real number, not NaN, in [low, high] (or an open end)
    (lecture 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if value != value:
        raise ValueError(f"{name} must be a number, got NaN")
    if low is not None and (value < low or (value == low and not low_inclusive)):
        bound = f"at least {low}" if low_inclusive else f"above {low}"
        raise ValueError(f"{name} must be {bound}, got {value}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        bound = f"at most {high}" if high_inclusive else f"below {high}"
        raise ValueError(f"{name} must be {bound}, got {value}")


def check_bool(name, value):
    """Raise unless ``value`` is True or False (lecture 1)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def check_gradient(name, dout, like, shape=None):
    """Raise unless the upstream gradient ``dout`` is an array of ``like``'s float dtype and
    device (and ``shape``, if given): an int, complex, bool or object gradient, a list or None
    never reaches the maths (lecture 2)."""
    check_float_array(name, dout)
    if dout.dtype != like.dtype:
        raise TypeError(f"{name} must have the forward input's dtype {like.dtype}, "
                        f"got {dout.dtype}")
    check_same_device(**{name: dout, "x": like})
    if shape is not None:
        check_shape(name, dout, shape)


def check_int_array(name, x, num_classes, shape=None):
    """Raise unless ``x`` is an integer array (of ``shape``) with values in [0, num_classes)
    (lecture 1)."""
    if not (isinstance(x, np.ndarray) or is_cupy_array(x)):
        raise TypeError(f"{name} must be an integer array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {x.dtype}")
    if shape is not None:
        check_shape(name, x, shape)
    if x.size:
        xp = get_array_module(x)
        low, high = int(xp.min(x)), int(xp.max(x))
        if low < 0 or high >= num_classes:
            raise ValueError(
                f"{name} must be in [0, {num_classes}), got values from {low} to {high}")


def check_int_pair(name, value, low):
    """An int or a pair of ints, each at least ``low``, as a tuple ``(a, b)`` (lecture 1).

    Window sizes, strides and paddings of 2-D layers take ``3`` to mean ``(3, 3)``.
    """
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                             for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < low:
        raise ValueError(f"{name} must be at least {low}, got {value!r}")
    return int(pair[0]), int(pair[1])
