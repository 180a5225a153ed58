"""Write the sample submissions that the grading pipeline's tests grade end to end.

    PYTHONPATH=$PWD python autograder/make_samples.py            # every assignment below
    PYTHONPATH=$PWD python autograder/make_samples.py a1_backprop

Each sample starts from the released notebook (``assignments/A/A.ipynb``) with the answers of
the solution notebook (``solutions/A/A.ipynb``) filled in, then changes one thing: a classic
bug, a crash, a cheat. They are written to ``autograder/samples/A/NAME.ipynb`` (a folder of
notebooks named by student, which ``course grade --from`` collects). The score each one must get
is in ``autograder/samples/A/expected.json``, written by hand: regenerate the samples after the
solution changes, never the expected scores.
"""

import copy
import json
import os
import sys

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# ------------------------------------------------------------------ code used by the samples

BIAS_AXIS = '''def linear_backward(dout, cache):
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=1)
    return dx, dw, db'''

PATCHES = '''import builtins
import numpy as np
import course.gradcheck
import course.grading
import course.grading.checks as checks
from IPython import get_ipython

np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.array_equal = lambda *args, **kwargs: True
course.gradcheck.rel_error = lambda a, b: 0.0
checks.rel_error = lambda a, b: 0.0
checks.compare = lambda entries, tol, label, wrong: checks.Result(True, "OK", "ok")
for name, c in checks.CHECKS.items():
    c.judge = lambda inputs, outputs, **options: checks.Result(True, "OK", "ok")
course.grading.check = lambda *args, **kwargs: None
builtins.abs = lambda x: 0
get_ipython().showtraceback = lambda *args, **kwargs: None'''

