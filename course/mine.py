"""The student's own library: what you write in the assignments, kept and used again (issue 13).

Each assignment notebook ends its exercises with an export cell::

    from course.mine import export
    export("a1_backprop", linear_forward, linear_backward, relu_forward, ...)

``export`` writes the source of those functions (and of the helper functions of yours that
they call) to ``<library>/a1_backprop.py``, a plain Python module in your library folder
(``~/.course/mine``, or the folder in the ``COURSE_MINE`` environment variable). The file
outlives the notebook's kernel: after a restart, in a later assignment or in your own
scripts, the functions are back with::

    from course.mine import linear_forward          # one function
    library = course.mine.load()                    # all of them: library.linear_forward

and ``with course.backend.use("mine"):`` runs every op of the library through your function
where your library has it (forward and backward both, for a pair) and through the library's
own where it does not, printing once per op which one it used; ``nn.Conv2d``, the models and
the ``Trainer`` run unchanged on top of it (see :class:`Dispatcher`).

Rules of the export:

- a function whose body still raises ``NotImplementedError`` (the released stub) is not
  exported, so an unfinished exercise falls back to the library's op;
- exporting again replaces the functions of that name in the assignment's file and keeps the
  others; an exported module starts with ``import math``, ``import numpy as np`` and
  ``from numba import njit, prange``, so put any other import inside your function;
- a Numba kernel (``@njit``, assignment 6) is exported as its Python source, decorator
  included, and compiled again when the library is loaded;
- nothing is exported while nbgrader autogrades (``NBGRADER_EXECUTION`` is set): grading reads
  only the submitted notebook, never this folder (a later assignment's checks use the
  library's reference for the earlier parts).
"""

import ast
import datetime
import importlib.util
import inspect
import os
import types

import numpy as np

GRADED = {
    "a1_backprop": ("linear_forward", "linear_backward", "relu_forward", "relu_backward",
                    "sigmoid_forward", "sigmoid_backward", "softmax_loss", "svm_loss",
                    "two_layer_loss", "sgd_momentum", "rmsprop", "adam"),
    "a2_convnets": ("conv2d_forward", "conv2d_backward", "max_pool2d_forward",
                    "max_pool2d_backward", "three_layer_convnet_loss"),
    "a3_regularization": ("dropout_forward", "dropout_backward", "batchnorm_forward",
                          "batchnorm_backward", "spatial_batchnorm_forward",
                          "spatial_batchnorm_backward"),
    "a4_captioning": ("lstm_step_forward", "lstm_step_backward", "lstm_forward",
                      "lstm_backward", "temporal_softmax_loss", "captioning_loss",
                      "sample_captions"),
    "a5_understanding": ("saliency", "occlusion_map", "fgsm", "fine_tune"),
    "a6_fast_kernels": ("im2col", "col2im_fast", "maxpool_forward", "maxpool_backward", "bias_relu",
                        "relu_gpu", "im2col_gpu"),
}
"""The graded functions of each assignment: what a student writes and exports. No lecture may
define these names (the lectures teach the maths; the code is the student's)."""

HEADER = '''"""Your library: exported from {assignment}.ipynb by course.mine.export ({date}).

Export again from the notebook rather than editing this file by hand.
"""

import math

import numpy as np
from numba import njit, prange
'''


def library_dir():
    """The folder of the student's library: ``$COURSE_MINE`` or ``~/.course/mine``."""
    return os.environ.get("COURSE_MINE") or os.path.join(os.path.expanduser("~"), ".course",
                                                         "mine")


def is_stub(source):
    """True when a function's source still raises ``NotImplementedError`` in its body (the
    released exercise, not yet written)."""
    function = ast.parse(source).body[0]
    for node in ast.walk(function):
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


def _source(function):
    return inspect.getsource(function).strip("\n") + "\n"


def _python_function(value):
    """The Python function of a Numba kernel (``@njit``), or ``value`` itself."""
    py_func = getattr(value, "py_func", None)
    return py_func if isinstance(py_func, types.FunctionType) else value


