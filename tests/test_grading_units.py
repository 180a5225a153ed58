"""Parts of ``course grade`` that need no kernel: collection, the worker pool's retries, the
similarity report, the feedback page, the judge process. Fast."""

import os
import zipfile

import nbformat
import pytest

from course.grading import similarity
from course.grading.pipeline import DIED, Submission, _run, collect, course_directory

pytestmark = pytest.mark.grading


def _notebook(path, text="x"):
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(text)]), path)
    return path


# ------------------------------------------------------------------ collection


def test_two_files_for_one_student_id_are_an_error_naming_both(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("alice.ipynb", "alice~.ipynb", "bob.ipynb", "bobé.ipynb", "carol.ipynb"):
        _notebook(folder / name)
    problems = []
    students = collect(course_directory(str(tmp_path)), "a1", str(folder), ["a1"], problems)
    assert students == ["carol"]
    errors = [p for p in problems if p.startswith("error")]
    assert len(errors) == 2
    assert "alice.ipynb and alice~.ipynb" in errors[0] and "'alice'" in errors[0]
    assert "bob.ipynb and bobé.ipynb" in errors[1] and "'bob'" in errors[1]
    assert not (tmp_path / "submitted" / "alice").exists()


def test_directories_and_other_files_are_skipped_with_a_warning(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("dave/a1_backprop.ipynb/notes.ipynb", "{}")
        z.writestr("erin/a1_backprop.ipynb", nbformat.writes(nbformat.v4.new_notebook()))
        z.writestr("erin/data.csv", "1,2")
        z.writestr("notes.txt", "hello")
    problems = []
    students = collect(course_directory(str(tmp_path)), "a1_backprop", str(archive),
                       ["a1_backprop"], problems)
    assert students == ["dave", "erin"]  # dave has no notebook: graded as missing
    assert any("dave/a1_backprop.ipynb" in p and "skipped" in p for p in problems)
    assert any("data.csv" in p for p in problems) and any("notes.txt" in p for p in problems)
    assert (tmp_path / "submitted" / "erin" / "a1_backprop" / "a1_backprop.ipynb").is_file()
    assert os.listdir(tmp_path / "submitted" / "dave" / "a1_backprop") == ["timestamp.txt"]


# ------------------------------------------------------------------ dead workers


def grade_or_die(student):
    """A stand-in for one submission's grading: 'mallory' kills her worker process."""
    if student == "mallory":
        os._exit(1)
    return f"graded {student}"


def test_a_worker_that_dies_is_replaced_and_only_its_submission_fails():
    students = ["alice", "mallory", "bob"]
    jobs = [(Submission(s, "", ""), (s,)) for s in students]
    results = {sub.student: (graded, error)
               for sub, graded, error in _run(jobs, 2, function=grade_or_die)}
    assert sorted(results) == sorted(students)
    for student in students:
        if student == "mallory":
            assert results[student][0] is None
            assert results[student][1].startswith(DIED.split("(")[0])
        else:
            assert results[student] == (f"graded {student}", None)


# ------------------------------------------------------------------ similarity


LIBRARY_LIKE = '''
def relu_forward(x):
    """ReLU."""
    out = np.maximum(0, x)
    cache = x
    for i in range(3):
        out = out + 0 * i
    return out, cache
'''
RENAMED = '''
def relu_forward(inputs):
    # my own work
    result   = np.maximum(0, inputs)
    saved = inputs
    for k in range(3):
        result = result + 0 * k
    return result, saved
'''
DIFFERENT = '''
def relu_forward(x):
    mask = x > 0
    y = x * mask
    if y.ndim > 5:
        raise ValueError("too many dimensions for this exercise")
    return y, (mask, x.shape, x.dtype)
'''


def test_similarity_sees_through_renaming_and_formatting():
    students = {"ann": similarity.functions(RENAMED), "ben": similarity.functions(DIFFERENT),
                "cat": similarity.functions(LIBRARY_LIKE)}
    library = {"relu_forward": [("library:course/ops/x.py",
                                 similarity.functions(LIBRARY_LIKE)["relu_forward"])]}
    matches = {(m.student, m.other): m.similarity for m in similarity.compare(students, library)}
    assert matches == {("ann", "cat"): 1.0, ("ann", "library:course/ops/x.py"): 1.0,
                       ("cat", "library:course/ops/x.py"): 1.0}


def test_similarity_finds_the_librarys_own_functions():
    library = similarity.library_functions()
    assert "linear_forward" in library
    assert all(where.startswith("library:course/") for where, _ in library["linear_forward"])


# ------------------------------------------------------------------ judge process


def test_the_judge_runs_in_an_isolated_interpreter(tmp_path):
    import numpy as np

    from course.grading.checks import CHECKS
    from course.grading.judge import Judge
    from course.grading.notebook import CheckCall

    call = CheckCall("selftest.square", ("square",), seed=3, options=(("n", 4),))
    x = CHECKS["selftest.square"].make_inputs(3, n=4)["x"]
    np.savez(tmp_path / "right.npz", y=x ** 2)
    np.savez(tmp_path / "wrong.npz", y=x)
    judge = Judge()
    try:
        assert judge(call, str(tmp_path / "right.npz"))[:2] == (True, "ok")
        assert judge(call, str(tmp_path / "wrong.npz"))[:2] == (False, "wrong value")
        flags = judge.process.args
        assert flags[1:3] == ["-I", "-B"]
    finally:
        judge.close()


# ------------------------------------------------------------------ stronger checks


def _dropout(pattern):
    import numpy as np

    def dropout_forward(x, p, train=True, rng=None):
        if not train:
            return x.copy(), None
        if pattern == "random":
            mask = np.random.default_rng(rng).random(x.shape) >= p
        elif pattern == "last":  # always drops the last p * N entries
            mask = np.arange(x.size).reshape(x.shape) < round((1 - p) * x.size)
        else:  # the same random-looking mask whatever the seed
            mask = np.random.default_rng(0).random(x.shape) >= p
        return x * mask / (1 - p), mask

    return dropout_forward


@pytest.mark.parametrize("pattern, passes", [("random", True), ("last", False),
                                             ("fixed", False)])
def test_dropout_masks_must_be_random(pattern, passes):
    from course.grading.checks import CHECKS

    spec = CHECKS["a3.dropout_forward"]
    for seed in range(5):
        inputs = spec.make_inputs(seed)
        result = spec.judge(inputs, spec.call((_dropout(pattern),), inputs))
        assert result.passed is passes, result.message


def test_dropout_mask_statistics_per_half():
    import numpy as np

    from course.grading.checks import mask_problem

    rng = np.random.default_rng(0)
    random = [rng.random(2000) >= 0.3 for _ in range(2)]
    assert mask_problem(random, 0.3, "f") is None
    shifted = [np.roll(np.arange(2000) < 1400, k) for k in (0, 1)]  # differ, not random
    assert "one half" in mask_problem(shifted, 0.3, "f").message


def test_similarity_report_of_a_class(tmp_path):
    """``course grade --similarity`` on a class: the renamed copy of another student's answer
    and the library's own function are listed; the CSV changes no score."""
    from course.grading.cli import main

    def answer_cell(code):
        return nbformat.v4.new_code_cell(code, metadata={"nbgrader": {
            "grade_id": "relu", "solution": True, "grade": False, "locked": False,
            "schema_version": 3}})

    source = nbformat.v4.new_notebook(cells=[answer_cell("def relu_forward(x):\n    pass")])
    (tmp_path / "solutions" / "t1").mkdir(parents=True)
    nbformat.write(source, tmp_path / "solutions" / "t1" / "t1.ipynb")
    for student, code in (("ann", RENAMED), ("cat", LIBRARY_LIKE), ("ben", DIFFERENT)):
        folder = tmp_path / "submitted" / student / "t1"
        folder.mkdir(parents=True)
        nbformat.write(nbformat.v4.new_notebook(cells=[answer_cell(code)]), folder / "t1.ipynb")
    assert main(["t1", "--root", str(tmp_path), "--similarity"]) == 0
    with open(tmp_path / "similarity_t1.csv") as f:
        rows = [line.strip().split(",") for line in f][1:]
    assert rows == [["ann", "relu_forward", "cat", "1.0"]]
    assert not (tmp_path / "gradebook.db").exists()
