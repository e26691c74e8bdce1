"""``grader handout KIT.zip``: the student kit, exercises/ as one zip under one top folder.

The zip holds exactly what ``grader build`` generates (stubs, notebooks, self-checks,
README.md, requirements.txt) under ``<course id>/``: no caches, no stray files, and the
same bytes every time it is built from the same sources. It refuses a stale exercises/,
so students never get a kit that differs from the committed one.
"""

from __future__ import annotations

from pathlib import Path

from grader.archive import write_zip
from grader.authoring.build import generated_files, stale_files
from grader.course import Course, load_course
from grader.errors import UsageError


def kit_members(course: Course) -> dict[str, bytes]:
    """The kit's files, by their name in the zip, sorted."""
    files = generated_files(course)
    return {f"{course.name}/{name}": files[name].encode("utf-8") for name in sorted(files)}


def main(out: Path, course_root: Path | None = None) -> int:
    """Write the kit to ``out``; UsageError if exercises/ is stale or ``out`` is inside it."""
    course = load_course(course_root)
    if out.resolve().is_relative_to(course.exercises_dir.resolve()):
        raise UsageError(
            f"{out}: is inside exercises/, which the kit is made of; write it somewhere else"
        )
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give the path of the .zip to write")
    stale = stale_files(course)
    if stale:
        raise UsageError(
            f"exercises/ is out of date ({', '.join(stale)}): run `grader build` first "
            "and commit exercises/"
        )
    members = kit_members(course)
    write_zip(out, members)
    print(
        f"wrote {out} ({len(members)} files, {out.stat().st_size / 1024:.0f} KiB): students "
        f"unzip it and follow {course.name}/README.md"
    )
    return 0
