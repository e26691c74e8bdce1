"""What a grade depends on, as one hash: a worker grades for a client only when they agree."""

from __future__ import annotations

import hashlib
from pathlib import Path

from grader import __version__
from grader.course import PACKAGE_DIR, Course

_ENGINE_SUFFIXES = (".py", ".j2", ".ini")


def course_fingerprint(course: Course) -> str:
    """sha256 of the grader's version and code (the hidden checks and the course's code
    included), course.yml and the reference solutions; independent of where they lie."""
    digest = hashlib.sha256(f"grader {__version__}\n".encode())
    files = [("course.yml", course.root / "course.yml")]
    files += [(f"solutions/{p.name}", p) for p in sorted(course.solutions_dir.glob("*.py"))]
    files += [
        (f"grader/{p.relative_to(PACKAGE_DIR).as_posix()}", p)
        for p in sorted(PACKAGE_DIR.rglob("*"))
        if p.suffix in _ENGINE_SUFFIXES and "__pycache__" not in p.parts
    ]
    for name, path in files:
        content = Path(path).read_bytes()
        digest.update(f"{name}\0{len(content)}\0".encode() + content)
    return digest.hexdigest()