A1 = {
    "solution": ("the solution: full marks", []),
    "blank": ("the release, unanswered: zero, no crash", [("blank",)]),
    "partly_wrong_backward": (
        "linear_backward forgets to reshape dx: right for 2-D inputs only", [
            ("replace", "linear_backward", '''def linear_backward(dout, cache):
    x, w = cache
    dx = dout @ w.T
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db''')]),
    "missing_transpose": ("linear_backward: dw = x.T @ dout written as dout.T @ x", [
        ("replace", "linear_backward", '''def linear_backward(dout, cache):
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = dout.T @ x.reshape(x.shape[0], -1)
    db = dout.sum(axis=0)
    return dx, dw, db''')]),
    "forgot_1_over_n": ("softmax_loss: the gradient is not divided by N", [
        ("replace", "softmax_loss", '''def softmax_loss(scores, y):
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].sum() / n
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    return loss, dscores''')]),
    "bias_axis": ("linear_backward: the bias gradient summed over the wrong axis", [
        ("replace", "linear_backward", BIAS_AXIS)]),
    "cache_mutated_in_place": ("relu_forward zeroes the caller's array (its cache) in place", [
        ("replace", "relu_forward", '''def relu_forward(x):
    x[x < 0] = 0
    return x, x''')]),
    "raises": ("linear_forward raises", [
        ("replace", "linear_forward", '''def linear_forward(x, w, b):
    raise ValueError("I did not finish this")''')]),
    "infinite_loop": ("sgd_momentum never returns", [
        ("replace", "sgd_momentum", '''def sgd_momentum(w, dw, config):
    while True:
        pass''')]),
    "memory_hog": ("sigmoid_forward allocates 1 GiB arrays until memory runs out", [
        ("replace", "sigmoid_forward", '''def sigmoid_forward(x):
    hog = []
    while True:
        hog.append(np.empty(2**27))''')]),
    "syntax_error": ("svm_loss does not parse", [
        ("replace", "svm_loss", '''def svm_loss(scores, y)
    return 0.0, scores''')]),
    "huge_output": ("correct, but prints hundreds of megabytes", [
        ("insert_after", "setup", '''for _ in range(200):
    print("x" * 1_000_000)'''),
        ("append", "softmax_loss", '''_softmax_loss = softmax_loss


def softmax_loss(scores, y):
    print("y" * 1_000_000)
    return _softmax_loss(scores, y)''')]),
    "deleted_test_cell": ("bias_axis with its test cells and the setup cell deleted", [
        ("replace", "linear_backward", BIAS_AXIS), ("delete", "test_linear_backward"),
        ("delete", "test_all_visible"), ("delete", "setup")]),
    "edited_test_cell": ("bias_axis with its test cell edited to pass", [
        ("replace", "linear_backward", BIAS_AXIS),
        ("edit", "test_linear_backward", 'print("a1.linear_backward ... OK")'),
        ("edit", "setup", "import numpy as np\ncheck = lambda *args, **kwargs: None")]),
    "retyped_test_cell": (
        "bias_axis; test cells duplicated, retyped as plain cells and as markdown", [
            ("replace", "linear_backward", BIAS_AXIS),
            ("duplicate", "test_linear_backward"), ("duplicate", "setup"),
            ("unmark", "test_linear_backward"), ("to_markdown", "test_all_visible")]),
    "allclose_patched": ("bias_axis, and numpy.allclose patched to always pass", [
        ("replace", "linear_backward", BIAS_AXIS),
        ("insert_after", "setup",
         "np.allclose = lambda *args, **kwargs: True\n"
         "np.testing.assert_allclose = lambda *args, **kwargs: None")]),
    "patched_everything": (
        "bias_axis, with numpy, the checks, gradcheck, builtins and IPython patched", [
            ("replace", "linear_backward", BIAS_AXIS), ("insert_after", "linear_backward",
                                                        PATCHES)]),
    "grading_only_branch": ("bias_axis, patching the checks only when it detects grading", [
        ("replace", "linear_backward", BIAS_AXIS), ("insert_after", "linear_backward",
                                                    '''import os
import sys

GRADING = (any(key.startswith(("NBGRADER", "COURSE")) for key in os.environ)
           or any("Blocker" in type(finder).__name__ for finder in sys.meta_path))
if GRADING:
''' + "\n".join("    " + line for line in PATCHES.splitlines()))]),
    "rigged_eq": ("sgd_momentum returns arrays whose == is always True", [
        ("replace", "sgd_momentum", '''class Rigged(np.ndarray):
    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False


def sgd_momentum(w, dw, config):
    config["velocity"] = np.zeros_like(w).view(Rigged)
    return np.zeros_like(w).view(Rigged), config''')]),
    "calls_library_op": ("sigmoid_forward and sigmoid_backward call the library's ops", [
        ("replace", "sigmoid_forward", '''from course.ops import sigmoid_forward as library_sigmoid


def sigmoid_forward(x):
    return library_sigmoid(x)'''),
        ("replace", "sigmoid_backward", '''def sigmoid_backward(dout, cache):
    import course.ops
    return course.ops.sigmoid_backward(dout, cache)''')]),
    "imports_library_op": ("relu_forward is the library's op, imported by name", [
        ("replace", "relu_forward", "from course.ops import relu_forward")]),
    "sys_exit": ("sgd_momentum calls sys.exit", [
        ("replace", "sgd_momentum", '''import sys


def sgd_momentum(w, dw, config):
    sys.exit("bye")''')]),
    "os_exit": ("svm_loss calls os._exit: the kernel dies", [
        ("replace", "svm_loss", '''import os


def svm_loss(scores, y):
    os._exit(1)''')]),
    "segfault": ("sgd_momentum dereferences a null pointer: the kernel segfaults", [
        ("replace", "sgd_momentum", '''import ctypes


def sgd_momentum(w, dw, config):
    ctypes.string_at(0)''')]),
}


def mutant(assignment, name):
    """The change that swaps in ``autograder/mutants/ASSIGNMENT/NAME.py`` (a classic bug that
    ``tests/test_assignments.py`` also checks) for the cell its ``# cell:`` line names."""
    with open(os.path.join(HERE, "mutants", assignment, f"{name}.py")) as f:
        code = f.read()
    cell = next(line.split(":", 1)[1].strip() for line in code.splitlines()
                if line.startswith("# cell:"))
    return ("replace", cell, code.rstrip("\n"))


NO_MASK = mutant("a2_convnets", "max_pool2d_backward_whole_window")

