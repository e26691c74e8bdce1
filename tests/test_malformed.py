"""Malformed submissions: each is graded to the end, with a message that names the problem."""

import json
import zipfile

import pytest

from samples.make_class import write_submission
from tests.helpers import SEED, read_results, run_grader


def _make(folder, course):
    """One submission per kind of malformed input, the other exercises being fine."""
    cases = {}

    def reference(name):
        write_submission(folder / name, course)
        return folder / name

    cases["syntax_error"] = reference("syntax_error") / "ex1_forward.py"
    cases["syntax_error"].write_text("def sigmoid(z)\n    return z\n")
    (reference("empty_file") / "ex3_module.py").write_text("")
    (reference("binary_garbage") / "ex2_backward.py").write_bytes(bytes(range(256)) * 10)
    (reference("corrupt_notebook") / "ex4_training.py").unlink()
    (folder / "corrupt_notebook" / "ex4_training.ipynb").write_text('{"cells": [{"cell_type": "co')
    missing = reference("missing_file")
    (missing / "ex2_backward.py").unlink()
    # A zip whose members climb out of the folder, nested in a parent folder, plus a bomb.
    with zipfile.ZipFile(folder / "zipped.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        source = folder / "missing_file"
        for name in ("ex1_forward.py", "ex3_module.py", "ex4_training.py"):
            archive.write(source / name, f"../../escape/{name}")
        archive.writestr("ex2_backward.py", b"\0" * (50 * 1024 * 1024))  # 50 MiB of zeros
    return cases


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    folder = tmp_path_factory.mktemp("malformed")
    _make(folder / "class", course)
    done = run_grader(
        "batch", str(folder / "class"), "--out", str(folder / "out"), "--seed", str(SEED)
    )
    assert done.returncode == 0, done.stderr
    return read_results(folder / "out"), folder


def _outputs(result, exercise):
    return [t for t in result["tests"] if t["tags"][0] == exercise]


@pytest.mark.parametrize(
    ("student", "exercise", "words"),
    [
        ("syntax_error", "ex1_forward", "has a syntax error"),
        ("empty_file", "ex3_module", "defines no"),
        ("binary_garbage", "ex2_backward", "is not UTF-8 text"),
        ("corrupt_notebook", "ex4_training", "is not a valid notebook"),
        ("missing_file", "ex2_backward", "no ex2_backward.py (or ex2_backward.ipynb) found"),
        ("zipped", "ex2_backward", "larger than 2 MiB"),
    ],
)
def test_each_problem_costs_its_exercise_with_a_clear_message(graded, student, exercise, words):
    result = graded[0][student]
    tests = _outputs(result, exercise)
    assert all(t["score"] == 0 for t in tests)
    assert all(words in t["output"] for t in tests), tests[0]["output"]
    others = [t for t in result["tests"] if t["tags"][0] != exercise]
    assert all(t["status"] == "passed" for t in others), "other exercises must be graded normally"


def test_a_zip_is_read_in_memory_and_nothing_escapes(graded):
    results, folder = graded
    assert results["zipped"]["score"] == 100 - sum(
        t["max_score"] for t in _outputs(results["zipped"], "ex2_backward")
    )
    assert not (folder.parent / "escape").exists() and not (folder / "escape").exists()


def test_syntax_errors_show_the_line(graded):
    output = _outputs(graded[0]["syntax_error"], "ex1_forward")[0]["output"]
    assert "line 1" in output and "def sigmoid(z)" in output
    assert json.dumps(graded[0]["syntax_error"])  # results stay valid JSON
