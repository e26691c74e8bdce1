"""``grader gradescope OUT.zip``: the autograder bundle to upload to a Gradescope assignment.

Gradescope unpacks the zip into /autograder/source, runs ``setup.sh`` once as root when it
builds the assignment's image, then ``run_autograder`` for each submission; both scripts
live beside this file. The zip holds only what grading needs: the grader package with
its hidden checks, course.yml, the reference solutions, the files that install the package
(pyproject.toml, constraints.txt) and ``seed``, the seed of the hidden checks' random
inputs, chosen once here so that every student of the assignment gets the same inputs.
"""

from __future__ import annotations

from pathlib import Path

from grader.archive import write_zip
from grader.course import DEFAULT_ROOT, PACKAGE_DIR, Course, load_course
from grader.errors import UsageError
from grader.seeds import new_seed

SCRIPTS_DIR = Path(__file__).resolve().parent  # setup.sh and run_autograder, beside this file
SCRIPTS = ("setup.sh", "run_autograder")
# What `pip install -e` needs besides the package: the grader's own project files.
PROJECT_FILES = ("pyproject.toml", "constraints.txt")
# The package's files: its modules and the hidden checks' pytest.ini; no caches, no scripts.
PACKAGE_SUFFIXES = (".py", ".ini")


def bundle_files(course: Course) -> dict[str, Path]:
    """Every file of the bundle but ``seed``: its name in the zip and where it is on disk."""
    files = {name: SCRIPTS_DIR / name for name in SCRIPTS}
    files |= {name: DEFAULT_ROOT / name for name in PROJECT_FILES}
    files["course.yml"] = course.root / "course.yml"
    for exercise in course.exercises:  # load_course checked that each one exists
        files[f"solutions/{exercise.file}"] = course.solutions_dir / exercise.file
    for path in sorted(PACKAGE_DIR.rglob("*")):
        relative = path.relative_to(PACKAGE_DIR)
        if (
            path.is_file()
            and path.suffix in PACKAGE_SUFFIXES
            and not any(part == "__pycache__" or part.startswith(".") for part in relative.parts)
        ):
            files[f"grader/{relative.as_posix()}"] = path
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise UsageError(
            f"cannot build the Gradescope bundle: {', '.join(missing)} not found "
            "(run the grader from a checkout of the course repository)"
        )
    return files


def write_bundle(
    out: Path, files: dict[str, Path], seed: int, require_isolation: bool = False
) -> None:
    """Write the zip atomically; scripts are executable (Gradescope runs them directly)."""
    members = {name: path.read_bytes() for name, path in files.items()}
    members["seed"] = f"{seed}\n".encode()
    if require_isolation:  # run_autograder then passes --require-isolation
        members["require-isolation"] = b""
    write_zip(out, members, executable=frozenset(SCRIPTS))


def main(
    out: Path,
    course_root: Path | None = None,
    seed: int | None = None,
    require_isolation: bool = False,
) -> int:
    course = load_course(course_root)
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; give the path of the .zip to write")
    seed = new_seed() if seed is None else seed
    files = bundle_files(course)
    write_bundle(out, files, seed, require_isolation)
    size_kib = out.stat().st_size / 1024
    print(
        f"wrote {out} ({len(files) + 1} files, {size_kib:.0f} KiB) with seed {seed}; "
        "upload it as the assignment's autograder on Gradescope"
    )
    return 0
