"""``grader build``: generate exercises/ from solutions/, or check that it is up to date.

solutions/ is the single source. Each exercise file becomes a stub and a notebook; every
other file there (the public self-checks, their conftest.py and pytest.ini) is copied as
it is; README.md and requirements.txt are made from course.yml (grader/authoring/kit.py).
exercises/ holds exactly what this generates and nothing else, and is committed, so
that students get it from the repository and a test can catch a stale copy.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from grader.authoring.kit import kit_files
from grader.authoring.notebooks import make_notebook
from grader.authoring.stubs import make_stub
from grader.course import Course, CourseError, load_course

_SKIPPED = {"__pycache__", ".pytest_cache"}


def generated_files(course: Course) -> dict[str, str]:
    """Every file of exercises/, by path relative to it, with its generated text."""
    stems = {exercise.file: exercise.id for exercise in course.exercises}
    files = {}
    for path in sorted(course.solutions_dir.rglob("*")):
        relative = path.relative_to(course.solutions_dir)
        if path.is_dir() or any(
            part in _SKIPPED or part.startswith(".") for part in relative.parts
        ):
            continue
        text = path.read_text(encoding="utf-8")
        name = relative.as_posix()
        if name in stems:
            exercise = course.exercise(stems[name])
            files[name] = make_stub(text, exercise.id, filename=f"solutions/{name}")
            notebook = make_notebook(text, exercise, stubs=True)
            files[f"{exercise.id}.ipynb"] = nbformat.writes(notebook) + "\n"
        else:
            files[name] = text
    for name, text in kit_files(course).items():
        if name in files:
            raise CourseError(f"solutions/{name}: grader build writes exercises/{name} itself")
        files[name] = text
    return files


def stale_files(course: Course) -> list[str]:
    """Paths under exercises/ that differ from what ``generated_files`` makes."""
    expected = generated_files(course)
    present = {
        path.relative_to(course.exercises_dir).as_posix()
        for path in course.exercises_dir.rglob("*")
        if path.is_file()
        and not any(part in _SKIPPED for part in path.relative_to(course.exercises_dir).parts)
    }
    stale = [name for name in sorted(present - set(expected))]
    for name, text in expected.items():
        target = course.exercises_dir / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(name)
    return sorted(stale)


def write(course: Course) -> list[str]:
    """Write exercises/ and remove files that are no longer generated; return what changed."""
    changed = stale_files(course)
    expected = generated_files(course)
    for name in changed:
        target = course.exercises_dir / name
        if name in expected:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(expected[name], encoding="utf-8")
        else:
            target.unlink()
    return changed


def main(root: Path | None = None, check: bool = False) -> int:
    """Build (or with ``check``, verify) exercises/; return the process exit code."""
    course = load_course(root)
    if check:
        stale = stale_files(course)
        for name in stale:
            print(f"exercises/{name} is out of date", file=sys.stderr)
        if stale:
            print("run `grader build` and commit exercises/", file=sys.stderr)
        return 1 if stale else 0
    changed = write(course)
    print(
        f"exercises/: {len(changed)} file(s) written"
        + (f": {', '.join(changed)}" if changed else "")
    )
    return 0
