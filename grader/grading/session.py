"""Grade submissions in this process: the hidden checks run here, student code in the sandbox."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from grader.course import Course
from grader.grading.plugin import GradingSession, run_checks
from grader.grading.submission import Submission
from grader.results import Grade
from grader.sandbox.host.client import Zygote
from grader.sandbox.host.launch import ZygoteProcess, refuse_without_isolation, start_zygote
from grader.sandbox.inside.zygote import prepare

# Children run under a uid of their own when the grader may drop to one: derived from this
# process's pid, so that graders running side by side never share one (pids stay below
# 2**22, uids go to 2**32).
_UID_BASE = 200_000


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


@dataclass
class ReferenceCache:
    """What a long-lived grader (a batch or cluster worker) keeps from one grading to the
    next: the imported reference solutions, and the reference results the checks computed
    for each seed (the inputs come from the seed, so they are the same for every
    submission graded with it). A few seeds are kept, the most recently used."""

    references: dict[str, ModuleType] = field(default_factory=dict)
    by_seed: dict[int, dict[Any, Any]] = field(default_factory=dict)
    seeds_kept: int = 4

    def results(self, seed: int) -> dict[Any, Any]:
        results = self.by_seed.pop(seed, {})
        self.by_seed[seed] = results  # now the most recent
        while len(self.by_seed) > self.seeds_kept:
            del self.by_seed[next(iter(self.by_seed))]
        return results


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
    """Grade ``submissions`` with the hidden checks, in one pytest session; return their
    grades in order.

    ``submissions`` may be a stream, read one at a time as the last one is graded (a
    batch worker's whole life): ``on_grade`` then hands each grade on as it is done. This
    trusted process runs the checks and holds the reference solutions; each submission's
    code runs in a confined child forked from ``zygote``, which holds nothing secret.
    With ``figures``, each grade also carries the data of its feedback figures
    (grader/checks/figures.py). ``cache`` carries reference results over from earlier
    calls.
    """
    if isinstance(submissions, list) and not submissions:
        return []  # nothing to grade: not worth starting pytest
    cache = cache or ReferenceCache()
    grades: list[Grade] = []

    def collect(grade: Grade) -> None:
        grades.append(grade)
        if on_grade is not None:
            on_grade(grade)

    session = GradingSession(
        course=course,
        submissions=submissions,
        exercises=exercises or [exercise.id for exercise in course.exercises],
        seed=seed,
        zygote=zygote,
        uid=_UID_BASE + os.getpid(),
        on_grade=collect,
        host_layers=zygote.host_layers,
        collect_figures=figures,
        references=cache.references,
        memo=cache.results(seed),
    )
    code = run_checks(session)
    for error in session.internal_errors:
        print(f"grader: internal error in a check (a grader bug):\n{error}", file=sys.stderr)
    if code not in (0, 1):  # 0: all checks passed, 1: some failed; anything else is ours
        raise RuntimeError(f"the hidden checks could not run (pytest exit code {code})")
    return grades
