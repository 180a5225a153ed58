"""The course website: ``course site`` builds it with Sphinx, MyST-NB and sphinx-book-theme.

The site is made of

- a landing page: the README's introduction and quick start;
- the lectures with their outputs and figures, from executed copies of ``lectures/*.ipynb``
  (``build/executed/``, written by ``tests/test_lectures.py`` or by this module; a copy is used
  while the hash of its source notebook is unchanged, so no lecture runs twice);
- the student versions of the assignments (``assignments/``, never ``solutions/``);
- an API reference generated from the docstrings (``course.ops``, ``nn``, ``optim``, ``data``,
  ``train``, ``grading``), and the instructor guide (``autograder/README.md``,
  ``docs/instructors.md``).

Every lecture page ends with links to the assignments it prepares and to the API pages of the
modules it uses; every assignment page links back to its lectures and to the API. Nothing is
downloaded: the theme, its fonts and MathJax (from the ``jupyter-server-mathjax`` package) are
copied into the site. Sphinx is imported only when the site is built.
"""

import hashlib
import os
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXECUTED = Path("build") / "executed"  # relative to the repository root
SITE = Path("build") / "site"
API_MODULES = ("ops", "nn", "optim", "data", "train", "grading")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT = 300  # seconds per cell, as tests/test_lectures.py
ASSIGNMENT_NAME = re.compile(r"\ba\d_[a-z_]*[a-z]\b")
COURSE_NAME = re.compile(r"\bcourse\.(" + "|".join(API_MODULES) + r")\b")


# -- executed lectures ---------------------------------------------------------------------------

