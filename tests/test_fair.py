"""Correct work in any reasonable style passes every self-check and earns full marks."""

import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.fair_corpus import FAIR, Fair, write_fair
from tests.helpers import ROOT, SEED, read_results, run_grader

SELF_CHECKS = ("conftest.py", "pytest.ini", "selfcheck.py", "test_ex1_forward.py",
               "test_ex2_backward.py", "test_ex3_module.py", "test_ex4_training.py")  # fmt: skip


@pytest.fixture(scope="module")
def fair_class(tmp_path_factory, course):
    folder = tmp_path_factory.mktemp("fair-class")
    for fair in FAIR:
        write_fair(folder / fair.student, course, fair)
    return folder


@pytest.fixture(scope="module")
def graded(fair_class, tmp_path_factory):
    """The whole corpus, graded once by `grader batch`."""
    out = tmp_path_factory.mktemp("fair-out")
    done = run_grader("batch", str(fair_class), "--out", str(out), "--seed", str(SEED))
    assert done.returncode == 0, done.stderr
    return read_results(out)


@pytest.fixture(scope="module")
def self_checks(fair_class, tmp_path_factory):
    """Each .py submission with the students' self-checks beside it, run by pytest (two at once)."""
    base = tmp_path_factory.mktemp("fair-self-checks")

    def run(fair: Fair) -> subprocess.CompletedProcess:
        folder = base / fair.student
        shutil.copytree(fair_class / fair.student, folder)
        for name in SELF_CHECKS:
            shutil.copy(ROOT / "exercises" / name, folder / name)
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
            cwd=folder, capture_output=True, text=True, timeout=600,
        )  # fmt: skip

    scripts = [fair for fair in FAIR if not (fair.notebooks or fair.zipped)]
    with ThreadPoolExecutor(2) as pool:
        return dict(zip([f.student for f in scripts], pool.map(run, scripts), strict=True))


def _ids(fair: Fair) -> str:
    return fair.student


@pytest.mark.parametrize("fair", FAIR, ids=_ids)
def test_correct_work_earns_full_marks(graded, fair):
    result = graded[fair.student]
    lost = [
        f"{test['name']} ({test['score']}/{test['max_score']}): {test.get('output', '')[:400]}"
        for test in result["tests"]
        if test["status"] != "passed"
    ]
    assert not lost, f"{fair.what}: " + "\n".join(lost)
    assert result["score"] == sum(test["max_score"] for test in result["tests"]) > 0


@pytest.mark.parametrize("fair", [f for f in FAIR if not (f.notebooks or f.zipped)], ids=_ids)
def test_correct_work_passes_every_self_check(self_checks, fair):
    done = self_checks[fair.student]
    assert done.returncode == 0, f"{fair.what}:\n{done.stdout[-3000:]}"
