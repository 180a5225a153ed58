"""CONTRIBUTING.md cannot drift from the code: every file, test, Python name, marker and
pre-commit hook it names exists, and each walk-through's table of files matches what the files
hold; walk-through 3's nbgrader metadata, points and scores are assignment 1's, and its worked
example is not in the assignment yet. Also the rules the guide states about the kernel sets and
the hooks."""

import ast
import importlib
import importlib.util
import inspect
import json
import re
import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from course import nn, ops
from course.kernels import cpu, gpu, reference

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "CONTRIBUTING.md").read_text()
TOP_LEVEL = {"course", "tests", "lectures", "solutions", "assignments", "autograder",
             "benchmarks", "docs", ".ci"}
ROOT_FILES = {"README.md", "CONTRIBUTING.md", "pyproject.toml", "nbgrader_config.py",
              ".pre-commit-config.yaml"}
PLACEHOLDERS = ("<", "*", "NN_", "$")


def code_spans(text):
    """The guide's inline code spans and fenced code blocks, in order."""
    fenced = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
    inline = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return fenced + inline


def named_paths():
    paths = set()
    for span in code_spans(GUIDE):
        for token in re.findall(r"[\w.\-/<>*$]+(?:::\w+)?", span):
            path = token.split("::")[0].rstrip(".,")
            first = path.split("/")[0]
            if any(p in path for p in PLACEHOLDERS):
                continue
            if ("/" in path and first in TOP_LEVEL) or path in ROOT_FILES:
                paths.add(path)
    return sorted(paths)


def named_tests():
    return sorted(set(re.findall(r"(tests/test_\w+\.py)::(\w+)", GUIDE)))


def named_python_names():
    return sorted({span for span in re.findall(r"`([^`\n]+)`", GUIDE)
                   if re.fullmatch(r"course(\.\w+)+", span) and "NAME" not in span})


def walk_through_tables():
    """Each ``| step | file | names |`` table: a list of (file, [names]) rows."""
    tables = []
    for block in re.findall(r"\| step \| file \| names \|\n\|[-| ]+\|\n((?:\|.*\|\n)+)", GUIDE):
        rows = []
        for line in block.splitlines():
            _, _, file_cell, names_cell, _ = line.split("|", 4)
            (path,) = re.findall(r"`([^`]+)`", file_cell)
            rows.append((path, re.findall(r"`([^`]+)`", names_cell)))
        tables.append(rows)
    return tables


def test_the_readme_links_to_the_guide():
    assert "(CONTRIBUTING.md)" in (ROOT / "README.md").read_text()


def test_the_guide_names_files_at_all():
    paths = named_paths()
    assert {"course/kernels/cpu/activations.py", "autograder/make_samples.py",
            ".pre-commit-config.yaml"} <= set(paths)


@pytest.mark.parametrize("path", named_paths())
def test_every_file_the_guide_names_exists(path):
    assert (ROOT / path).exists(), f"CONTRIBUTING.md names {path}, which does not exist"


@pytest.mark.parametrize("path, name", named_tests(), ids=[f"{p}::{n}" for p, n in named_tests()])
def test_every_test_the_guide_names_exists(path, name):
    tree = ast.parse((ROOT / path).read_text())
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert name in functions, f"CONTRIBUTING.md names {path}::{name}, which does not exist"


@pytest.mark.parametrize("dotted", named_python_names())
def test_every_python_name_the_guide_names_exists(dotted):
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):  # the longest importable module, then attributes
        try:
            value = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attr in parts[split:]:
            assert hasattr(value, attr), f"CONTRIBUTING.md names {dotted}: no {attr}"
            value = getattr(value, attr)
        return
    pytest.fail(f"CONTRIBUTING.md names {dotted}, which does not import")


def named_commands():
    """The first word of every command in the guide's ``bash`` blocks, and the modules that
    ``python -m`` runs anywhere in the guide."""
    tools = set()
    for block in re.findall(r"```bash\n(.*?)```", GUIDE, flags=re.S):
        for line in block.splitlines():
            for command in line.split("#")[0].split("&&"):
                words = [w for w in command.split() if "=" not in w.split("/")[0]]
                if words and words[0] != ".":
                    tools.add(words[0])
    modules = set(re.findall(r"python -m ([\w.]+)", GUIDE))
    return sorted(tools), sorted(modules)


def test_every_command_the_guide_runs_is_installed():
    tools, modules = named_commands()
    assert {"pytest", "ruff", "nbgrader", "nbstripout", "pre-commit"} <= set(tools)
    bin_dir = str(Path(sys.executable).parent)
    for tool in tools:
        assert shutil.which(tool, path=bin_dir) or shutil.which(tool), f"{tool} is not installed"
    assert "course.check_gpu" in modules
    for module in modules:
        assert importlib.util.find_spec(module), f"python -m {module}: no such module"


def test_every_marker_the_guide_names_is_registered(pytestconfig):
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    named = set()
    for expression in re.findall(r'pytest -m (\w+|"[^"]+")', GUIDE):
        named |= set(re.findall(r"\w+", expression)) - {"and", "or", "not"}
    named |= set(re.findall(r"pytest\.mark\.(\w+)", GUIDE))
    assert {"dense", "gpu", "grading", "notebooks"} <= named
    assert named <= registered


