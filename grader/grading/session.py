"""Grade submissions in this process: the hidden checks run here, student code in the sandbox."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from grader.course import Course
from grader.grading.plugin import GradingSession, ReferenceCache, run_checks
from grader.grading.submission import Submission
from grader.results import Grade
from grader.sandbox.host.client import Zygote
from grader.sandbox.host.launch import ZygoteProcess, refuse_without_isolation, start_zygote
from grader.sandbox.inside.zygote import prepare


class GradingStopped(RuntimeError):
    """Grading could not go on (the sandbox's zygote died, a check module is broken): the
    submission in hand gets no grade, so that it is graded again, elsewhere or later."""


_UID_BASE = 200_000


def sandbox_uid() -> int:
    """The uid this process's children run under when the host can drop to one: derived
    from its pid, so that graders running side by side never share one (pids stay below
    2**22, uids go to 2**32)."""
    return _UID_BASE + os.getpid()


@contextmanager
def sandbox(
    course: Course, require_isolation: bool = False, started: ZygoteProcess | None = None
) -> Iterator[Zygote]:
    """A ready zygote for grading ``course``; this process warms up while the zygote does."""
    zygote = Zygote(started or start_zygote(course.probe_modules))
    try:
        prepare()  # PyTorch's one-time costs; a few ms when the zygote was forked from here
        refuse_without_isolation(require_isolation, zygote.host_layers)
        yield zygote
    finally:
        zygote.close()


def grade_submissions(
    course: Course,
    submissions: Iterable[Submission],
    seed: int,
    zygote: Zygote,
    exercises: list[str] | None = None,
    on_grade: Callable[[Grade], None] | None = None,
    figures: bool = False,
    cache: ReferenceCache | None = None,
) -> list[Grade]:
    """Grade ``submissions`` with the hidden checks and one seed, in one pytest session;
    return their grades in order, or hand each to ``on_grade`` as it is done (then none is
    kept: ``submissions`` may be a stream, read as the last one is graded)."""
    if isinstance(submissions, list) and not submissions:
        return []  # nothing to grade: not worth starting pytest
    grades: list[Grade] = []
    stream = ((submission, seed) for submission in submissions)
    grade_stream(course, stream, zygote, exercises, on_grade or grades.append, figures, cache)
    return grades


def grade_stream(
    course: Course,
    submissions: Iterable[tuple[Submission, int]],
    zygote: Zygote,
    exercises: list[str] | None,
    on_grade: Callable[[Grade], None],
    figures: bool = False,
    cache: ReferenceCache | None = None,
) -> None:
    """Grade each submission with its seed, in one pytest session, handing each grade to
    ``on_grade`` as it is done; the stream is read one at a time, as the last is graded (a
    batch or cluster worker's whole life).

    This trusted process runs the checks and holds the reference solutions; each
    submission's code runs in a confined child forked from ``zygote``, which holds nothing
    secret. With ``figures``, each grade also carries the data of its feedback figures
    (grader/checks/figures.py). ``cache`` carries reference results over from earlier
    calls.
    """
    session = GradingSession(
        course=course,
        submissions=submissions,
        exercises=exercises or [exercise.id for exercise in course.exercises],
        zygote=zygote,
        uid=sandbox_uid(),
        on_grade=on_grade,
        host_layers=zygote.host_layers,
        collect_figures=figures,
        cache=cache or ReferenceCache(),
    )
    code = run_checks(session)
    if code not in (0, 1):  # 0: all checks passed, 1: some failed; anything else is ours
        raise GradingStopped(
            session.stopped or f"the hidden checks could not run (pytest exit code {code})"
        )
