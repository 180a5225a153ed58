"""Scoring outputs as plain data, in a process that never runs student code (``course grade``).

The worker kernel writes each test's outputs as an ``.npz`` file; here they are loaded with
``allow_pickle=False`` (so no object from the student's process is ever rebuilt), checked to be
plain numeric arrays of a reasonable size, and handed to ``CHECKS[name].judge`` together with the
inputs this process made itself. Whatever the submission patched in its own kernel (numpy, the
checks, builtins, ``__eq__``) is not here.
"""

import warnings
import zipfile

import numpy as np

from course.grading.checks import CHECKS

MAX_OUTPUT_BYTES = 256 * 2**20
NUMERIC_KINDS = "biuf"


class OutputError(ValueError):
    """The outputs file is missing, unreadable or holds something other than numeric arrays."""


def make_inputs(call):
    """The inputs of one check call (a :class:`~course.grading.notebook.CheckCall`)."""
    return CHECKS[call.name].make_inputs(call.seed, **dict(call.options))


def save_inputs(path, inputs):
    """Write a check's inputs where the worker kernel can read them."""
    np.savez(path, **inputs)


def load_outputs(path):
    """Load a test's outputs as a dict of numeric numpy arrays, never unpickling anything."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (OSError, zipfile.BadZipFile) as error:
        raise OutputError(f"no readable outputs ({error})") from None
    if size > MAX_OUTPUT_BYTES:
        raise OutputError(f"outputs larger than {MAX_OUTPUT_BYTES // 2**20} MiB")
    try:
        with np.load(path, allow_pickle=False) as data:
            outputs = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise OutputError(f"outputs are not plain arrays ({error})") from None
    for key, value in outputs.items():
        if value.dtype.kind not in NUMERIC_KINDS:
            raise OutputError(f"output '{key}' is not numeric (dtype {value.dtype})")
    return outputs


def judge(call, inputs, outputs_path):
    """Judge one check call; returns ``(passed, reason, message)``."""
    try:
        outputs = load_outputs(outputs_path)
    except OutputError as error:
        return False, "error", str(error)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = CHECKS[call.name].judge(inputs, outputs, **dict(call.options))
    except Exception as error:  # noqa: BLE001 - any failure of the comparison is a wrong answer
        return False, "error", f"{type(error).__name__}: {error}"[:500]
    return bool(result.passed), str(result.reason), str(result.message)
