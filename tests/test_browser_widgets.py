"""The lectures' widgets in a real JupyterLab 4, driven by headless Chromium.

Running every lecture top to bottom in JupyterLab would cost a minute or more each, on top of
tests/test_lectures.py, which runs them already. So for each lecture with a widget, the test
takes the widget cell (a cell whose executed output, in build/executed/, is a widget view) and
the cells it needs: going back from it, every earlier cell that binds or changes a name that the
cells taken so far use (program slicing on the cells' syntax trees). Of the lecture's widgets it
checks the one whose cells ran fastest in the lecture test (cell timings of build/executed/).
Those cells, verbatim, make a notebook in build/browser/widgets/; JupyterLab (started here on a
free local port with a token) opens it, runs it, and the test moves the widget's first control
and checks that the output it drives changes (its figure's bytes or its text). Screenshots of
each widget before and after are kept in build/browser/widgets/.
"""

import ast
import http.client
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from datetime import datetime

import nbformat
import pytest
from browser import (
    ARTEFACTS,
    LECTURES,
    ROOT,
    free_port,
    launch_chromium,
    wait_for_executed_lectures,
)
from IPython.core.inputtransformer2 import TransformerManager

from course.site import WIDGET_VIEW, executed_lecture

pytestmark = [pytest.mark.browser, pytest.mark.notebooks]

FOLDER = ARTEFACTS / "widgets"
CONTROL = ".widget-dropdown select, .widget-slider .noUi-handle"


