"""`grader gradescope`: the bundle holds what grading needs and nothing else, and its
run_autograder, run as Gradescope would, grades like `grader grade` (setup.sh is not run)."""

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from samples.make_class import write_submission
from samples.mistakes import MISTAKES
from tests.helpers import run_grader

SEED = 7
SCRIPTS = ("setup.sh", "run_autograder")
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
[MISTAKE] = [m for m in MISTAKES if m.student == "backward_no_mean"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    done = run_grader("gradescope", str(out), "--seed", str(SEED))
    assert done.returncode == 0, done.stderr
    return {"zip": out, "stdout": done.stdout}


def _gradescope_folder(parent: Path, bundle_zip: Path, course) -> Path:
    """/autograder as Gradescope lays it out: the bundle unpacked (permissions kept, as
    unzip does) in source/, a student's files in submission/."""
    root = parent / "autograder"
    with zipfile.ZipFile(bundle_zip) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, root / "source"))
            path.chmod(stat.S_IMODE(info.external_attr >> 16))
    write_submission(root / "submission", course, MISTAKE)
    return root


def _run_autograder(root: Path, python: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(root / "source" / "run_autograder")],
        env={**os.environ, "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": python},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def gradescope_run(tmp_path_factory, bundle, course):
    """The bundle's run_autograder on one student, and `grader grade` on the same folder."""
    tmp = tmp_path_factory.mktemp("gradescope")
    root = _gradescope_folder(tmp, bundle["zip"], course)
    done = _run_autograder(root, sys.executable, cwd=root)
    assert done.returncode == 0, done.stderr
    direct = tmp / "direct.json"
    graded = run_grader(
        "grade", str(root / "submission"), "--results", str(direct), "--seed", str(SEED)
    )
    assert graded.returncode == 0, graded.stderr
    return {
        "results": json.loads((root / "results" / "results.json").read_text(encoding="utf-8")),
        "direct": json.loads(direct.read_text(encoding="utf-8")),
        "stderr": done.stderr,
    }


def _assert_gradescope_format(result: dict) -> None:
    assert isinstance(result["score"], int | float)
    assert isinstance(result["output"], str) and result["output"]
    assert isinstance(result["tests"], list)
    for test in result["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in VISIBILITIES
        assert 0 <= test["score"] <= test["max_score"]


def test_bundle_holds_what_grading_needs_and_nothing_else(bundle, course):
    with zipfile.ZipFile(bundle["zip"]) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        seed = archive.read("seed").decode()
    names = set(infos)
    expected_solutions = {f"solutions/{e.file}" for e in course.exercises}
    expected_checks = {f"grader/checks/test_{e.id}.py" for e in course.exercises}
    assert {*SCRIPTS, "seed", "course.yml", "pyproject.toml", "constraints.txt"} <= names
    assert expected_solutions | expected_checks <= names
    assert {"grader/__main__.py", "grader/checks/conftest.py", "grader/checks/pytest.ini"} <= names
    assert {"grader/sandbox/inside/zygote.py", "grader/platforms/gradescope/bundle.py"} <= names
    # Only those kinds of files: the scripts and project files at the root, the reference
    # solutions (not the public self-checks), the package.
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {*SCRIPTS, "seed", "course.yml", "pyproject.toml", "constraints.txt"} | {
        "solutions",
        "grader",
    }
    assert {n for n in names if n.startswith("solutions/")} == expected_solutions
    for name in names:
        parts = name.split("/")
        assert not {"__pycache__", ".venv", "tests", "exercises", ".git"} & set(parts), name
        assert not name.endswith((".pyc", ".partial")) and ".egg-info" not in name, name
    for name, info in infos.items():
        mode = info.external_attr >> 16
        assert stat.S_ISREG(mode), name
        executable = bool(mode & stat.S_IXUSR)
        assert executable == (name in SCRIPTS), f"{name}: mode {oct(mode)}"
    assert seed.strip() == str(SEED)
    assert f"with seed {SEED}" in bundle["stdout"] and str(bundle["zip"]) in bundle["stdout"]


def test_bundle_scripts_are_valid_bash(bundle, tmp_path):
    with zipfile.ZipFile(bundle["zip"]) as archive:
        for name in SCRIPTS:
            script = tmp_path / name
            script.write_bytes(archive.read(name))
            assert archive.read(name).startswith(b"#!/usr/bin/env bash\n"), name
            checked = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
            assert checked.returncode == 0, f"{name}: {checked.stderr}"


def test_run_autograder_writes_gradescope_results(gradescope_run):
    result = gradescope_run["results"]
    _assert_gradescope_format(result)
    assert result["tests"], "no checks in the results"
    assert result["extra_data"]["seed"] == SEED
    active = {p["name"] for p in result["extra_data"]["protections"] if p["active"]}
    assert {"uid", "landlock", "seccomp"} <= active
    # The student's mistake costs exactly its checks, as in the sample class.
    failed = {test["tags"][1] for test in result["tests"] if test["status"] != "passed"}
    assert failed == MISTAKE.fails


def test_run_autograder_scores_like_grader_grade(gradescope_run):
    def scores(result):
        return {
            tuple(test["tags"]): (test["score"], test["max_score"], test["status"])
            for test in result["tests"]
        }

    assert scores(gradescope_run["results"]) == scores(gradescope_run["direct"])
    assert gradescope_run["results"]["score"] == gradescope_run["direct"]["score"]


def test_a_failing_grader_still_gives_a_valid_zero(tmp_path, bundle, course):
    root = _gradescope_folder(tmp_path, bundle["zip"], course)
    # A relative AUTOGRADER_ROOT, run from elsewhere: the script makes it absolute.
    done = _run_autograder(Path("autograder"), "/bin/false", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "the grader failed" in done.stderr
    result = json.loads((root / "results" / "results.json").read_text(encoding="utf-8"))
    _assert_gradescope_format(result)
    assert result["score"] == 0 and result["tests"] == []
    assert "Grading failed" in result["output"] and "contact your instructor" in result["output"]
    assert result["extra_data"]["seed"] == SEED