def _helpers(function, exported):
    """Functions of the notebook (same globals, not from a library) that ``function`` calls
    and that are not exported yet, found through its code's global names. Graded functions
    are exported only when named: a notebook's given layers (a2's ``linear_forward``) stay out
    of the library, where the student's own from an earlier assignment serve instead."""
    graded = {name for names in GRADED.values() for name in names}
    found = []
    names = set(function.__code__.co_names)
    for const in function.__code__.co_consts:  # names used in nested functions
        if isinstance(const, types.CodeType):
            names |= set(const.co_names)
    for name in sorted(names):
        value = _python_function(function.__globals__.get(name))
        if (isinstance(value, types.FunctionType) and name not in exported
                and name not in graded and value.__module__ == function.__module__
                and value.__globals__ is function.__globals__):
            found.append(value)
    return found


def _read_functions(path):
    """``{name: source}`` of the top-level functions of an exported module."""
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        text = f.read()
    return {node.name: ast.get_source_segment(text, node) + "\n"
            for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}


def export(assignment, *functions, quiet=False):
    """Write ``functions`` (and the notebook helpers they call) into ``<library>/<assignment>.py``.

    Args:
        assignment: the file's name, e.g. ``"a1_backprop"``.
        functions: the functions to export; stubs that still raise ``NotImplementedError``
            are skipped with a message.

    Returns:
        the names exported (an empty list while nbgrader autogrades).
    """
    if not isinstance(assignment, str) or not assignment.isidentifier():
        raise ValueError(f"assignment must be a name such as 'a1_backprop', got {assignment!r}")
    say = (lambda line: None) if quiet else print
    if os.environ.get("NBGRADER_EXECUTION"):
        say("export: nothing written while nbgrader grades this notebook")
        return []
    queue, sources, skipped = list(functions), {}, []
    while queue:
        function = _python_function(queue.pop(0))
        if not isinstance(function, types.FunctionType):
            raise TypeError(f"export takes functions, got {type(function).__name__}")
        name = function.__name__
        if name in sources or name in skipped:
            continue
        source = _source(function)
        if is_stub(source):
            skipped.append(name)
            continue
        sources[name] = source
        queue.extend(_helpers(function, set(sources) | set(skipped)))
    folder = library_dir()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{assignment}.py")
    merged = {**_read_functions(path), **sources}
    for name in skipped:
        merged.pop(name, None)  # an exercise reset to its stub falls back to the library
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    text = HEADER.format(assignment=assignment, date=date)
    text += "".join("\n\n" + merged[name] for name in merged)
    compile(text, path, "exec")  # never write a module that does not parse
    with open(path, "w") as f:
        f.write(text)
    if sources:
        say(f"export: {', '.join(sources)} -> {path}")
    if skipped:
        say(f"export: not written yet, so not exported (the library's op is used instead): "
            f"{', '.join(skipped)}")
    return list(sources)


class Library(types.SimpleNamespace):
    """The student's exported functions as attributes; ``origin[name]`` is the assignment."""

    def __init__(self, functions, origin):
        super().__init__(**functions)
        self.origin = dict(origin)

    def functions(self):
        return {name: getattr(self, name) for name in self.origin}


def load(folder=None):
    """The student's library: every ``*.py`` of the library folder, in name order (a later
    file's function of the same name wins). Each module sees the functions of the files before
    it, so a2's convnet calls a1's layers. An empty :class:`Library` when there is none."""
    folder = folder or library_dir()
    functions, origin = {}, {}
    names = sorted(f for f in os.listdir(folder) if f.endswith(".py")) \
        if os.path.isdir(folder) else []
    for filename in names:
        stem = filename[:-3]
        spec = importlib.util.spec_from_file_location(f"course_mine_{stem}",
                                                      os.path.join(folder, filename))
        module = importlib.util.module_from_spec(spec)
        vars(module).update(functions)
        spec.loader.exec_module(module)
        for name, value in list(vars(module).items()):
            if (isinstance(_python_function(value), types.FunctionType)
                    and getattr(value, "__module__", None) == module.__name__):
                functions[name], origin[name] = value, stem
    return Library(functions, origin)


def __getattr__(name):
    """``from course.mine import linear_forward``: one function of the student's library."""
    if name.startswith("__"):
        raise AttributeError(name)
    library = load()
    if name not in library.origin:
        raise AttributeError(f"{name!r} is not in your library ({library_dir()}): run the "
                             f"export cell of the assignment that defines it")
    return getattr(library, name)


