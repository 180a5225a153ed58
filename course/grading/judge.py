"""Scoring outputs as plain data, in an interpreter that never runs student code (``course grade``).

The grading kernel writes each test's outputs as an ``.npz`` file; the grader copies it out of
the sandbox (:meth:`course.grading.worker.Kernel.run_test`) and, once every process of the
sandbox is gone, hands it to a JUDGE: a separate ``python -I -B`` process (:class:`Judge`,
running :func:`main`) whose import path holds only the installed environment and the course
root, none of it writable by the sandbox, and which writes no bytecode. The judge makes each
check's inputs itself from the seed, loads the outputs with strict limits (:func:`load_outputs`:
entry count, sizes, numeric dtypes, dimensions; never unpickling anything) and calls
``CHECKS[name].judge``. Whatever a submission patched in its own kernel (numpy, the checks,
builtins, ``__eq__``) or wrote to disk is not there.
"""

import io
import json
import os
import struct
import subprocess
import sys
import warnings
import zipfile

import numpy as np

MAX_OUTPUT_BYTES = 256 * 2**20
MAX_ARRAYS = 64
MAX_DIMENSIONS = 8
NUMERIC_KINDS = "biuf"
REASONS = ("ok", "wrong value", "wrong gradient", "wrong shape", "error")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class OutputError(ValueError):
    """The outputs file is missing, unreadable or holds something other than numeric arrays."""


def load_outputs(source):
    """Load a test's outputs (a path or bytes) as a dict of numeric numpy arrays.

    At most :data:`MAX_ARRAYS` arrays (counted from the archive's end record before anything
    else is parsed) of at most :data:`MAX_DIMENSIONS` dimensions and :data:`MAX_OUTPUT_BYTES`
    in all; nothing is unpickled.
    """
    if not isinstance(source, (bytes, bytearray)):
        try:
            with open(source, "rb") as f:
                source = f.read(MAX_OUTPUT_BYTES + 1)
        except OSError as error:
            raise OutputError(f"no readable outputs ({error.strerror})") from None
    if len(source) > MAX_OUTPUT_BYTES:
        raise OutputError(f"outputs larger than {MAX_OUTPUT_BYTES // 2**20} MiB")
    count = _entry_count(source)
    if count > MAX_ARRAYS:
        raise OutputError(f"outputs hold {count} arrays (at most {MAX_ARRAYS})")
    data = io.BytesIO(source)
    try:
        with zipfile.ZipFile(data) as archive:
            infos = archive.infolist()
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise OutputError(f"no readable outputs ({error})") from None
    if len(infos) > MAX_ARRAYS or sum(i.file_size for i in infos) > MAX_OUTPUT_BYTES:
        raise OutputError(f"outputs hold more than {MAX_ARRAYS} arrays or "
                          f"{MAX_OUTPUT_BYTES // 2**20} MiB")
    data.seek(0)
    try:
        with np.load(data, allow_pickle=False) as loaded:
            outputs = {key: loaded[key] for key in loaded.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise OutputError(f"outputs are not plain arrays ({error})") from None
    for key, value in outputs.items():
        if value.dtype.kind not in NUMERIC_KINDS:
            raise OutputError(f"output '{key}' is not numeric (dtype {value.dtype})")
        if value.ndim > MAX_DIMENSIONS:
            raise OutputError(f"output '{key}' has {value.ndim} dimensions")
    return outputs


def _entry_count(data):
    """The number of entries a zip archive's end record announces (ZIP64 included)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 2**16))
    if end < 0 or end + 22 > len(data):
        raise OutputError("no readable outputs (not a zip archive)")
    count = struct.unpack("<H", data[end + 10:end + 12])[0]
    if count == 0xFFFF:  # ZIP64: the count is in the ZIP64 end record the locator points to
        locator = data[end - 20:end]
        if len(locator) == 20 and locator[:4] == b"PK\x06\x07":
            record = struct.unpack("<Q", locator[8:16])[0]
            if record + 56 <= len(data) and data[record:record + 4] == b"PK\x06\x06":
                return struct.unpack("<Q", data[record + 32:record + 40])[0]
    return count


def judge(name, seed, options, outputs):
    """Judge the outputs (path or bytes) of check ``name`` on the inputs made from ``seed`` and
    ``options`` (a dict); returns ``(passed, reason, message)``."""
    from course.grading.checks import CHECKS

    try:
        loaded = load_outputs(outputs)
    except OutputError as error:
        return False, "error", str(error)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            inputs = CHECKS[name].make_inputs(seed, **options)
            result = CHECKS[name].judge(inputs, loaded, **options)
    except Exception as error:  # noqa: BLE001 - any failure of the comparison is a wrong answer
        return False, "error", f"{type(error).__name__}: {error}"[:500]
    reason = str(result.reason) if str(result.reason) in REASONS else "error"
    return bool(result.passed), reason, str(result.message)[:1000]


def main():
    """The judge process: one JSON request per line on stdin, one JSON verdict per line out.

    A request is {"check", "seed", "options", "outputs"} (the outputs file, in a folder of the
    grader's that no sandbox ever saw); the verdict {"passed", "reason", "message"}.
    """
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing the checks print can break the protocol
    for line in sys.stdin:
        request = json.loads(line)
        options = {key: tuple(value) if isinstance(value, list) else value
                   for key, value in request["options"].items()}
        passed, reason, message = judge(request["check"], request["seed"], options,
                                        request["outputs"])
        out.write(json.dumps({"passed": passed, "reason": reason, "message": message}) + "\n")
        out.flush()


class Judge:
    """A judge process (``python -I -B``), started on first use and restarted if it dies."""

    def __init__(self):
        self.process = None

    def start(self):
        code = f"import sys; sys.path.insert(0, {ROOT!r}); " \
               "from course.grading.judge import main; main()"
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", code], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)

    def __call__(self, call, outputs_path):
        """Verdict on one check call (a :class:`~course.grading.notebook.CheckCall`)."""
        request = {"check": call.name, "seed": call.seed, "options": dict(call.options),
                   "outputs": outputs_path}
        for _ in range(2):
            if self.process is None or self.process.poll() is not None:
                self.start()
            try:
                self.process.stdin.write(json.dumps(request) + "\n")
                self.process.stdin.flush()
                line = self.process.stdout.readline()
                verdict = json.loads(line)
                return bool(verdict["passed"]), verdict["reason"], verdict["message"]
            except (OSError, ValueError, KeyError):
                self.close()
        return False, "error", "the judge failed on these outputs"

    def close(self):
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


if __name__ == "__main__":
    main()
