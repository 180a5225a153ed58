"""Running a submission in a real Jupyter kernel that is not trusted (used by ``course grade``).

Two sides live here:

- the KERNEL side: :func:`boot` is the kernel's launcher (run inside the sandbox of
  :mod:`course.grading.sandbox`). Before any student code it sets resource limits (address
  space, CPU seconds, file size, processes, no core dumps), makes the library's ops
  unimportable (:data:`BLOCKED`; in the sandbox they are not even there), then starts an
  ordinary ipykernel. :func:`run_test` is the driver the grader calls in that kernel: it loads
  one inputs file, calls the student's functions through ``Check.call`` and writes the outputs
  as plain ``.npz`` data plus a small JSON status.
- the GRADER side: :class:`Kernel` starts that kernel (sandboxed, or not with ``sandbox=False``),
  talks to it over the shell channel only, runs code with a timeout, notices when the kernel
  dies, kills it with everything it started, and copies its result files out with strict limits.

Outputs never come back as Python objects: they are judged as data, in another interpreter
that never runs student code (see :mod:`course.grading.judge`).
"""

import json
import os
import queue
import signal
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

BLOCKED = ("course.ops", "course.kernels", "course.nn", "course.models", "course.optim",
           "course.gradcheck", "course.autodiff", "course.functional", "course.tensor",
           "torch")
STATUS_BYTES = 64 * 1024
MAX_REPLY_BYTES = 1 * 2**20  # largest message the grader accepts from a kernel
MAX_PROCESSES = 256  # processes and threads of one sandbox


# ---------------------------------------------------------------- kernel side


class _ImportBlocker:
    """A meta-path finder that refuses the library's ops while a submission is graded."""

    def __init__(self, prefixes):
        self.prefixes = tuple(prefixes)

    def find_spec(self, fullname, path=None, target=None):
        if any(fullname == p or fullname.startswith(p + ".") for p in self.prefixes):
            raise ModuleNotFoundError(
                f"'{fullname}' cannot be imported while grading: write the exercise by hand",
                name=fullname)
        return None


def _limit(which, value):
    import resource

    resource.setrlimit(which, (value, value))


def drop_privileges(uid):
    """Become ``uid`` (group ``uid``, no other groups) for good; nothing when ``uid`` is None.

    Run first thing in a sandbox that bwrap started as root: switching from root to another
    UID also drops every capability.
    """
    if uid is None:
        return
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("could not drop privileges")


def boot(argv=None):
    """The kernel's entry point: user, limits and import blocker first, then ipykernel."""
    import argparse
    import resource

    parser = argparse.ArgumentParser()
    parser.add_argument("--uid", type=int, help="switch to this UID first (under root)")
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--memory", type=int, required=True, help="address space, bytes")
    parser.add_argument("--cpu", type=int, required=True, help="CPU seconds for this kernel")
    parser.add_argument("--fsize", type=int, required=True, help="largest file written, bytes")
    parser.add_argument("--processes", type=int, default=0,
                        help="processes and threads of the kernel's user (0: no limit)")
    args = parser.parse_args(argv)
    drop_privileges(args.uid)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, args.cpu)
    _limit(resource.RLIMIT_FSIZE, args.fsize)
    _limit(resource.RLIMIT_AS, args.memory)
    if args.processes:
        _limit(resource.RLIMIT_NPROC, args.processes)  # counts threads too: no fork bomb
    sys.meta_path.insert(0, _ImportBlocker(BLOCKED))
    for name in [m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in BLOCKED)]:
        del sys.modules[name]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", args.connection_file, "--HistoryManager.enabled=False"])
    app.start()


