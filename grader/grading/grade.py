"""``grader grade SUBMISSION``: grade one submission, print a table, write results.json.

Two stages, so that a grading pays PyTorch's start-up once. ``main`` (the command) checks
the arguments and the course, then replaces itself (exec) with a fresh interpreter that has
the minimal environment: no token or password of the caller's is left in its memory.
``run``, in that interpreter, imports and warms PyTorch, forks the sandbox's zygote from
itself while it still holds nothing secret, and only then loads the references and hidden
checks and grades.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


def main(
    submission: Path,
    results: Path = Path("results.json"),
    seed: int | None = None,
    exercises: list[str] | None = None,
    course_root: Path | None = None,
    require_isolation: bool = False,
    feedback: Path | None = None,
) -> int:
    from grader.course import load_course
    from grader.errors import UsageError
    from grader.sandbox.host.launch import zygote_environment
    from grader.seeds import new_seed

    course = load_course(course_root)
    job = {
        "submission": str(submission.absolute()),
        "results": str(results.absolute()),
        "seed": new_seed() if seed is None else seed,
        "exercises": course.select(exercises),
        "course": str(course.root),
        "probe_modules": list(course.probe_modules),
        "require_isolation": require_isolation,
        "feedback": None if feedback is None else str(feedback.absolute()),
    }
    if not submission.exists():
        raise UsageError(f"{submission}: no such folder or .zip file")
    sys.stdout.flush()
    sys.stderr.flush()
    command = [sys.executable, "-m", "grader.grading.grade", json.dumps(job)]
    os.execve(sys.executable, command, zygote_environment())
    raise AssertionError("unreachable: execve returns only by raising")


def run(job: dict[str, Any]) -> int:
    """Grade as ``job`` says, in a process whose memory holds nothing secret on entry."""
    from grader.sandbox.host.launch import fork_zygote

    started = fork_zygote(tuple(job["probe_modules"]))  # before anything secret is loaded
    from grader.course import load_course
    from grader.escaping import terminal_text
    from grader.grading.session import GradingStopped, grade_submissions, sandbox
    from grader.grading.submission import load_submission
    from grader.reports.writers import terminal_table, write_feedback, write_json
    from grader.sandbox.confine.apply import reduced_isolation

    course = load_course(Path(job["course"]))
    submission, seed = Path(job["submission"]), job["seed"]
    print(f"grading {submission} with seed {seed} (rerun with --seed {seed} to reproduce)")
    loaded = load_submission(submission, [e.id for e in course.exercises])
    feedback = None if job["feedback"] is None else Path(job["feedback"])
    with sandbox(course, job["require_isolation"], started) as zygote:
        if notice := reduced_isolation(zygote.host_layers):
            print(terminal_text(f"grader: {notice}"), file=sys.stderr)
        try:
            [grade] = grade_submissions(
                course, [loaded], seed, zygote, job["exercises"], figures=feedback is not None
            )
        except GradingStopped as error:  # not the submission's doing: nothing is written
            print(terminal_text(f"grader: {error}; run the same command again"), file=sys.stderr)
            return 1
    write_json(Path(job["results"]), grade)
    if feedback is not None:
        write_feedback(feedback, grade)
        print(f"feedback written to {feedback}")
    print(terminal_table(grade))
    print(f"results written to {job['results']}")
    return 0


if __name__ == "__main__":
    from grader.errors import UserError

    try:
        code = run(json.loads(sys.argv[1]))
    except UserError as error:
        from grader.escaping import terminal_text

        print(terminal_text(f"grader: {error}"), file=sys.stderr)
        code = 2
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown (about 1 s with torch loaded)