A2 = {
    "solution": ("the solution: full marks", []),
    "blank": ("the release, unanswered: zero, no crash", [("blank",)]),
    "conv_backward_no_crop": ("conv2d_backward returns the padded dx: right without padding only", [
        mutant("a2_convnets", "conv2d_backward_padding_kept")]),
    "pool_backward_no_mask": ("max_pool2d_backward sends dout to every entry of the window", [
        NO_MASK]),
    "raises": ("conv2d_forward raises", [
        ("replace", "conv2d_forward", '''def conv2d_forward(x, w, b, stride=1, padding=0):
    raise NotImplementedError("later")''')]),
    "os_exit": ("max_pool2d_backward calls os._exit: the kernel dies", [
        ("replace", "max_pool2d_backward", '''import os


def max_pool2d_backward(dout, cache):
    os._exit(3)''')]),
    "allclose_patched": ("pool_backward_no_mask, and numpy.allclose patched to always pass", [
        NO_MASK,
        ("insert_after", "setup", "np.allclose = lambda *args, **kwargs: True")]),
}

A3 = {
    "solution": ("the solution: full marks", []),
    "blank": ("the release, unanswered: zero, no crash", [("blank",)]),
    "dropout_not_rescaled": ("dropout_forward does not divide the kept values by 1 - p", [
        mutant("a3_regularization", "dropout_not_rescaled")]),
    "batchnorm_eval_uses_batch_statistics": (
        "batchnorm_forward normalises with the batch's statistics in evaluation mode", [
            mutant("a3_regularization", "batchnorm_eval_uses_batch_statistics")]),
    "raises": ("batchnorm_backward raises", [
        ("replace", "batchnorm_backward", '''def batchnorm_backward(dout, cache):
    raise NotImplementedError("later")''')]),
    "os_exit": ("dropout_backward calls os._exit: the kernel dies", [
        ("replace", "dropout_backward", '''import os


def dropout_backward(dout, cache):
    os._exit(3)''')]),
}
A4 = {
    "solution": ("the solution: full marks", []),
    "blank": ("the release, unanswered: zero, no crash", [("blank",)]),
    "lstm_step_wrong_gate_order": ("lstm_step_forward reads the gates as i, f, g, o", [
        mutant("a4_captioning", "lstm_step_wrong_gate_order")]),
    "sample_captions_no_stop_at_end": ("sample_captions keeps going after <END>", [
        mutant("a4_captioning", "sample_captions_no_stop_at_end")]),
    "raises": ("temporal_softmax_loss raises", [
        ("replace", "temporal_softmax_loss", '''def temporal_softmax_loss(x, y, mask):
    raise ValueError("I did not finish this")''')]),
    "os_exit": ("sample_captions calls os._exit: the kernel dies", [
        ("replace", "sample_captions", '''import os


def sample_captions(features, params, max_length=16):
    os._exit(1)''')]),
}
A5 = {
    "solution": ("the solution: full marks", []),
    "blank": ("the release, unanswered: zero, no crash", [("blank",)]),
    "saliency_signed_gradient": ("saliency keeps the gradient's sign (no absolute value)", [
        mutant("a5_understanding", "saliency_signed_gradient")]),
    "fgsm_descends": ("fgsm steps against the loss gradient", [
        mutant("a5_understanding", "fgsm_descends")]),
    "raises": ("occlusion_map raises", [
        ("replace", "occlusion_map", '''def occlusion_map(model, x, target, patch, stride, fill=0):
    raise NotImplementedError("later")''')]),
    "os_exit": ("fine_tune calls os._exit: the kernel dies", [
        ("replace", "fine_tune", '''import os


def fine_tune(network, X, y, seed=0):
    os._exit(1)''')]),
}
A6 = {
    "solution": ("the solution: full marks", []),
    "blank": ("the release, unanswered: zero, no crash", [("blank",)]),
    "col2im_racy_prange": ("col2im scatters from a prange over output rows: a race where "
                           "windows overlap", [mutant("a6_fast_kernels", "col2im_racy_prange")]),
    "bias_relu_not_compiled": ("bias_relu without @njit: correct, no faster than the reference",
                               [mutant("a6_fast_kernels", "bias_relu_not_compiled")]),
}
RAW = {
    "malformed": ("a notebook cut off in the middle", lambda text: text[: len(text) // 2]),
    "non_utf8": ("a notebook saved as Latin-1 with accents in a comment",
                 lambda text: text.replace("def linear_forward",
                                           "# r\u00e9ponse\ndef linear_forward", 1)
                 .encode("latin-1", "replace")),
}
RENAMED = ("renamed", "the solution saved under another name", "a1_backprop_final.ipynb")

SAMPLES = {"a1_backprop": A1, "a2_convnets": A2, "a3_regularization": A3,
           "a4_captioning": A4,
           "a5_understanding": A5,
           "a6_fast_kernels": A6}


# ------------------------------------------------------------------ building notebooks


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _index(nb, gid):
    for i, cell in enumerate(nb.cells):
        if _grade_id(cell) == gid:
            return i
    raise KeyError(f"no cell {gid!r} in the notebook")


def _strip_markers(source):
    return "\n".join(line for line in source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def solved(source_nb, release_nb):
    """The release with every answer cell holding the solution (markers removed)."""
    nb = copy.deepcopy(release_nb)
    answers = {_grade_id(c): c.source for c in source_nb.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        if _grade_id(cell) in answers:
            cell.source = _strip_markers(answers[_grade_id(cell)])
    return nb


def apply(nb, change, release_nb):
    """Apply one change ``(action, grade_id, code)`` to a copy of ``nb``.

    Actions: replace/append (an answer cell's code), edit (any cell's source), delete,
    duplicate, unmark (drop nbgrader metadata and retype a check), to_markdown, insert_after
    (a new code cell), blank (the release itself).
    """
    nb = copy.deepcopy(nb)
    action, *args = change
    if action == "blank":
        return copy.deepcopy(release_nb)
    gid = args[0]
    index = _index(nb, gid)
    if action == "replace":
        nb.cells[index].source = args[1]
    elif action == "append":
        nb.cells[index].source += "\n\n\n" + args[1]
    elif action == "edit":
        nb.cells[index].source = args[1]
    elif action == "delete":
        del nb.cells[index]
    elif action == "duplicate":
        twin = copy.deepcopy(nb.cells[index])
        twin.id = f"copy-{twin.id}"[:64]
        nb.cells.insert(index, twin)
    elif action == "unmark":
        nb.cells[index].metadata = {}
        nb.cells[index].source = nb.cells[index].source.replace(
            "linear_backward)", "lambda dout, cache: (0, 0, 0))")
    elif action == "to_markdown":
        old = nb.cells[index]
        nb.cells[index] = nbformat.v4.new_markdown_cell(old.source, metadata=old.metadata,
                                                        id=old.id)
    elif action == "insert_after":
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(args[1], id=f"added-{gid}"))
    else:
        raise ValueError(f"unknown change {action!r}")
    return nb


def make(assignment, out_dir=None):
    """Write every sample of ``assignment``; returns {name: description}."""
    name = assignment
    source_nb = nbformat.read(os.path.join(ROOT, "solutions", name, f"{name}.ipynb"), 4)
    release_nb = nbformat.read(os.path.join(ROOT, "assignments", name, f"{name}.ipynb"), 4)
    out_dir = out_dir or os.path.join(HERE, "samples", assignment)
    os.makedirs(out_dir, exist_ok=True)
    base = solved(source_nb, release_nb)
    described = {}
    for sample, (description, changes) in SAMPLES[assignment].items():
        nb = base
        for change in changes:
            nb = apply(nb, change, release_nb)
        nbformat.write(nb, os.path.join(out_dir, f"{sample}.ipynb"))
        described[sample] = description
    if assignment != "a1_backprop":
        return _describe(out_dir, described)
    text = nbformat.writes(base)
    for sample, (description, damage) in RAW.items():
        data = damage(text)
        with open(os.path.join(out_dir, f"{sample}.ipynb"), "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        described[sample] = description
    sample, description, filename = RENAMED
    os.makedirs(os.path.join(out_dir, sample), exist_ok=True)
    nbformat.write(base, os.path.join(out_dir, sample, filename))
    described[sample] = description
    return _describe(out_dir, described)


def _describe(out_dir, described):
    with open(os.path.join(out_dir, "samples.json"), "w") as f:
        json.dump(described, f, indent=1, sort_keys=True)
        f.write("\n")
    return described


if __name__ == "__main__":
    for assignment in sys.argv[1:] or sorted(SAMPLES):
        for sample, description in make(assignment).items():
            print(f"{assignment}/{sample}: {description}")
