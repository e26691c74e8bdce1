"""The pytest plugin that turns hidden-check outcomes into grades.

Shaped like pytest's own junitxml: outcomes are collected in
``pytest_runtest_logreport`` and handed on as each submission's checks are done. One
pytest session grades a stream of submissions, read as it goes (a batch worker's whole
life): the checks are collected once, and ``pytest_runtestloop`` runs them all, through
pytest's own run-test protocol, for one submission after another, with one sandbox
alive at a time. Collecting and configuring a session costs about 0.2 s, which a
session per submission (or per few) would pay again and again.
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
import torch

from grader import __version__
from grader.course import Course, course_hook
from grader.escaping import terminal_text
from grader.grading.student import CheckFailure, Student
from grader.grading.submission import Submission
from grader.results import Feedback, Grade, Outcome, score
from grader.sandbox.confine.apply import reduced_isolation
from grader.sandbox.host.client import SubmissionSandbox, Zygote

SESSION = pytest.StashKey["GradingSession"]()


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


@dataclass
class Running:
    """The submission whose checks are running: its seed and sandbox, the reference results
    of that seed, and what the checks found so far."""

    submission: Submission
    seed: int
    sandbox: SubmissionSandbox
    memo: dict[Any, Any]
    started: float
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class GradingSession:
    """Everything the checks of one pytest session share."""

    course: Course
    # Each submission with the seed it is graded with, read one at a time as the last is done.
    submissions: Iterable[tuple[Submission, int]]
    exercises: list[str]
    zygote: Zygote
    uid: int | None
    on_grade: Callable[[Grade], None]
    host_layers: list[dict[str, Any]]
    cache: ReferenceCache = field(default_factory=ReferenceCache)
    collect_figures: bool = False  # gather the data of feedback figures after the checks
    current: Running | None = None
    stopped: str = ""  # why grading stopped before the stream ended, if it did

    def reference(self, exercise: str) -> ModuleType:
        """The reference solution of ``exercise``, imported once, in this trusted process."""
        references = self.cache.references
        if exercise not in references:
            references[exercise] = load_reference(self.course, exercise)
        return references[exercise]

    def proven(self, exercise: str) -> frozenset[str]:
        """The graded functions of ``exercise`` whose own checks (those that judge it alone)
        have all run and passed for the running submission so far; checks run in file
        order, so a function's own come before its callers'."""
        assert self.current is not None
        passed = {(o.exercise, o.check) for o in self.current.outcomes if o.passed}
        course_exercise = self.course.exercise(exercise)
        proven = set()
        for function in course_exercise.graded_functions:
            own = [c for c in course_exercise.checks_of(function) if c.functions == (function,)]
            if own and all((exercise, c.id) in passed for c in own):
                proven.add(function)
        return frozenset(proven)

    def generator(self, check: str) -> torch.Generator:
        """Random inputs of a check: from the grading's seed, independent of check order."""
        assert self.current is not None
        return torch.Generator().manual_seed(zlib.crc32(f"{self.current.seed}:{check}".encode()))

    def sandbox_for(self, submission: Submission, seed: int) -> SubmissionSandbox:
        return SubmissionSandbox(
            self.zygote, submission.sources, self.uid, submission.problems, seed
        )

    def open(self, submission: Submission, seed: int) -> None:
        """``submission``'s checks are about to run: start its sandbox."""
        started = time.perf_counter()
        sandbox, memo = self.sandbox_for(submission, seed), self.cache.results(seed)
        self.current = Running(submission, seed, sandbox, memo, started)

    def zygote_died(self) -> bool:
        return self.zygote.process.poll() is not None

    def abandon(self) -> None:
        """The grader stopped in the middle of a submission: no grade, only its sandbox ended
        (a resumed batch grades it again)."""
        running, self.current = self.current, None
        if running is not None:
            running.sandbox.close()

    def close(self) -> bool:
        """All checks of the running submission have run: stop its sandbox and hand on its
        grade, scored from their outcomes. False, and no grade, if the sandbox's zygote died
        meanwhile: checks then failed for the grader's sake, not the submission's."""
        running, self.current = self.current, None
        assert running is not None
        submission, sandbox = running.submission, running.sandbox
        extra: dict[str, Any] = {"host": socket.gethostname()}
        try:
            collect = course_hook("figures", "collect") if self.collect_figures else None
            if collect is not None:
                extra["figures"] = collect(sandbox, self.course, self.reference, self.exercises)
        finally:  # the zygote keeps the children the grader holds: always hand them back
            sandbox.close()
        if self.zygote_died():
            self.stopped = (
                f"the sandbox's zygote stopped (exit status {self.zygote.process.poll()}) while "
                f"{submission.student} was graded: no grade is given for it here"
            )
            return False
        protections = sandbox.layers or self.host_layers
        self.on_grade(
            score(
                self.course,
                self.exercises,
                running.outcomes,
                student=submission.student,
                seed=running.seed,
                grader_version=__version__,
                protections=tuple(protections),
                isolation=reduced_isolation(protections),
                seconds=time.perf_counter() - running.started,
                notes=submission.notes,
                extra=extra,
            )
        )
        return True