def source_hash(path):
    """The SHA-256 of a notebook file's bytes: an executed copy is valid while it is unchanged."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def executed_path(path, folder=None):
    """Where the executed copy of the lecture ``path`` is kept."""
    return Path(folder or ROOT / EXECUTED) / Path(path).name


def save_executed(notebook, path, folder=None):
    """Keep ``notebook`` (lecture ``path`` after execution) with its source's hash."""
    import nbformat

    notebook.metadata["course_site"] = {"source_sha256": source_hash(path)}
    target = executed_path(path, folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    nbformat.write(notebook, partial)
    partial.replace(target)  # readers never see half a file
    return target


def load_executed(path, folder=None):
    """The executed copy of lecture ``path`` if it was made from the current source, else None."""
    import nbformat

    target = executed_path(path, folder)
    if not target.exists():
        return None
    notebook = nbformat.read(target, as_version=4)
    if notebook.metadata.get("course_site", {}).get("source_sha256") != source_hash(path):
        return None
    return notebook


def execute_lecture(path, timeout=CELL_TIMEOUT):
    """Run lecture ``path`` top to bottom in a fresh kernel (the repository on its PYTHONPATH).

    Returns the executed notebook; raises nbclient's ``CellExecutionError`` when a cell fails.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)  # the kernel's environment
    return notebook


def executed_lecture(path, folder=None, log=print):
    """The executed lecture ``path``: the kept copy when its source is unchanged, else run now."""
    notebook = load_executed(path, folder)
    if notebook is None:
        log(f"executing {Path(path).name} (no executed copy of this version)")
        notebook = execute_lecture(path)
        save_executed(notebook, path, folder)
    return notebook


# -- pages ---------------------------------------------------------------------------------------

def _text(notebook):
    return "\n".join(cell.source for cell in notebook.cells)


def _title(notebook, default):
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return default


def _for_the_site(notebook):
    """Drop the live widgets' views and state (a static page cannot run them): an explorer
    also carries its latest figure as a PNG, which the page shows in the widget's place."""
    notebook.metadata.pop("widgets", None)
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
                if set(data) <= {"text/plain"}:  # a widget without a picture: say so
                    data["text/plain"] = "(an interactive widget: open the notebook in JupyterLab)"
    return notebook


def _links_cell(lines):
    import nbformat

    return nbformat.v4.new_markdown_cell("\n".join(["## On this site", "", *lines]))


def _api_links(text, up="../"):
    modules = sorted(set(COURSE_NAME.findall(text)), key=API_MODULES.index)
    return ", ".join(f"[course.{name}]({up}api/{name}.rst)" for name in modules)


def _landing_page(readme, lectures, assignments):
    """The README's title, introduction and quick start, then the site's contents."""
    text = readme.read_text()
    head = text.split("\n## ", 2)
    landing = "\n## ".join(head[:2])  # title and introduction, then the quick start section
    lines = [landing.rstrip(), "", "## The course", "", "**Lectures**", ""]
    lines += [f"1. [{title}](lectures/{name}.ipynb)" for name, title in lectures]
    lines += ["", "**Assignments** (the student versions)", ""]
    lines += [f"- [{name}](assignments/{name}.ipynb)" for name in assignments]
    lines += ["", "**Reference**: the [API](api/index.rst), generated from the library's "
              "docstrings, and the [instructor guide](instructors.md).", ""]
    toc = ["```{toctree}", ":hidden:", ":caption: Lectures", ""]
    toc += [f"lectures/{name}" for name, _ in lectures] + ["```", ""]
    toc += ["```{toctree}", ":hidden:", ":caption: Assignments", ""]
    toc += [f"assignments/{name}" for name in assignments] + ["```", ""]
    toc += ["```{toctree}", ":hidden:", ":caption: Reference", "", "api/index", "instructors",
            "```", ""]
    return "\n".join(lines + toc)


def _api_pages(folder):
    """One page per documented package: its docstring, then each of its modules' members."""
    import importlib
    import pkgutil

    folder.mkdir(parents=True, exist_ok=True)
    index = ["API reference", "=============", "",
             "Generated from the library's docstrings (shapes, and the lecture that introduces "
             "each function).", "", ".. toctree::", "   :maxdepth: 1", ""]
    for name in API_MODULES:
        module = importlib.import_module(f"course.{name}")
        page = [f"course.{name}", "=" * (len(name) + 7), "", f".. automodule:: course.{name}", ""]
        if not hasattr(module, "__path__"):
            page[-1:] = ["   :members:", ""]
        else:
            for info in pkgutil.iter_modules(module.__path__):
                if info.name.startswith("_"):
                    continue
                full = f"course.{name}.{info.name}"
                page += [full, "-" * len(full), "", f".. automodule:: {full}", "   :members:",
                         ""]
        (folder / f"{name}.rst").write_text("\n".join(page))
        index.append(f"   {name}")
    (folder / "index.rst").write_text("\n".join(index) + "\n")


def _demote_headings(text):
    """Markdown ``text`` with every heading one level down (code blocks left alone)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            line = "#" + line
        lines.append(line)
    return "\n".join(lines)


def secret_lines(root=ROOT):
    """The stripped lines of solution code and hidden tests in ``solutions/`` (the nbgrader
    regions between ``### BEGIN SOLUTION`` / ``### BEGIN HIDDEN TESTS`` and their ends)."""
    import nbformat

    secrets = set()
    for path in sorted(Path(root, "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                marker = line.strip()
                if marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
                    inside = True
                elif marker in ("### END SOLUTION", "### END HIDDEN TESTS"):
                    inside = False
                elif inside and marker:
                    secrets.add(marker)
    return secrets


def _instructor_page(root):
    """The instructor guide: the autograder's README, then docs/instructors.md. A line that
    quotes a real solution or hidden test is replaced by a note: the site is public."""
    secrets = secret_lines(root)
    parts = ["# Instructor guide", ""]
    for path in (root / "autograder" / "README.md", root / "docs" / "instructors.md"):
        lines = []
        for line in _demote_headings(path.read_text()).splitlines():
            if len(line.strip()) >= 20 and line.strip() in secrets:  # not `return out`
                indent = line[:len(line) - len(line.lstrip())]
                line = indent + "# (a line of the real solutions or hidden tests: not on the site)"
            lines.append(line)
        parts += ["\n".join(lines), ""]
    return "\n".join(parts)


def _mathjax(static):
    """Copy MathJax 2 from the jupyter-server-mathjax package into the site (no CDN)."""
    import jupyter_server_mathjax

    source = Path(jupyter_server_mathjax.__file__).parent / "static"
    target = static / "mathjax"
    if not target.exists():
        shutil.copytree(source, target)
    return "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"


FAVICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16">'
           '<circle cx="8" cy="8" r="7" fill="#3572a5"/></svg>')

CONF = '''\
# Generated by course.site: the site's Sphinx configuration.
project = "course: deep learning, built by hand"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
html_theme = "sphinx_book_theme"
html_title = "course"
html_static_path = ["_static"]
html_theme_options = {{"show_toc_level": 2, "use_download_button": True}}
html_context = {{"default_mode": "light"}}
html_favicon = "_static/favicon.svg"  # else the browser asks for /favicon.ico
nb_execution_mode = "off"          # the lectures come executed (build/executed/)
nb_ipywidgets_js = {{}}             # no widget bundle from a CDN: explorers show their PNG
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
mathjax_path = "{mathjax}"
mathjax2_config = {{  # the package ships the STIX-Web fonts only
    "tex2jax": {{"inlineMath": [["\\\\(", "\\\\)"]], "displayMath": [["\\\\[", "\\\\]"]],
                "processRefs": False, "processEnvironments": False}},
    "HTML-CSS": {{"availableFonts": ["STIX-Web"], "preferredFont": "STIX-Web",
                 "webFont": "STIX-Web", "imageFont": None}},
    "SVG": {{"font": "STIX-Web"}},
}}
autodoc_member_order = "bysource"
autodoc_mock_imports = ["cupy", "torch"]
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "myst.xref_missing",
                     "autodoc.import_object"]
'''


def write_sources(source, root=ROOT, executed=None, log=print):
    """Write the site's Sphinx source folder ``source`` (pages, notebooks, conf.py)."""
    import nbformat

    root = Path(root)
    if source.exists():
        shutil.rmtree(source)
    (source / "lectures").mkdir(parents=True)
    (source / "assignments").mkdir()
    static = source / "_static"
    static.mkdir()

    lecture_paths = sorted((root / "lectures").glob("*.ipynb"))
    assignment_paths = sorted((root / "assignments").glob("*/*.ipynb"))
    lectures, lecture_text = [], {}
    for path in lecture_paths:
        notebook = _for_the_site(executed_lecture(path, executed, log))
        lecture_text[path.stem] = _text(notebook)
        lectures.append((path.stem, _title(notebook, path.stem)))
    assignment_names = [path.stem for path in assignment_paths]

    for path in lecture_paths:
        notebook = _for_the_site(executed_lecture(path, executed, log=lambda _: None))
        text = lecture_text[path.stem]
        named = [name for name in assignment_names if name in set(ASSIGNMENT_NAME.findall(text))]
        lines = []
        if named:
            lines.append("Assignment: " + ", ".join(
                f"[{name}](../assignments/{name}.ipynb)" for name in named) + ".")
        api = _api_links(text)
        if api:
            lines.append("")
            lines.append(f"API reference of what this lecture uses: {api}.")
        lines += ["", "[All lectures and assignments](../index.md)"]
        notebook.cells.append(_links_cell(lines))
        nbformat.write(notebook, source / "lectures" / path.name)

    for path in assignment_paths:
        notebook = nbformat.read(path, as_version=4)
        text = _text(notebook)
        taught = [(name, title) for name, title in lectures
                  if path.stem in set(ASSIGNMENT_NAME.findall(lecture_text[name]))]
        lines = ["This is the student version: open it in JupyterLab, fill in the functions "
                 "and run its checks."]
        if taught:
            lines += ["", "Lectures that prepare it: " + ", ".join(
                f"[{title}](../lectures/{name}.ipynb)" for name, title in taught) + "."]
        api = _api_links(text)
        if api:
            lines += ["", f"API reference: {api}."]
        notebook.cells.append(_links_cell(lines))
        notebook.metadata["mystnb"] = {"execution_mode": "off"}
        nbformat.write(notebook, source / "assignments" / path.name)

    (source / "index.md").write_text(
        _landing_page(root / "README.md", lectures, assignment_names))
    (source / "instructors.md").write_text(_instructor_page(root))
    _api_pages(source / "api")
    (static / "favicon.svg").write_text(FAVICON)
    (source / "conf.py").write_text(CONF.format(mathjax=_mathjax(static)))
    return source


def build_site(out=None, root=ROOT, executed=None, jobs=1, log=print):
    """Build the course site into ``out`` (default ``build/site/``); returns the HTML folder.

    Lectures come from ``executed`` (default ``build/executed/``) where their source is
    unchanged; the others are executed first and kept there. Raises ``RuntimeError`` when
    Sphinx reports an error.
    """
    from sphinx.cmd.build import build_main

    root = Path(root)
    out = Path(out) if out is not None else root / SITE
    source = out.parent / (out.name + "-source")
    write_sources(source, root, executed, log)
    status = build_main(["-b", "html", "-q", "-j", str(jobs), "-d", str(source / "_doctrees"),
                         str(source), str(out)])
    if status != 0:
        raise RuntimeError(f"sphinx-build failed with status {status}")
    log(f"course site: {out / 'index.html'}")
    return out
