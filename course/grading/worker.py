"""Running a submission in a real Jupyter kernel that is not trusted (used by ``course grade``).

Two sides live here:

- the KERNEL side: ``python -m course.grading.worker -f CONNECTION_FILE ...`` is the kernel's
  command line. Before any student code it sets resource limits (address space, CPU seconds,
  file size, no core dumps), makes the library's ops unimportable (:data:`BLOCKED`), then starts
  an ordinary ipykernel. :func:`run_test` is the driver the grader calls in that kernel: it loads
  one inputs file, calls the student's functions through ``Check.call`` and writes the outputs
  as plain ``.npz`` data plus a small JSON status.
- the GRADER side: :class:`Kernel` starts that kernel with jupyter_client, runs code with a
  timeout, notices when the kernel dies, and kills it with its whole process group.

Outputs never come back as Python objects: the grader reads files with ``allow_pickle=False``
in a process that never runs student code (see :mod:`course.grading.judge`).
"""

import json
import os
import queue
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

BLOCKED = ("course.ops", "course.kernels", "course.nn", "course.models", "torch")
KERNEL_NAME = "course-grader"
STATUS_BYTES = 64 * 1024
MAX_PROCESSES = 512  # processes and threads of the kernels' user, when kernels get their own


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


def boot(argv=None):
    """The kernel's entry point: limits and import blocker first, then ipykernel."""
    import argparse
    import resource

    parser = argparse.ArgumentParser()
    parser.add_argument("-f", dest="connection_file", required=True)
    parser.add_argument("--memory", type=int, required=True, help="address space, bytes")
    parser.add_argument("--cpu", type=int, required=True, help="CPU seconds for this kernel")
    parser.add_argument("--fsize", type=int, required=True, help="largest file written, bytes")
    parser.add_argument("--user", help="run student code as this user (the grader is root)")
    args = parser.parse_args(argv)
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, args.cpu)
    _limit(resource.RLIMIT_FSIZE, args.fsize)
    _limit(resource.RLIMIT_AS, args.memory)
    if args.user:
        _limit(resource.RLIMIT_NPROC, MAX_PROCESSES)  # counts the user's threads: no fork bomb
    sys.meta_path.insert(0, _ImportBlocker(BLOCKED))
    for name in [m for m in sys.modules if any(m == p or m.startswith(p + ".") for p in BLOCKED)]:
        del sys.modules[name]
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(["-f", args.connection_file, "--HistoryManager.enabled=False"])
    if args.user:  # the connection file is read and the sockets bound: drop root for good
        import pwd

        entry = pwd.getpwnam(args.user)
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    app.start()