# ---------------------------------------------------------------------------------------------
# use("mine"): the library's ops, each through the student's function where there is one

MULTI_OUTPUT = {"lstm_step_forward": 2}
"""Forwards with several outputs: the library returns ``((out1, out2), cache)``."""


def _is_int_pair(value):
    """True for a (height, width) pair of ints, such as a module's stride or padding."""
    return (isinstance(value, tuple) and len(value) == 2
            and all(isinstance(v, int) for v in value))


def op_pair(name):
    """``"conv2d"`` for ``conv2d_forward``/``conv2d_backward``; a loss is its own op."""
    for suffix in ("_forward", "_backward"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _cast(value, dtype):
    """Floating arrays in ``value`` (an array or nested tuples) cast to ``dtype``."""
    if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
        return value.astype(dtype, copy=False)
    if isinstance(value, (tuple, list)):
        return type(value)(_cast(v, dtype) for v in value)
    return value


def _float_dtype(values):
    for value in values:
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
            return value.dtype
        if isinstance(value, (tuple, list)):
            found = _float_dtype(value)
            if found is not None:
                return found
    return None


class Dispatcher:
    """Chooses, op by op, the student's function or the library's (``use("mine")``).

    A pair ``NAME_forward``/``NAME_backward`` is the student's when the library has both
    (mixing a student's forward with the library's backward would mix their caches); a loss
    when the library has it. The first call of each op prints the choice; ``choices`` keeps
    them (``{"conv2d": "yours (a2_convnets)", "linear": "library"}``).

    The student's results are brought to the library's conventions, so that modules and the
    Trainer work on them unchanged: outputs and gradients in the dtype of the op's input (a
    float32 model stays float32), a multi-output forward as ``((out1, out2), cache)``, the
    running statistics in a ``state`` dict in their own dtype. A module's ``(s, s)`` stride or
    padding reaches the student's function as the int ``s`` (the assignments take one int);
    a call with different sizes per direction runs the library's op.
    """

    def __init__(self, library, out=print):
        self.library = library
        self.out = out
        self.choices = {}

    def choose(self, name):
        pair = op_pair(name)
        if pair not in self.choices:
            names = (f"{pair}_forward", f"{pair}_backward") if pair != name else (name,)
            origin = self.library.origin
            if all(n in origin for n in names):
                self.choices[pair] = f"yours ({origin[names[0]]})"
            else:
                missing = [n for n in names if n not in origin]
                self.choices[pair] = "library"
                self.out(f"use('mine'): {pair}: the library's ({', '.join(missing)} not in "
                         f"your library)")
                return None
            self.out(f"use('mine'): {pair}: yours, from {origin[names[0]]}")
        return getattr(self.library, name) if self.choices[pair] != "library" else None

    def call(self, op, args, kwargs):
        """Run ``op`` (a library op) or the student's function of its name on the arguments."""
        mine = self.choose(op.__name__)
        pairs = [value for value in (*args, *kwargs.values()) if _is_int_pair(value)]
        if mine is None or any(a != b for a, b in pairs):
            return op(*args, **kwargs)  # the assignments take one int for both directions
        args = [value[0] if _is_int_pair(value) else value for value in args]
        kwargs = {key: value[0] if _is_int_pair(value) else value
                  for key, value in kwargs.items()}
        dtype = _float_dtype(args)
        states = [(s, {k: v.dtype for k, v in s.items() if isinstance(v, np.ndarray)})
                  for s in (*args, *kwargs.values()) if isinstance(s, dict)]
        result = mine(*args, **kwargs)
        for state, dtypes in states:
            for key, kind in dtypes.items():
                state[key] = np.asarray(state[key]).astype(kind, copy=False)
        if dtype is None:
            return result
        name = op.__name__
        if name.endswith("_backward"):
            return _cast(result, dtype)
        if name.endswith("_forward"):
            count = MULTI_OUTPUT.get(name, 1)
            if count > 1 and len(result) == count + 1:
                result = (tuple(result[:count]), result[count])
            out, cache = result
            return _cast(out, dtype), cache
        loss, grad = result  # a loss: (loss, dscores)
        return float(loss), _cast(grad, dtype)