def test_walk_through_tables_match_the_code():
    """Each walk-through's table says which names each file holds: it does."""
    tables = walk_through_tables()
    assert [len(rows) for rows in tables] == [13, 6, 10]
    for rows in tables:
        for path, names in rows:
            text = (ROOT / path).read_text()
            missing = [name for name in names if name not in text]
            assert names and not missing, f"{path} does not hold {missing}"


def public_functions(module):
    return {name for name, value in vars(module).items()
            if inspect.isfunction(value) and not name.startswith("_")}


def test_your_turn_is_an_activation_the_library_lacks():
    """The exercise after walk-through 1 builds an activation that is not there yet (once a
    contributor adds it, the guide must pick another), and its row is not in the test table."""
    (title,) = re.findall(r"^### Your turn: (\w+)", GUIDE, flags=re.M)
    name = title.lower()
    assert not hasattr(ops, f"{name}_forward") and not hasattr(nn, title)
    assert f'Activation("{name}"' in GUIDE
    assert f'Activation("{name}"' not in (ROOT / "tests" / "test_activation_ops.py").read_text()


def test_every_kernel_set_offers_the_same_names():
    assert {"gelu_forward", "gelu_backward"} <= public_functions(reference)
    assert public_functions(cpu) == public_functions(reference)
    assert public_functions(gpu) == public_functions(reference)


def hooks():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    return [(repo["repo"], hook) for repo in config["repos"] for hook in repo["hooks"]]


def test_the_hooks_are_local_and_run_installed_tools():
    """CI cannot download hook repositories: every hook runs a tool of the dev extra."""
    assert {hook["id"] for _, hook in hooks()} == {"ruff", "nbstripout", "release-is-current"}
    bin_dir = str(Path(sys.executable).parent)
    for repo, hook in hooks():
        assert repo == "local" and hook["language"] == "system"
        tool = hook["entry"].split()[0]
        assert shutil.which(tool, path=bin_dir), f"{tool} is not installed by the dev extra"
        assert f"`{hook['id']}`" in GUIDE


def test_the_release_hook_runs_the_release_test():
    (entry,) = [hook["entry"] for _, hook in hooks() if hook["id"] == "release-is-current"]
    assert "tests/test_assignments.py -k test_release_is_generated_from_solutions" in entry


def test_ci_runs_the_hooks_then_the_tests():
    script = (ROOT / ".ci" / "run").read_text()
    assert script.index("pre-commit run --all-files") < script.index("\npytest")


def walk_through_3():
    start = GUIDE.index("## Walk-through 3")
    return GUIDE[start:GUIDE.index("\n## ", start + 1)]


def a1_cells():
    """{grade_id: nbgrader metadata} of assignment 1's solution notebook."""
    notebook = json.loads((ROOT / "solutions" / "a1_backprop" / "a1_backprop.ipynb").read_text())
    return {cell["metadata"]["nbgrader"]["grade_id"]: (cell["cell_type"],
                                                       cell["metadata"]["nbgrader"])
            for cell in notebook["cells"] if "nbgrader" in cell["metadata"]}


def test_walk_through_3_metadata_is_the_notebooks():
    """The nbgrader metadata the walk-through shows is that of the sigmoid's cells."""
    blocks = re.findall(r"```json\n(.*?)```", walk_through_3(), flags=re.S)
    assert len(blocks) == 2
    cells = a1_cells()
    for block in blocks:
        metadata = json.loads(textwrap.dedent(block))
        assert cells[metadata["grade_id"]][1] == metadata


def test_walk_through_3_points_and_scores_are_the_assignments():
    """The sigmoid's points, a1's autograded total and the new sample's score, as stated."""
    text = " ".join(walk_through_3().split())
    cells = a1_cells()
    (each,) = {int(p) for p in re.findall(r"`sigmoid_backward`, worth (\d+) points each", text)}
    assert cells["test_sigmoid_forward"][1]["points"] == cells["test_sigmoid_backward"][1][
        "points"] == each
    auto = sum(meta.get("points", 0) for kind, meta in cells.values()
               if kind == "code" and meta["grade"])
    written = sum(meta["points"] for kind, meta in cells.values()
                  if kind == "markdown" and meta["grade"])
    expected = json.loads(
        (ROOT / "autograder" / "samples" / "a1_backprop" / "expected.json").read_text())
    (total,) = re.findall(r"a1's autograded total is (\d+)", text)
    (lost,) = re.findall(r"minus the (\d+) points of the two written answers", text)
    assert int(total) == auto == expected["solution"]["score"] == 100 - written
    assert int(lost) == written
    (score, minus, result) = re.findall(r"S = (\d+) - (\d+) = (\d+)", text)[0]
    assert (int(score), int(minus), int(result)) == (auto, each, auto - each)
    assert f'"gelu_missing_x_term": {{"score": {auto - each},' in text


def test_walk_through_3_adds_a_part_a1_lacks():
    """The worked example (GELU in a1) is not in the assignment yet; once it is, the guide must
    pick another."""
    from course.grading import CHECKS
    from course.mine import GRADED

    assert "a1.gelu_forward" not in CHECKS and "a1.gelu_backward" not in CHECKS
    assert not {"gelu_forward", "gelu_backward"} & {n for names in GRADED.values() for n in names}
    assert "gelu_forward" not in a1_cells()
    assert not (ROOT / "autograder" / "mutants" / "a1_backprop" /
                "gelu_backward_missing_x_term.py").exists()
    assert "a1.sigmoid_backward" in CHECKS and "sigmoid_backward" in GRADED["a1_backprop"]
