"""Grade a list of submissions in this process: a sandbox zygote plus one pytest session."""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable

from grader.course import Course
from grader.plugin import GradingSession, run_checks
from grader.results import Grade
from grader.sandbox.client import Zygote
from grader.submission import Submission

# Children run under a uid of their own when the grader is root: derived from this
# process's pid, so that graders running side by side never share one.
_UID_BASE = 200_000


class IsolationMissing(RuntimeError):
    """--require-isolation was given and the host lacks a protection layer."""


def new_seed() -> int:
    return secrets.randbelow(2**31)


def missing_layers(layers: list[dict[str, object]]) -> list[str]:
    return [f"{layer['name']} ({layer['detail']})" for layer in layers if not layer["active"]]


def grade_submissions(
    course: Course,
    submissions: list[Submission],
    seed: int,
    exercises: list[str] | None = None,
    require_isolation: bool = False,
    on_grade: Callable[[Grade], None] | None = None,
) -> list[Grade]:
    """Grade ``submissions`` with the hidden checks; return their grades in order.

    The grader's own process runs the checks and holds the reference solutions; each
    submission's code runs in a confined child forked from a clean zygote.
    """
    exercises = exercises or [exercise.id for exercise in course.exercises]
    grades: list[Grade] = []

    def collect(grade: Grade) -> None:
        grades.append(grade)
        if on_grade is not None:
            on_grade(grade)

    zygote = Zygote()
    try:
        if require_isolation and missing_layers(zygote.host_layers):
            raise IsolationMissing(
                "refusing to grade (--require-isolation): this host lacks "
                + "; ".join(missing_layers(zygote.host_layers))
            )
        session = GradingSession(
            course=course,
            submissions=submissions,
            exercises=exercises,
            seed=seed,
            zygote=zygote,
            uid=_UID_BASE + os.getpid() % 100_000 if os.geteuid() == 0 else None,
            on_grade=collect,
            host_layers=zygote.host_layers,
        )
        code = run_checks(session)
        if code not in (0, 1):  # 0: all checks passed, 1: some failed; anything else is ours
            raise RuntimeError(f"the hidden checks could not run (pytest exit code {code})")
    finally:
        zygote.close()
    for error in session.internal_errors:
        print(f"grader: internal error in a check (a grader bug):\n{error}", file=sys.stderr)
    by_student = {grade.student: grade for grade in grades}
    return [by_student[submission.student] for submission in submissions]