def default_user():
    """'nobody' when the grader runs as root (as in a container) and everything the kernel
    imports is readable by others; else None (the kernel runs as the grader's user)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import pwd

    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return None
    import numpy

    needed = (os.__file__, numpy.__file__, __file__, sys.executable)
    return "nobody" if all(_readable_by_others(path) for path in needed) else None


def _readable_by_others(path):
    """True when every folder above ``path`` can be entered by others and it can be read."""
    import stat

    path = os.path.realpath(path)
    if not os.stat(path).st_mode & stat.S_IROTH:
        return False
    folder = os.path.dirname(path)
    while True:
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(folder)
        if parent == folder:
            return True
        folder = parent


def run_test(request):
    """Driver for one test, run inside the grading kernel (see :meth:`Kernel.test_code`).

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
    """A grading kernel in its own process group, started in ``workdir``.

    Its stdout and stderr go to /dev/null and no IOPub channel is opened, so whatever a
    submission prints costs the grader nothing. Use as a context manager.
    """

    def __init__(self, workdir, memory, cpu_seconds, fsize, user=None, start_timeout=60):
        self.workdir = workdir
        self.memory, self.cpu_seconds, self.fsize = memory, cpu_seconds, fsize
        self.user = user
        self.start_timeout = start_timeout
        self.manager = self.client = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _kernel_spec_dir(self):
        spec_root = os.path.join(self.workdir, "kernelspec")
        spec_dir = os.path.join(spec_root, KERNEL_NAME)
        os.makedirs(spec_dir, exist_ok=True)
        argv = [sys.executable, "-m", "course.grading.worker", "-f", "{connection_file}",
                "--memory", str(self.memory), "--cpu", str(self.cpu_seconds),
                "--fsize", str(self.fsize)] + (["--user", self.user] if self.user else [])
        with open(os.path.join(spec_dir, "kernel.json"), "w") as f:
            json.dump({"argv": argv, "display_name": "course grader", "language": "python",
                       "env": _kernel_env(os.path.join(self.workdir, "run"))}, f)
        return spec_root

    def start(self):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpecManager

        specs = KernelSpecManager(kernel_dirs=[self._kernel_spec_dir()])
        self.manager = KernelManager(
            kernel_name=KERNEL_NAME, kernel_spec_manager=specs, transport="ipc",
            ip=os.path.join(self.workdir, "kernel-ipc"))
        run_dir = os.path.join(self.workdir, "run")
        os.makedirs(run_dir, exist_ok=True)
        if self.user:  # the kernel's user writes its outputs here, and only here
            import pwd

            entry = pwd.getpwnam(self.user)
            for path in (self.workdir, run_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
                os.chmod(path, 0o700)
            os.chmod(os.path.dirname(os.path.abspath(self.workdir)), 0o711)
        self.manager.start_kernel(cwd=run_dir, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels(iopub=False, stdin=False, hb=False, control=False)
        self._wait_ready()

    def _wait_ready(self):
        outcome = self.execute("pass", self.start_timeout)
        if outcome.status != "ok":
            self.stop()
            raise RuntimeError(f"the grading kernel did not start ({outcome.status})")

    def execute(self, code, timeout):
        """Run ``code``; wait at most ``timeout`` seconds for the reply. Never raises."""
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Outcome("timeout", f"no answer within {timeout:g} s")
            try:
                reply = self.client.get_shell_msg(timeout=min(0.2, remaining))
            except queue.Empty:
                if not self.manager.is_alive():
                    return Outcome("crashed", "the kernel died")
                continue
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            content = reply.get("content", {})
            if content.get("status") == "ok":
                return Outcome("ok")
            name, value = str(content.get("ename", "Error")), str(content.get("evalue", ""))
            return Outcome("error", f"{name}: {value}"[:500])

    def stop(self):
        """Kill the kernel and everything it started (its process group)."""
        if self.manager is None:
            return
        if self.client is not None:
            self.client.stop_channels()
        process = getattr(self.manager.provisioner, "process", None)
        if process is not None:
            try:
                os.killpg(os.getpgid(process.pid), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.manager.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001 - the kernel is gone either way
            pass
        self.manager.cleanup_resources()
        self.manager = self.client = None

    def run_test(self, request, timeout):
        """Run the driver for one test; return (Outcome, status dict or None)."""
        for key in ("outputs", "status"):
            if os.path.exists(request[key]):
                os.remove(request[key])
        code = (f"__import__('course.grading.worker', fromlist=['run_test'])"
                f".run_test(__import__('json').loads({json.dumps(request)!r}))")
        outcome = self.execute(code, timeout)
        return outcome, _read_status(request["status"])


def _read_status(path):
    try:
        with open(path, "rb") as f:
            status = json.loads(f.read(STATUS_BYTES).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) else None


def _kernel_env(run_dir):
    """A small environment for the kernel: no nbgrader variables, one BLAS thread."""
    keep = ("PATH", "LANG", "LC_ALL")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    course_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([course_root] + extra)
    env.update(HOME=run_dir, TMPDIR=run_dir, MPLCONFIGDIR=run_dir, OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", MALLOC_ARENA_MAX="2", PYTHONDONTWRITEBYTECODE="1",
               MPLBACKEND="Agg")
    return env


if __name__ == "__main__":
    boot()
