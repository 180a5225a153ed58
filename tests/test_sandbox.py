"""The grading sandbox (bubblewrap) from inside: what a submission's kernel can see and do.

One sandboxed kernel is started (module fixture) and probed the way a determined student
would: it looks for the course's files, the grader's environment, the network, other
processes; it writes where the grader might read; it starts processes that try to outlive it.
Each test asserts that the attempt gains nothing.
"""

import json
import os
import time

import pytest

from course.grading import sandbox
from course.grading.worker import MAX_PROCESSES, Kernel, read_limited

pytestmark = pytest.mark.grading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = "4711.25"  # a sleep length no other process on the machine uses
IPYKERNEL_SETS = {"TERM", "CLICOLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "PAGER", "GIT_PAGER",
                  "PYDEVD_USE_FRAME_EVAL",  # ipykernel's own (terminal, debugger)
                  "PWD"}  # bwrap's


def _sandbox_or_skip():
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        os.chmod(scratch, 0o711)
        try:
            sandbox.probe(scratch)
        except sandbox.SandboxUnavailable as error:
            pytest.skip(str(error))


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    _sandbox_or_skip()
    workdir = tmp_path_factory.mktemp("sandbox")
    os.chmod(workdir, 0o711)
    os.environ["COURSE_GRADER_SECRET"] = "s3cret-token"  # the grader's own environment
    try:
        with Kernel(str(workdir), 2 * 2**30, 600, 8 * 2**20) as k:
            yield k
    finally:
        del os.environ["COURSE_GRADER_SECRET"]


def _probe(kernel, code):
    """Run ``code`` in the kernel; it must set ``found``, which comes back as JSON."""
    program = code + "\nimport json\njson.dump(found, open('/grader/io/probe.json', 'w'))"
    outcome = kernel.execute(program, 60)
    assert outcome.status == "ok", outcome.message
    data = read_limited(kernel.host("probe.json"), 2**20)
    os.remove(kernel.host("probe.json"))
    return json.loads(data)


def test_the_kernel_sees_no_course_file_and_no_grader_environment(kernel):
    found = _probe(kernel, f"""
import os
found = {{
    "paths": {{p: os.path.exists(p) for p in [
        {os.path.join(ROOT, "solutions")!r}, {os.path.join(ROOT, "course", "ops")!r},
        {os.path.join(ROOT, "gradebook.db")!r}, {kernel.workdir!r},
        "/grader/lib/course/ops", "/grader/lib/course/optim.py", "/etc/shadow", "/root/.ssh",
        "/home"]}},
    "root": os.listdir({ROOT!r}) if os.path.isdir({ROOT!r}) else [],
    "env": dict(os.environ),
    "uid": os.getuid(), "euid": os.geteuid(),
    "cwd": os.getcwd(), "home": os.path.expanduser("~"),
}}
""")
    assert not any(found["paths"].values()), found["paths"]
    assert set(found["root"]) <= {".venv"}  # a virtual environment inside the course root
    extra = set(found["env"]) - set(sandbox.environment())
    assert extra <= IPYKERNEL_SETS, extra
    assert "s3cret-token" not in json.dumps(found["env"])
    assert found["uid"] != 0 and found["euid"] != 0
    assert found["cwd"] == found["home"] == "/tmp"


def test_library_modules_that_implement_graded_functions_cannot_be_imported(kernel):
    found = _probe(kernel, """
import sys
found = {}
for name in ("course.ops", "course.optim", "course.gradcheck", "course.nn", "course.kernels",
             "course.autodiff"):
    sys.meta_path = [f for f in sys.meta_path if type(f).__name__ != "_ImportBlocker"]
    try:
        __import__(name)
        found[name] = "imported"
    except ImportError as error:
        found[name] = "refused"
""")
    assert set(found.values()) == {"refused"}, found