def run_test(request):
    """Driver for one test, run inside the grading kernel (see :meth:`Kernel.run_test`).

    ``request``: {"check", "functions", "inputs", "outputs", "status"} (names and paths). The
    student's functions are looked up by name in the notebook's namespace. Writes the outputs
    ``.npz`` and a JSON status {"status": "ok"} or {"status": "error", "reason", "message"}.
    Student output printed meanwhile is thrown away.
    """
    import contextlib
    import io
    import warnings

    def write_status(**status):
        with open(request["status"], "w") as f:
            json.dump(status, f)

    try:
        import numpy as np
        from IPython import get_ipython

        from course.grading.checks import CHECKS

        namespace = get_ipython().user_ns
        missing = [name for name in request["functions"] if name not in namespace]
        if missing:
            write_status(status="error", reason="error",
                         message=f"function {missing[0]} is not defined")
            return
        functions = tuple(namespace[name] for name in request["functions"])
        with np.load(request["inputs"], allow_pickle=False) as data:
            inputs = {key: data[key] for key in data.files}
        sink = io.StringIO()
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), \
                contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            outputs = CHECKS[request["check"]].call(functions, inputs)
        np.savez(request["outputs"], **{key: np.asarray(v) for key, v in outputs.items()})
        write_status(status="ok")
    except MemoryError:
        write_status(status="error", reason="memory", message="ran out of memory")
    except RecursionError:
        write_status(status="error", reason="error", message="RecursionError: too deep")
    except BaseException as error:  # noqa: B036 - SystemExit and KeyboardInterrupt included
        text = f"{type(error).__name__}: {error}"
        write_status(status="error", reason="error", message=text[:500])


# ---------------------------------------------------------------- grader side


@dataclass
class Outcome:
    """What happened to one execute request: status 'ok', 'error', 'timeout' or 'crashed'."""

    status: str
    message: str = ""