def load_reference(course: Course, exercise: str) -> ModuleType:
    """Import the reference solution of ``exercise`` (trusted code) under its own name."""
    path = course.solutions_dir / course.exercise(exercise).file
    spec = importlib.util.spec_from_file_location(f"reference_{exercise}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class GradingPlugin:
    def __init__(self, session: GradingSession) -> None:
        self.session = session

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[SESSION] = self.session
        for exercise in self.session.course.exercises:
            config.addinivalue_line("markers", f"{exercise.id}: {exercise.title}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        """Run every collected check for each submission in turn, as pytest would run them
        once: a check is a test, each run of it a test run with its own report."""
        if session.testsfailed:  # a check module could not be collected: a grader bug
            raise session.Interrupted(f"{session.testsfailed} errors during collection")
        items = session.items
        for submission, seed in self.session.submissions:
            self.session.open(submission, seed)
            try:
                for index, item in enumerate(items):
                    item._initrequest()  # fresh fixtures for this run, as pytest-rerunfailures
                    nextitem = items[index + 1] if index + 1 < len(items) else None
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                    if session.shouldstop:
                        raise session.Interrupted(session.shouldstop)
                    if self.session.zygote_died():  # every check left would fail for that
                        break
            except BaseException:
                self.session.abandon()
                raise
            if not self.session.close():
                raise session.Interrupted(self.session.stopped)
        return True

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> pytest.TestReport:
        """Our own report, in place of pytest's: pytest would render every failure as a
        traceback quoting the check's source (~0.2 s each, and a hidden check's source
        must not travel anyway). The report carries the student's feedback instead."""
        error = call.excinfo.value if call.excinfo is not None else None
        report = pytest.TestReport(
            nodeid=item.nodeid,
            location=item.location,
            keywords=dict.fromkeys(item.keywords, 1),
            outcome="passed" if error is None else "failed",
            longrepr=None if error is None else f"{type(error).__name__}: {error}",
            when=call.when,
            duration=call.duration,
            start=call.start,
            stop=call.stop,
        )
        if self.session.current is None:  # not a check of a submission: not graded
            return report
        report.grader_check = (_exercise_of(item), item.originalname.removeprefix("test_"))
        report.grader_feedback = error.feedback if isinstance(error, CheckFailure) else None
        students = [value for value in item.funcargs.values() if isinstance(value, Student)]
        report.grader_carried = tuple(students[0].stood_in.items()) if students else ()
        if error is not None and not isinstance(error, CheckFailure):
            # A bug in a check or in the grader: never the student's fault or business.
            report.grader_internal = "".join(traceback.format_exception(error))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        running = self.session.current
        if running is None or not hasattr(report, "grader_check"):
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            exercise, check = report.grader_check
            internal = getattr(report, "grader_internal", None)
            if internal:  # said now: a session may grade a whole batch before it ends
                error = f"{running.submission.student} {exercise}.{check}:\n{internal}"
                print(
                    terminal_text(f"grader: internal error in a check (a grader bug):\n{error}"),
                    file=sys.stderr,
                )
            feedback = report.grader_feedback or (
                Feedback(
                    summary="the grader could not run this check (an error in the grader, "
                    "not in your code)",
                    hint="tell your instructor; your other checks are not affected",
                )
                if not report.passed
                else None
            )
            running.outcomes.append(
                Outcome(
                    exercise=exercise,
                    check=check,
                    passed=report.passed,
                    feedback=feedback,
                    internal_error=bool(internal),
                    seconds=report.duration,
                    carried_forward=getattr(report, "grader_carried", ()),
                )
            )


def _exercise_of(item: pytest.Item) -> str:
    return item.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")


def run_checks(session: GradingSession, select: str | None = None) -> int:
    """Run the hidden checks of ``session`` in this process; return pytest's exit code."""
    from grader.course import CHECKS_DIR

    args = [
        str(CHECKS_DIR),
        "-p",
        "no:cacheprovider",
        "-p",
        "no:terminal",
        "-p",
        "no:stepwise",
        "-p",
        "no:legacypath",
        "-p",
        "no:logging",  # per-test log capture costs ~4 ms a check
        "-p",
        "no:unraisableexception",  # its gc.collect() at exit costs ~0.2 s a session
        "--capture=no",  # checks print nothing; the students' output is captured in the sandbox
        "-c",
        str(CHECKS_DIR / "pytest.ini"),
        "--rootdir",
        str(CHECKS_DIR),
        "-m",
        " or ".join(session.exercises) if select is None else select,
    ]
    sys.stdout.flush()
    return pytest.main(args, plugins=[GradingPlugin(session)])
