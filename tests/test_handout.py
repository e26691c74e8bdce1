"""`grader handout`: the student kit as one zip, and what a student does with it.

The last test is the student's first ten minutes: unzip the kit, make a fresh virtual
environment, install only the kit's requirements.txt (offline: this machine's local
package sources, any other traffic sent to a closed port on 127.0.0.1), run pytest on the
stubs, then on the reference solutions.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import zipfile

import pytest

from grader.authoring.build import generated_files, stale_files
from tests.helpers import ROOT, run_grader

# Any request pip would send past the local sources goes here and fails at once.
DEAD_PROXY = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
def kit(tmp_path_factory):
    out = tmp_path_factory.mktemp("kit") / "kit.zip"
    done = run_grader("handout", str(out))
    assert done.returncode == 0, done.stderr
    assert f"wrote {out}" in done.stdout
    return out


def test_the_kit_is_exactly_exercises_under_one_folder_in_a_fixed_order(kit, course):
    with zipfile.ZipFile(kit) as archive:
        names = archive.namelist()
        files = {name: archive.read(name).decode() for name in names}
    expected = generated_files(course)
    assert names == [f"{course.name}/{name}" for name in sorted(expected)]
    assert files == {f"{course.name}/{name}": text for name, text in expected.items()}
    assert {"README.md", "requirements.txt"} <= set(expected)


def test_packing_twice_gives_the_same_bytes(kit, tmp_path):
    again = tmp_path / "again.zip"
    done = run_grader("handout", str(again))
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == kit.read_bytes()


def test_caches_in_exercises_stay_out_of_the_kit(course_copy, tmp_path, kit):
    exercises = course_copy.exercises_dir
    (exercises / "__pycache__").mkdir()
    (exercises / "__pycache__" / "ex1_forward.cpython-311.pyc").write_bytes(b"\0")
    (exercises / ".pytest_cache").mkdir()
    (exercises / ".pytest_cache" / "README.md").write_text("cache\n")
    out = tmp_path / "out" / "kit.zip"
    done = run_grader("--course", str(tmp_path), "handout", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == kit.read_bytes()


def test_a_stale_kit_is_refused(course_copy, tmp_path):
    (course_copy.exercises_dir / "ex2_backward.py").write_text("# edited by hand\n")
    out = tmp_path / "kit.zip"
    done = run_grader("--course", str(tmp_path), "handout", str(out))
    assert done.returncode == 2
    assert "exercises/ is out of date (ex2_backward.py): run `grader build` first" in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("inside", ["kit.zip", "sub/kit.zip"])
def test_a_kit_inside_exercises_is_refused(course_copy, tmp_path, inside):
    out = course_copy.exercises_dir / inside
    done = run_grader("--course", str(tmp_path), "handout", str(out))
    assert done.returncode == 2
    assert f"grader: {out}: is inside exercises/" in done.stderr
    assert stale_files(course_copy) == []  # nothing was written there


def _local_package_sources():
    """pip options that use only this machine's package sources, from pip's own settings.

    The machine's pip configuration (root's: find-links and file:// indexes, where the CPU
    torch comes from) is passed on explicitly; every network index is left out.
    """
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    indexes, links = {}, {}  # dicts: ordered, without repeats
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        for source in value.strip().strip("'\"").split():
            if key.endswith((".index-url", ".extra-index-url")) and source.startswith("file:"):
                indexes[source] = None
            elif key.endswith(".find-links") and (
                "://" not in source or source.startswith("file:")
            ):
                links[source] = None
    assert indexes or links, (
        "this test installs the kit offline, from local package sources set in pip's "
        f"configuration (find-links, file:// index-url); there are none:\n{listed}"
    )
    first, *others = indexes or [None]
    options = ["--index-url", first] if first else ["--no-index"]
    for option, sources in (("--extra-index-url", others), ("--find-links", links)):
        options += [part for source in sources for part in (option, source)]
    return options


def _clean_environment():
    """The environment a student has: no PYTHONPATH to our checkout, no pip settings."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PIP_", "PYTHON", "VIRTUAL_ENV"))
        and key.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    proxies = {name: DEAD_PROXY for name in ("http_proxy", "https_proxy", "all_proxy")}
    return environment | proxies | {key.upper(): value for key, value in proxies.items()}


def _run(command, cwd, environment, timeout=600):
    return subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def _failure_sections(output):
    """{test name: the lines of its failure section} from pytest -q's FAILURES."""
    failures = re.split(r"^=+ (?:FAILURES|short test summary info) =+$", output, flags=re.M)[1]
    sections = re.split(r"^_{3,} (\w+) _{3,}$", failures, flags=re.MULTILINE)[1:]
    return {
        name: [line for line in body.splitlines() if line.strip()]
        for name, body in zip(sections[::2], sections[1::2], strict=True)
    }


def _count(output, word):
    found = re.search(rf"(\d+) {word}", output)
    return int(found.group(1)) if found else 0


@pytest.mark.slow  # about a minute: installing torch into a fresh venv
def test_a_student_installs_the_kit_alone_and_the_self_checks_tell_the_truth(kit, course, tmp_path):
    with zipfile.ZipFile(kit) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / course.name
    environment = _clean_environment()
    venv = tmp_path / "venv"
    started = time.monotonic()
    done = _run([sys.executable, "-m", "venv", str(venv)], tmp_path, environment)
    assert done.returncode == 0, done.stderr
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    created = time.monotonic()
    install = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    install += ["--disable-pip-version-check", "--retries", "0", "--timeout", "5"]
    done = _run(
        [*install, *_local_package_sources(), "-r", "requirements.txt"],
        folder,
        environment | {"PIP_CONFIG_FILE": os.devnull},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"venv: {created - started:.1f} s, pip install: {time.monotonic() - created:.1f} s")
    # What the student has is what the kit runs with: not our checkout, not the grader.
    done = _run([str(venv / "bin" / "python"), "-c", "import grader"], folder, environment)
    assert "No module named 'grader'" in done.stderr, done.stderr

    pytest_command = [str(venv / "bin" / "pytest"), "-q"]
    stubs = _run(pytest_command, folder, environment)
    assert stubs.returncode == 1, stubs.stdout + stubs.stderr
    failed = _count(stubs.stdout, "failed")
    assert failed >= 30 and _count(stubs.stdout, "passed") == 0, stubs.stdout
    sections = _failure_sections(stubs.stdout)
    assert len(sections) == failed, stubs.stdout
    named = set()
    for test, lines in sections.items():
        # One line, naming the exercise and function; no traceback, no source lines.
        assert len(lines) == 1, (test, lines)
        unfinished = re.fullmatch(r"not implemented yet: (ex\w+)\.([\w.]+)", lines[0])
        assert unfinished, (test, lines)
        named.add(unfinished.group(1))
    assert named == {exercise.id for exercise in course.exercises}
    assert "Traceback" not in stubs.stdout and "NotImplementedError" not in stubs.stdout

    for exercise in course.exercises:  # answers between markers: the markers are comments
        shutil.copy(ROOT / "solutions" / exercise.file, folder / exercise.file)
    solved = _run(pytest_command, folder, environment)
    assert solved.returncode == 0, solved.stdout + solved.stderr
    assert _count(solved.stdout, "passed") == failed and "failed" not in solved.stdout