class Names(ast.NodeVisitor):
    """The names a piece of code binds, changes and uses; a function's, lambda's or
    comprehension's own local names stay inside it."""

    def __init__(self):
        self.binds, self.changes, self.uses = set(), set(), set()

    def visit_Name(self, node):
        (self.uses if isinstance(node.ctx, ast.Load) else self.binds).add(node.id)

    def visit_Import(self, node):
        self.binds.update((alias.asname or alias.name).split(".")[0] for alias in node.names)

    visit_ImportFrom = visit_Import

    def store_root(self, node):
        while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
            node = node.func if isinstance(node, ast.Call) else node.value
        if isinstance(node, ast.Name):
            self.changes.add(node.id)

    def visit_Attribute(self, node):
        if not isinstance(node.ctx, ast.Load):
            self.store_root(node)
        self.generic_visit(node)

    visit_Subscript = visit_Attribute

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
            self.store_root(node.value.func)  # x.append(...), model.eval()
        self.generic_visit(node)

    def inner(self, local, body):
        """Visit ``body`` as its own scope, whose ``local`` names (and those it binds) stay
        inside: only the names it uses from outside come out."""
        scope = Names()
        for node in body:
            scope.visit(node)
        self.uses |= scope.uses - scope.binds - local

    def visit_FunctionDef(self, node):
        self.binds.add(node.name)
        for outer in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if outer is not None:
                self.visit(outer)
        args = node.args
        local = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                 args.vararg, args.kwarg] if a is not None}
        self.inner(local, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.binds.add(node.name)
        self.inner(set(), [*node.bases, *node.body])

    def visit_Lambda(self, node):
        args = node.args
        self.inner({a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs,
                                    args.vararg, args.kwarg] if a is not None}, [node.body])

    def visit_ListComp(self, node):
        self.visit(node.generators[0].iter)  # evaluated outside the comprehension
        targets = Names()
        for generator in node.generators:
            targets.visit(generator.target)
        parts = [g.iter for g in node.generators[1:]] + [c for g in node.generators
                                                          for c in g.ifs]
        parts += [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        self.inner(targets.binds, parts)

    visit_SetComp = visit_GeneratorExp = visit_DictComp = visit_ListComp


def names(source):
    """``(binds, changes, uses)`` of a cell: names it assigns, names whose object it changes
    (``x[i] = ...``, ``x.a = ...``, ``x.append(...)``), names it reads from its namespace."""
    visitor = Names()
    visitor.visit(ast.parse(TransformerManager().transform_cell(source)))
    return visitor.binds, visitor.changes, visitor.uses


def widget_slice(cells, index, modules):
    """The indices of the cells that widget cell ``index`` needs, in order (itself included).

    ``modules``: names bound by imports, whose "changes" (``np.random.seed(0)``) are ignored.
    """
    needed = names(cells[index].source)[2]
    taken = [index]
    for i in range(index - 1, -1, -1):
        if cells[i].cell_type != "code":
            continue
        binds, changes, uses = names(cells[i].source)
        if needed & (binds | (changes - modules)):
            taken.append(i)
            needed = (needed - (binds - uses)) | uses
    return sorted(taken)


def seconds(cell):
    """How long the cell took in the lecture test (nbclient's timing metadata)."""
    timing = cell.metadata.get("execution", {})
    if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
        return 0.0
    start, end = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                  for key in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def widget_notebook(path):
    """``(notebook, seconds)``: the cheapest widget of lecture ``path`` with the cells it
    needs, or None when the lecture has no widget."""
    executed = executed_lecture(path, log=lambda _: None)  # executed now if not kept
    cells = executed.cells
    modules = set()
    for cell in cells:
        if cell.cell_type == "code":
            tree = ast.parse(TransformerManager().transform_cell(cell.source))
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    modules.update((a.asname or a.name).split(".")[0] for a in node.names)
    widgets = [i for i, cell in enumerate(cells) if cell.cell_type == "code" and any(
        WIDGET_VIEW in output.get("data", {}) for output in cell.outputs)]
    if not widgets:
        return None
    options = [widget_slice(cells, i, modules) for i in widgets]
    cost, taken = min((sum(seconds(cells[i]) for i in option), option) for option in options)
    notebook = nbformat.v4.new_notebook(metadata=executed.metadata)
    notebook.metadata.pop("widgets", None)
    notebook.cells.append(nbformat.v4.new_markdown_cell(
        f"Generated by tests/test_browser_widgets.py from lectures/{path.name}: one widget and "
        f"the cells it needs (cells {', '.join(str(i) for i in taken)} of the lecture)."))
    notebook.cells.append(nbformat.v4.new_code_cell(f"%cd {ROOT / 'lectures'}"))
    notebook.cells += [nbformat.v4.new_code_cell(cells[i].source) for i in taken]
    return notebook, cost


def test_widget_slice_takes_what_the_widget_needs():
    cells = [nbformat.v4.new_code_cell(source) for source in (
        "import numpy as np\nfrom course import viz",
        "data = np.arange(3)\nnp.random.seed(0)",
        "slow = sum(range(10**7))",  # needed by nothing below
        "models = {}\nfor p in (0.1, 0.5):\n    models[p] = p * data",
        "histories = []\nhistories.append(1)",
        "%time x = 1",
        "i = 3\nsquares = [i * i for i in range(4)]",
        "def draw(scale):\n    model = scale * data\n    return model\nrows = [i for i in data]",
        "viz.explorer(models[0.5], histories, draw, X[i])")]
    assert widget_slice(cells, 8, {"np", "viz"}) == [0, 1, 3, 4, 6, 7, 8]
    binds, changes, uses = names(cells[7].source)
    assert binds == {"draw", "rows"} and uses == {"data"}  # model, scale, i stay inside


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab 4 on a free local port with a token, stopped afterwards: its base URL."""
    port, token = free_port(), secrets.token_hex(16)
    home = tmp_path_factory.mktemp("jupyter")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               NUMBA_NUM_THREADS="1",  # one thread per kernel, as in tests/test_lectures.py
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    news = home / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)  # no "Would you like to get notified about news?" over the widgets
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    log = open(home / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
         "--allow-root", "--LabApp.expose_app_in_browser=True",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}api/status?token={token}", timeout=5)
                break
            except (OSError, http.client.HTTPException):  # not listening yet
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (home / "jupyterlab.log")
                                .read_text()[-3000:], pytrace=False)
                time.sleep(1)
        yield base, token
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def shutdown_kernels(base, token):
    """Stop every kernel of the server (the one of the widget notebook just checked)."""
    headers = {"Authorization": f"token {token}"}
    with urllib.request.urlopen(urllib.request.Request(f"{base}api/sessions",
                                                       headers=headers)) as answer:
        sessions = json.load(answer)
    for session in sessions:
        urllib.request.urlopen(urllib.request.Request(
            f"{base}api/sessions/{session['id']}", headers=headers, method="DELETE"))


def control_value(control):
    """A dropdown's value, or a slider's readout."""
    return control.evaluate("c => c.tagName === 'SELECT' ? c.value"
                            " : c.closest('.widget-slider').querySelector('.widget-readout')"
                            ".innerText")


def output_state(widget):
    """What the widget shows now: its images' bytes (data URIs) and its text."""
    return widget.evaluate(
        "w => [...w.querySelectorAll('img')].map(i => i.src).join('|') + '|' + w.innerText")


KERNEL_IDLE = """path => {
    const widget = window.jupyterapp.shell.currentWidget;
    const kernel = widget && widget.sessionContext && widget.sessionContext.session
        && widget.sessionContext.session.kernel;
    return widget && widget.context && widget.context.path === path && kernel
        && kernel.status === 'idle';
}"""
CLOSE = """() => {  // outputs are not saved: the next notebook opens in a clean main area
    const widget = window.jupyterapp.shell.currentWidget;
    widget.context.model.dirty = false;
    widget.dispose();
}"""


def check_widget(page, stem, budget):
    """Open build/browser/widgets/STEM.ipynb in the JupyterLab of ``page``, run it, move the
    widget: a problem or None."""
    path = f"build/browser/widgets/{stem}.ipynb"
    page.evaluate("path => { window.jupyterapp.commands.execute('docmanager:open', {path}); }",
                  path)
    page.wait_for_function(KERNEL_IDLE, arg=path, timeout=120_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    last = page.locator(".jp-Notebook .jp-Cell").last
    widget = last.locator(".jp-OutputArea-output .jupyter-widgets").first
    error = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']")
    deadline = time.monotonic() + budget
    while not (widget.count() and widget.locator(CONTROL).count()):
        if error.count():
            return f"{stem}: a cell failed in JupyterLab:\n{error.first.inner_text()[-2000:]}"
        if time.monotonic() > deadline:
            return f"{stem}: no widget after {budget:.0f} s"
        time.sleep(0.5)
    shown = widget.locator(".widget-output").first  # what the controls drive
    if not shown.count():
        shown = widget
    before = output_state(shown)
    while True:  # the first figure drawn and settled
        page.wait_for_timeout(1000)
        now = output_state(shown)
        if now == before:
            break
        before = now
    widget.screenshot(path=str(FOLDER / f"{stem}_before.png"))
    control = widget.locator(CONTROL).first
    value = control_value(control)
    if control.evaluate("c => c.tagName") == "SELECT":
        options = control.evaluate("c => [...c.options].map(o => o.value)")
        control.select_option(next(option for option in options if option != value))
    else:  # drag the slider's handle right, or left where it is at the end
        for step in (60, -60):
            box = control.bounding_box()
            x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
            page.mouse.move(x, y)
            page.mouse.down()
            page.mouse.move(x + step, y, steps=6)
            page.mouse.up()
            if control_value(control) != value:
                break
    if control_value(control) == value:
        return f"{stem}: the widget's first control did not move (value {value})"
    deadline = time.monotonic() + 120
    while output_state(shown) == before:
        if error.count():
            return f"{stem}: the widget's callback failed:\n{error.first.inner_text()[-2000:]}"
        if time.monotonic() > deadline:
            return (f"{stem}: moving the widget's first control ({value} -> "
                    f"{control_value(control)}) changed nothing it shows")
        time.sleep(0.5)
    page.wait_for_timeout(500)
    widget.screenshot(path=str(FOLDER / f"{stem}_after.png"))
    return None


NO_WIDGET = {"02b_autograd"}  # every other lecture has at least one widget


@pytest.fixture(scope="module")
def lab_page(jupyterlab):
    """A Chromium page with this worker's JupyterLab open and started."""
    from playwright.sync_api import sync_playwright

    base, token = jupyterlab
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{base}lab?reset&token={token}")
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started",
                               timeout=120_000)
        yield page
        browser.close()


@pytest.mark.parametrize("path", LECTURES, ids=[path.stem for path in LECTURES])
def test_lecture_widget_responds_in_jupyterlab(path, request, jupyterlab, lab_page):
    """One test per lecture, so that xdist spreads them over its workers (each with its own
    JupyterLab and Chromium)."""
    wait_for_executed_lectures(request.session, [path])
    found = widget_notebook(path)
    if path.stem in NO_WIDGET:
        assert found is None, f"{path.name} has a widget now: take it out of NO_WIDGET"
        return
    assert found is not None, f"{path.name} has no widget (executed, in build/executed/)"
    FOLDER.mkdir(parents=True, exist_ok=True)
    notebook, cost = found
    nbformat.write(notebook, FOLDER / path.name)
    (FOLDER / f"{path.stem}.plan.json").write_text(json.dumps({path.stem: cost}))
    base, token = jupyterlab
    try:
        problem = check_widget(lab_page, path.stem, budget=120 + 4 * cost)
    finally:
        shutdown_kernels(base, token)
        lab_page.evaluate(CLOSE)
    assert problem is None, problem
    assert (FOLDER / f"{path.stem}_before.png").stat().st_size > 0
    assert (FOLDER / f"{path.stem}_after.png").stat().st_size > 0