def test_no_network_and_no_other_process_in_view(kernel):
    found = _probe(kernel, """
import os, socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    net = "connected"
except OSError as error:
    net = "refused"
found = {"net": net, "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
         "parent": os.getppid()}
""")
    assert found["net"] == "refused"
    assert found["parent"] == 1  # the sandbox's own init: the grader is not in view
    assert len(found["pids"]) < 10, found["pids"]  # its init, the kernel: not the machine's


def test_system_python_and_library_are_read_only(kernel):
    import numpy

    found = _probe(kernel, f"""
found = {{}}
for path in ("/grader/lib/course/grading/checks.py", {numpy.__file__!r}, "/usr/x", "/x"):
    try:
        open(path, "a").close()
        found[path] = "written"
    except OSError:
        found[path] = "refused"
""")
    assert set(found.values()) == {"refused"}, found


def test_file_size_and_process_limits(kernel):
    found = _probe(kernel, f"""
import subprocess
found = {{}}
try:
    with open("/tmp/big", "wb") as f:
        f.write(b"x" * (9 * 2**20))
    found["big"] = "written"
except OSError:
    found["big"] = "refused"
children = []
try:
    for _ in range({MAX_PROCESSES + 50}):
        children.append(subprocess.Popen(["sleep", "30"]))
except OSError:
    pass
found["started"] = len(children)
for child in children:
    child.kill()
    child.wait()
""")
    assert found["big"] == "refused"
    assert found["started"] < MAX_PROCESSES


def _survivors():
    alive = []
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if MARKER.encode() in f.read():
                    alive.append(pid)
        except OSError:
            pass
    return alive


def test_no_process_outlives_the_sandbox(tmp_path):
    """setsid, a double fork, nohup: all gone when the kernel is stopped."""
    _sandbox_or_skip()
    os.chmod(tmp_path, 0o711)
    with Kernel(str(tmp_path), 2 * 2**30, 600, 8 * 2**20) as k:
        outcome = k.execute(f"""
import os, subprocess
subprocess.Popen(["sleep", "{MARKER}"], start_new_session=True)
subprocess.Popen(["sh", "-c", "nohup setsid sleep {MARKER} >/dev/null 2>&1 &"])
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "{MARKER}"])
    os._exit(0)
""", 30)
        assert outcome.status == "ok", outcome.message
        time.sleep(0.5)
        assert len(_survivors()) >= 3  # they run while the sandbox does
    deadline = time.monotonic() + 10
    while _survivors() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _survivors() == []


KILL_EVERYTHING = """
import os
for kill in (lambda: os.kill(os.getppid(), 9), lambda: os.killpg(0, 9), lambda: os.kill(-1, 9)):
    try:
        kill()
    except OSError:
        pass
"""


def test_killing_every_process_in_view_kills_only_the_sandbox(tmp_path):
    _sandbox_or_skip()
    os.chmod(tmp_path, 0o711)
    with Kernel(str(tmp_path), 2 * 2**30, 600, 8 * 2**20) as k:
        outcome = k.execute(KILL_EVERYTHING, 30)
        assert outcome.status == "crashed"  # it killed itself, and nothing else
    with Kernel(str(tmp_path), 2 * 2**30, 600, 8 * 2**20) as k:  # the grader goes on
        assert k.execute("x = 1", 30).status == "ok"


def test_result_files_are_read_with_limits(tmp_path):
    regular = tmp_path / "regular"
    regular.write_bytes(b"12345")
    assert read_limited(str(regular), 5) == b"12345"
    assert read_limited(str(regular), 4) is None
    (tmp_path / "link").symlink_to(regular)
    assert read_limited(str(tmp_path / "link"), 100) is None
    os.mkfifo(tmp_path / "fifo")
    assert read_limited(str(tmp_path / "fifo"), 100) is None  # and it does not block
    assert read_limited(str(tmp_path / "missing"), 100) is None


def test_refuses_with_a_clear_message_where_bwrap_cannot_run(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="--no-sandbox"):
        sandbox.probe(str(tmp_path))
