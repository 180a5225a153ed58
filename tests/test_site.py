"""The course site (``course site``): built once from the executed lectures, then read in Chromium.

The build takes the lecture notebooks that tests/test_lectures.py executed (build/executed/), so
no lecture runs twice; this test waits for them (it is ordered after the lecture tests, see
tests/conftest.py). Chromium then loads every page from a local HTTP server and checks that no
page logs a console error or asks for anything outside the site, that every image loads, that
every internal link resolves, and that no page shows solution code or hidden tests.
"""

import functools
import http.server
import re
import threading
from urllib.parse import unquote, urljoin, urlsplit

import nbformat
import pytest
from browser import ROOT, free_port, launch_chromium, wait_for_executed_lectures

from course.site import _demote_headings, _for_the_site, load_executed, save_executed

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "### BEGIN HIDDEN TESTS",
           "### END HIDDEN TESTS")


def solution_texts():
    """The solution regions and hidden-test lines of solutions/, whitespace removed.

    A solution region is kept whole (a lecture may well write one of its lines, never the same
    region), a hidden-test line alone; short ones (`return out`) say nothing and are left out.
    """
    texts = set()
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for kind, body in re.findall(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1",
                                         cell.source, flags=re.S):
                pieces = body.splitlines() if kind == "HIDDEN TESTS" else [body]
                texts.update(re.sub(r"\s+", "", piece) for piece in pieces)
    return {text for text in texts if len(text) >= 30}


def test_solution_texts_are_found():
    texts = solution_texts()
    assert len(texts) > 40  # four assignments, dozens of regions and hidden tests
    assert all("BEGIN" not in text for text in texts)


def test_executed_copy_is_used_only_for_its_source(tmp_path):
    source = tmp_path / "lecture.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(notebook, source)
    save_executed(notebook, source, tmp_path / "executed")
    assert load_executed(source, tmp_path / "executed").cells[0].source == "1 + 1"
    notebook.cells[0].source = "1 + 2"  # the lecture changed: its executed copy is stale
    nbformat.write(notebook, source)
    assert load_executed(source, tmp_path / "executed") is None


def test_widget_views_give_way_to_their_figure():
    output = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
        "image/png": "iVBOR", "text/plain": "Explorer(...)"})
    bare = nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "y"}, "text/plain": "VBox()"})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("e", outputs=[output,
                                                                                       bare])])
    notebook.metadata["widgets"] = {"state": {}}
    _for_the_site(notebook)
    assert "widgets" not in notebook.metadata
    assert set(output.data) == {"image/png", "text/plain"}
    assert "JupyterLab" in bare.data["text/plain"]


def test_headings_go_one_level_down_outside_code():
    text = "# Title\n\n```bash\n# a comment\n```\n## Part"
    assert _demote_headings(text) == "## Title\n\n```bash\n# a comment\n```\n### Part"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site(request):
    """The built site, served on a free local port: (folder, base URL)."""
    from course.site import build_site

    wait_for_executed_lectures(request.session)
    out = build_site(ROOT / "build" / "site", log=lambda _: None)
    handler = functools.partial(QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield out, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def page_files(out):
    return sorted(path for path in out.rglob("*.html")
                  if not path.relative_to(out).parts[0].startswith("_"))


def test_site_pages_in_chromium(site):
    from playwright.sync_api import sync_playwright

    out, base = site
    pages = page_files(out)
    names = {path.relative_to(out).as_posix() for path in pages}
    lectures = sorted((ROOT / "lectures").glob("*.ipynb"))
    assignments = sorted((ROOT / "assignments").glob("*/*.ipynb"))
    # what the site is made of: each lecture, each student assignment, the API, the guide
    for path in lectures:
        assert f"lectures/{path.stem}.html" in names
    for path in assignments:
        assert f"assignments/{path.stem}.html" in names
    for name in ("index.html", "instructors.html", "api/ops.html", "api/nn.html",
                 "api/optim.html", "api/data.html", "api/train.html", "api/grading.html"):
        assert name in names
    assert not any(name.startswith("solutions/") for name in names)

    secrets = solution_texts()
    problems, figures, links = [], 0, set()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()
        errors = []
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("requestfailed", lambda req: errors.append(f"failed to load {req.url}"))

        def only_local(route):
            if route.request.url.startswith(base) or route.request.url.startswith("data:"):
                route.continue_()
            else:  # the site must work offline: nothing from a CDN or a font service
                errors.append(f"asked for {route.request.url}")
                route.abort()

        page.route("**/*", only_local)
        for path in pages:
            name = path.relative_to(out).as_posix()
            errors.clear()
            page.goto(base + name, wait_until="load")
            page.wait_for_load_state("networkidle")
            problems += [f"{name}: {error}" for error in errors]
            images = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => [i.src, i.complete && i.naturalWidth > 0])")
            problems += [f"{name}: image not loaded {src[:80]}" for src, ok in images if not ok]
            figures += len(images)
            for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                if href.startswith(base):
                    links.add((name, href))
            text = page.inner_text("body")
            flat = re.sub(r"\s+", "", text)
            problems += [f"{name}: shows solution code or a hidden test: {secret[:60]}"
                         for secret in secrets if secret in flat]
            if name.startswith(("lectures/", "assignments/")):
                problems += [f"{name}: shows the marker {m}" for m in MARKERS if m in text]
        browser.close()

    anchors = {}
    for name, href in sorted(links):
        parts = urlsplit(href)
        target = out / unquote(parts.path[len(urlsplit(base).path):])
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"{name}: broken link {href}")
        elif parts.fragment:
            if target not in anchors:
                anchors[target] = set(re.findall(r'id="([^"]+)"', target.read_text()))
            if unquote(parts.fragment) not in anchors[target]:
                problems.append(f"{name}: no anchor #{parts.fragment} in {target.name}")
    assert not problems, "\n".join(problems[:50])
    # every lecture page shows its figures, and links to its assignment and the API
    assert figures >= 2 * len(lectures)
    for path in lectures:
        targets = {href for name, href in links if name == f"lectures/{path.stem}.html"}
        assert any("/api/" in href for href in targets), path.stem
    assert any(urljoin(base, "assignments/") in href for _, href in links)
