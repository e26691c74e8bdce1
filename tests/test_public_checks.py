"""The students' self-checks: all pass on the solutions, all fail on the stubs, briefly."""

import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def _pytest(folder, *args):
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _count(output, word):
    found = re.search(rf"(\d+) {word}", output)
    return int(found.group(1)) if found else 0


@pytest.fixture(scope="module")
def stubs_alone(tmp_path_factory):
    """exercises/ copied where no solution is anywhere near."""
    folder = tmp_path_factory.mktemp("student") / "exercises"
    shutil.copytree(ROOT / "exercises", folder)
    return folder


@pytest.fixture(scope="module")
def stubs_run(stubs_alone):
    """The self-checks, run once on the untouched stubs."""
    return _pytest(stubs_alone, "-q")


def test_every_self_check_passes_on_the_solutions():
    done = _pytest(ROOT / "solutions")
    assert done.returncode == 0, done.stdout
    assert _count(done.stdout, "passed") >= 30 and _count(done.stdout, "failed") == 0


def test_every_self_check_fails_on_the_stubs_with_one_short_line(stubs_run):
    done = stubs_run
    assert _count(done.stdout, "passed") == 0
    failed = _count(done.stdout, "failed")
    assert failed >= 30
    reasons = re.findall(r"^not implemented yet: (ex\d_\w+)\.([\w.]+)$", done.stdout, re.MULTILINE)
    assert len(reasons) == failed, done.stdout
    assert "Traceback" not in done.stdout and "NotImplementedError" not in done.stdout


def test_nbgrader_stubs_fail_with_the_same_short_lines(stubs_alone, stubs_run, tmp_path):
    """nbgrader's release replaces answers with a bare `raise NotImplementedError()`."""
    folder = tmp_path / "exercises"
    shutil.copytree(stubs_alone, folder)
    for stub in folder.glob("ex*.py"):
        ours = stub.read_text()
        bare = re.sub(r'NotImplementedError\("[^"]*"\)', "NotImplementedError()", ours)
        assert bare != ours
        stub.write_text(bare)
    done = _pytest(folder, "-q")
    lines = re.compile(r"^not implemented yet: [\w.]+$", re.MULTILINE)
    assert lines.findall(done.stdout)
    assert lines.findall(done.stdout) == lines.findall(stubs_run.stdout)
    assert _count(done.stdout, "failed") == _count(stubs_run.stdout, "failed")
    assert "Traceback" not in done.stdout


def test_one_exercise_is_selected_by_its_marker(stubs_alone):
    done = _pytest(stubs_alone, "-q", "-m", "ex3_module")
    assert _count(done.stdout, "failed") == 5 and _count(done.stdout, "deselected") >= 25
    assert set(re.findall(r"^not implemented yet: (\w+)\.", done.stdout, re.MULTILINE)) == {
        "ex3_module"
    }


def test_an_unfinished_function_fails_only_its_own_checks(stubs_alone, tmp_path):
    folder = tmp_path / "exercises"
    shutil.copytree(stubs_alone, folder)
    solution = (ROOT / "solutions" / "ex3_module.py").read_text()
    stub = (folder / "ex3_module.py").read_text()
    # Finish the class but not count_parameters.
    start, end = stub.index("class OurFirstNeuralNetwork"), stub.index("def count_parameters")
    begin, finish = (
        solution.index("class OurFirstNeuralNetwork"),
        solution.index("def count_parameters"),
    )
    (folder / "ex3_module.py").write_text(stub[:start] + solution[begin:finish] + stub[end:])
    done = _pytest(folder, "-q", "-m", "ex3_module")
    assert _count(done.stdout, "passed") == 3 and _count(done.stdout, "failed") == 2
    unfinished = re.findall(r"^not implemented yet: ([\w.]+)$", done.stdout, re.MULTILINE)
    assert set(unfinished) == {"ex3_module.count_parameters"}


def test_a_wrong_answer_explains_what_was_checked(stubs_alone, tmp_path):
    folder = tmp_path / "exercises"
    shutil.copytree(stubs_alone, folder)
    stub = (folder / "ex1_forward.py").read_text()
    (folder / "ex1_forward.py").write_text(
        stub.replace(
            'raise NotImplementedError("ex1_forward: mse_loss")',
            "return ((prediction - target) ** 2).sum()",
        )
    )
    done = _pytest(folder, "-q", "-k", "mse_loss_by_hand")
    assert _count(done.stdout, "failed") == 1
    for line in ("checked:  mse_loss(", "expected: 1.666", "got:      5.0", "hint:"):
        assert line in done.stdout, done.stdout