class Kernel:
    """A grading kernel started in ``workdir`` (a folder private to the grader).

    With ``sandbox=True`` the kernel runs in :mod:`course.grading.sandbox`; else it runs as
    the grader's user with the same limits and environment but no isolation. Only the shell
    channel is opened, and its messages are capped at :data:`MAX_REPLY_BYTES`, so whatever a
    submission prints or sends costs the grader nothing. Use as a context manager.
    """

    def __init__(self, workdir, memory, cpu_seconds, fsize, sandbox=True, start_timeout=60):
        self.workdir = workdir
        self.memory, self.cpu_seconds, self.fsize = memory, cpu_seconds, fsize
        self.sandbox = sandbox
        self.start_timeout = start_timeout
        self.process = self.client = self.context = None
        self.exchange = os.path.join(workdir, "io")  # the only folder the kernel writes
        self.library = os.path.join(workdir, "lib")
        self.uid = None  # the kernel's own UID, when the grader is root and sandboxes

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def inside(self, name):
        """The kernel's path of a file ``name`` in the exchange folder."""
        from course.grading.sandbox import EXCHANGE

        return f"{EXCHANGE if self.sandbox else self.exchange}/{name}"

    def host(self, name):
        """The grader's path of a file ``name`` in the exchange folder."""
        return os.path.join(self.exchange, name)

    def _command(self, connection_file):
        from course.grading import sandbox

        processes = ["--processes", str(MAX_PROCESSES)] if self.sandbox else []
        user = ["--uid", str(self.uid)] if self.uid is not None else []
        limits = [*user, "-f", connection_file, "--memory", str(self.memory), "--cpu",
                  str(self.cpu_seconds), "--fsize", str(self.fsize), *processes]
        if not self.sandbox:
            return [sys.executable, "-B", "-m", "course.grading.worker", *limits]
        if not os.path.isdir(self.library):
            sandbox.make_library(self.library)
        boot_code = (f"import sys; sys.path.insert(0, {sandbox.LIBRARY!r}); "
                     "from course.grading.worker import boot; boot()")
        return sandbox.command([sys.executable, "-I", "-B", "-c", boot_code, *limits],
                               self.library, self.exchange)

    def start(self):
        import shutil

        import zmq
        from jupyter_client import BlockingKernelClient

        from course.grading import sandbox

        shutil.rmtree(self.exchange, ignore_errors=True)
        if self.sandbox and sandbox.drops_privileges():
            self.uid = sandbox.sandbox_uid()
        sandbox.prepare_exchange(self.exchange, self.uid)
        key = uuid.uuid4().hex
        info = {"transport": "ipc", "ip": self.inside("kernel"), "key": key,
                "signature_scheme": "hmac-sha256", "kernel_name": "course-grader",
                "shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4,
                "hb_port": 5}
        connection = self.host("kernel.json")
        with open(connection, "w") as f:
            json.dump(info, f)
        os.chmod(connection, 0o644)
        env = None if self.sandbox else dict(sandbox.environment(home=self.exchange),
                                             PYTHONPATH=sandbox.ROOT)
        self.process = subprocess.Popen(
            self._command(self.inside("kernel.json")), env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.exchange if not self.sandbox else None,
            **sandbox.popen_options())
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)
        self.client = BlockingKernelClient(context=self.context)
        self.client.load_connection_info(dict(info, ip=self.host("kernel")))
        self.client.start_channels(shell=True, iopub=False, stdin=False, hb=False,
                                   control=False)
        self._wait_ready()

    def _wait_ready(self):
        outcome = self.execute("pass", self.start_timeout)
        if outcome.status != "ok":
            self.stop()
            raise RuntimeError(f"the grading kernel did not start ({outcome.status})")

    def is_alive(self):
        return self.process is not None and self.process.poll() is None

    def execute(self, code, timeout):
        """Run ``code``; wait at most ``timeout`` seconds for the reply. Never raises.

        ``stop_on_error=False``: after a request that raised, ipykernel would otherwise abort
        the requests that reach it in the next moments (the next test, at random).
        """
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False,
                                     stop_on_error=False)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Outcome("timeout", f"no answer within {timeout:g} s")
            try:
                reply = self.client.get_shell_msg(timeout=min(0.2, remaining))
            except queue.Empty:
                if not self.is_alive():
                    return Outcome("crashed", "the kernel died")
                continue
            except Exception:  # noqa: BLE001 - a message the session cannot decode
                continue
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            content = reply.get("content", {})
            if content.get("status") == "ok":
                return Outcome("ok")
            name, value = str(content.get("ename", "Error")), str(content.get("evalue", ""))
            return Outcome("error", f"{name}: {value}"[:500])

    def stop(self):
        """Kill the kernel and everything it started; wait until they are gone."""
        if self.client is not None:
            self.client.stop_channels()
        if self.context is not None:
            self.context.destroy(linger=0)
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # bwrap's own process group
            except (ProcessLookupError, PermissionError):
                pass
            self.process.kill()
            self.process.wait()
        self.process = self.client = self.context = None

    def run_test(self, request, inputs_path, timeout):
        """Run the driver for one test with the inputs file ``inputs_path`` (the grader's).

        Only this test's inputs are in the exchange folder while it runs. Returns
        ``(Outcome, status dict or None, outputs bytes or None)``: the result files are read
        with strict limits (regular files, no links, bounded size) and then removed.
        """
        import shutil

        from course.grading.judge import MAX_OUTPUT_BYTES

        for name in os.listdir(self.exchange):
            if name.startswith("test-"):
                _remove(self.host(name))
        shutil.copyfile(inputs_path, self.host("test-in.npz"))
        os.chmod(self.host("test-in.npz"), 0o644)
        driver = dict(request, inputs=self.inside("test-in.npz"),
                      outputs=self.inside("test-out.npz"), status=self.inside("test-status.json"))
        code = (f"__import__('course.grading.worker', fromlist=['run_test'])"
                f".run_test(__import__('json').loads({json.dumps(driver)!r}))")
        outcome = self.execute(code, timeout)
        status = _read_status(read_limited(self.host("test-status.json"), STATUS_BYTES))
        outputs = read_limited(self.host("test-out.npz"), MAX_OUTPUT_BYTES)
        for name in ("test-in.npz", "test-out.npz", "test-status.json"):
            _remove(self.host(name))
        return outcome, status, outputs


def read_limited(path, limit):
    """The bytes of ``path`` if it is a regular file (not a link, FIFO or device) of at most
    ``limit`` bytes; else None. Never blocks, never follows a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
        return data if len(data) <= limit else None
    finally:
        os.close(fd)


def _remove(path):
    try:
        os.remove(path)
    except IsADirectoryError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)
    except OSError:
        pass


def _read_status(data):
    if data is None:
        return None
    try:
        status = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return status if isinstance(status, dict) else None


if __name__ == "__main__":
    boot()
