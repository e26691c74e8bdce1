"""``grader grade SUBMISSION``: grade one submission, print a table, write results.json."""

from __future__ import annotations

import sys
from pathlib import Path

from grader.course import load_course
from grader.errors import UsageError
from grader.escaping import terminal_text
from grader.grading.submission import load_submission
from grader.sandbox.confine.apply import reduced_isolation
from grader.sandbox.host.launch import start_zygote
from grader.seeds import new_seed


def main(
    submission: Path,
    results: Path = Path("results.json"),
    seed: int | None = None,
    exercises: list[str] | None = None,
    course_root: Path | None = None,
    require_isolation: bool = False,
    feedback: Path | None = None,
) -> int:
    course = load_course(course_root)
    exercises = course.select(exercises)
    if not submission.exists():
        raise UsageError(f"{submission}: no such folder or .zip file")
    started = start_zygote(course.probe_modules)  # warms up while this imports torch below
    from grader.grading.session import grade_submissions, sandbox
    from grader.reports.writers import terminal_table, write_feedback, write_json

    seed = new_seed() if seed is None else seed
    print(f"grading {submission} with seed {seed} (rerun with --seed {seed} to reproduce)")
    loaded = load_submission(submission, [e.id for e in course.exercises])
    with sandbox(course, require_isolation, started) as zygote:
        if notice := reduced_isolation(zygote.host_layers):
            print(terminal_text(f"grader: {notice}"), file=sys.stderr)
        [grade] = grade_submissions(
            course, [loaded], seed, zygote, exercises, figures=feedback is not None
        )
    write_json(results, grade)
    if feedback is not None:
        write_feedback(feedback, grade)
        print(f"feedback written to {feedback}")
    print(terminal_table(grade))
    print(f"results written to {results}")
    return 0
