"""``grader grade SUBMISSION``: grade one submission, print a table, write results.json."""

from __future__ import annotations

from pathlib import Path

from grader.course import load_course
from grader.grading import grade_submissions, new_seed
from grader.submission import load_submission
from grader.writers import terminal_table, write_json


class UsageError(ValueError):
    """The command line names something that is not there; the message says what."""


def main(
    submission: Path,
    results: Path = Path("results.json"),
    seed: int | None = None,
    exercises: list[str] | None = None,
    course_root: Path | None = None,
    require_isolation: bool = False,
) -> int:
    course = load_course(course_root)
    known = [exercise.id for exercise in course.exercises]
    for exercise in exercises or []:
        if exercise not in known:
            raise UsageError(f"--exercise {exercise}: no such exercise (known: {', '.join(known)})")
    if not submission.exists():
        raise UsageError(f"{submission}: no such folder or .zip file")
    seed = new_seed() if seed is None else seed
    print(f"grading {submission} with seed {seed} (rerun with --seed {seed} to reproduce)")
    loaded = load_submission(submission, known)
    [grade] = grade_submissions(course, [loaded], seed, exercises, require_isolation)
    write_json(results, grade)
    print(terminal_table(grade))
    print(f"results written to {results}")
    return 0
