"""Helpers of the browser tests (tests/test_site.py, tests/test_browser_widgets.py).

The browser is Debian's ``chromium`` package (``apt-get install -y chromium``, which ``.ci/run``
does), driven by Playwright's Python API; no browser build is downloaded. Without it the tests
fail with a message that says how to install it: they never skip.
"""

import socket
import time
from pathlib import Path

import pytest

from course.site import executed_path, load_executed

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = ROOT / "build" / "browser"  # screenshots, kept by CI as test artefacts
LECTURES = sorted((ROOT / "lectures").glob("*.ipynb"))
STARTED = time.time()  # this test process's start: older .failed markers are from earlier runs


def launch_chromium(playwright):
    """Headless Debian Chromium, or a test failure that says how to install it."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: the browser tests need Debian's chromium package "
                    "(apt-get install -y chromium; .ci/run installs it)", pytrace=False)
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_executed_lectures(session, lectures=LECTURES, timeout=3600.0):
    """Wait until the lecture tests of this session have kept their executed notebooks (of
    ``lectures``, all by default).

    A lecture whose test is not part of this session (``pytest tests/test_site.py``) is not
    waited for: the site build executes it when it has no executed copy of its source. The test
    fails at once when a lecture test failed (its ``build/executed/<name>.failed`` marker).
    """
    selected = {item.callspec.id for item in session.items
                if item.path.name == "test_lectures.py" and hasattr(item, "callspec")}
    deadline = time.monotonic() + timeout
    for path in lectures:
        if path.stem not in selected:
            continue
        failed = executed_path(path).with_suffix(".failed")
        while load_executed(path) is None:
            if failed.exists() and failed.stat().st_mtime >= STARTED:
                pytest.fail(f"{path.name} failed in tests/test_lectures.py: nothing to show",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"{path.name}: no executed copy after {timeout:.0f} s", pytrace=False)
            time.sleep(5)
