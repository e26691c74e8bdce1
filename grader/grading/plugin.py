"""The pytest plugin that turns hidden-check outcomes into grades.

Shaped like pytest's own junitxml: outcomes are collected in
``pytest_runtest_logreport`` and written in ``pytest_sessionfinish``. One pytest session
grades a list of submissions: ``pytest_generate_tests`` parametrizes every check with
the submissions (session scope, so pytest runs all checks of one submission before the
next and keeps one sandbox alive at a time).
"""

from __future__ import annotations

import importlib.util
import socket
import sys
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
import torch

from grader import __version__
from grader.course import Course, course_hook
from grader.grading.student import CheckFailure, Student
from grader.grading.submission import Submission
from grader.results import Feedback, Grade, Outcome, score
from grader.sandbox.confine.apply import reduced_isolation
from grader.sandbox.host.client import SubmissionSandbox, Zygote

SESSION = pytest.StashKey["GradingSession"]()


@dataclass
class GradingSession:
    """Everything the checks of one pytest session share."""

    course: Course
    submissions: list[Submission]
    exercises: list[str]
    seed: int
    zygote: Zygote
    uid: int | None
    on_grade: Callable[[Grade], None]
    host_layers: list[dict[str, Any]]
    references: dict[str, ModuleType] = field(default_factory=dict)
    memo: dict[Any, Any] = field(default_factory=dict)
    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    protections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    internal_errors: list[str] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    collect_figures: bool = False  # gather the data of feedback figures after the checks
    figure_data: dict[str, dict[str, Any]] = field(default_factory=dict)

    def reference(self, exercise: str) -> ModuleType:
        """The reference solution of ``exercise``, imported once, in this trusted process."""
        if exercise not in self.references:
            self.references[exercise] = load_reference(self.course, exercise)
        return self.references[exercise]

    def proven(self, student: str, exercise: str) -> frozenset[str]:
        """The graded functions of ``exercise`` whose own checks (those that judge it alone)
        have all run and passed for ``student`` so far; checks run in file order, so a
        function's own come before its callers'."""
        passed = {(o.exercise, o.check) for o in self.outcomes.get(student, []) if o.passed}
        course_exercise = self.course.exercise(exercise)
        proven = set()
        for function in course_exercise.graded_functions:
            own = [c for c in course_exercise.checks_of(function) if c.functions == (function,)]
            if own and all((exercise, c.id) in passed for c in own):
                proven.add(function)
        return frozenset(proven)

    def generator(self, check: str) -> torch.Generator:
        """Random inputs of a check: from the session's seed, independent of check order."""
        return torch.Generator().manual_seed(zlib.crc32(f"{self.seed}:{check}".encode()))

    def open(self, submission: Submission) -> SubmissionSandbox:
        self.started[submission.student] = time.perf_counter()
        return SubmissionSandbox(
            self.zygote, submission.sources, self.uid, submission.problems, self.seed
        )

    def close(self, submission: Submission, sandbox: SubmissionSandbox) -> None:
        """All checks of ``submission`` have run: stop its sandbox and hand on its grade."""
        try:
            collect = course_hook("figures", "collect") if self.collect_figures else None
            if collect is not None:
                self.figure_data[submission.student] = collect(
                    sandbox, self.course, self.reference, self.exercises
                )
        finally:  # the zygote keeps the children the grader holds: always hand them back
            sandbox.close()
        self.protections[submission.student] = sandbox.layers
        self.finish(submission)

    def finish(self, submission: Submission) -> None:
        """Score ``submission`` once, from the outcomes collected so far."""
        if submission.student in self.finished:
            return
        self.finished.add(submission.student)
        started = self.started.get(submission.student, time.perf_counter())
        protections = self.protections.get(submission.student) or self.host_layers
        self.on_grade(
            score(
                self.course,
                self.exercises,
                self.outcomes.get(submission.student, []),
                student=submission.student,
                seed=self.seed,
                grader_version=__version__,
                protections=tuple(protections),
                isolation=reduced_isolation(protections),
                seconds=time.perf_counter() - started,
                notes=submission.notes,
                extra={"host": socket.gethostname()}
                | (
                    {"figures": self.figure_data[submission.student]}
                    if submission.student in self.figure_data
                    else {}
                ),
            )
        )


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

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "submission" in metafunc.fixturenames:
            metafunc.parametrize(
                "submission",
                self.session.submissions,
                ids=[s.student for s in self.session.submissions],
                indirect=True,
                scope="session",
            )

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
        submission = getattr(item, "callspec", None) and item.callspec.params.get("submission")
        if submission is None:  # not a check of a submission (a helper test): not graded
            return report
        report.grader_check = (_exercise_of(item), item.originalname.removeprefix("test_"))
        report.grader_student = submission.student
        report.grader_feedback = error.feedback if isinstance(error, CheckFailure) else None
        students = [value for value in item.funcargs.values() if isinstance(value, Student)]
        report.grader_carried = tuple(students[0].stood_in.items()) if students else ()
        if error is not None and not isinstance(error, CheckFailure):
            # A bug in a check or in the grader: never the student's fault or business.
            report.grader_internal = "".join(traceback.format_exception(error))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not hasattr(report, "grader_check"):
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            exercise, check = report.grader_check
            internal = getattr(report, "grader_internal", None)
            if internal:
                self.session.internal_errors.append(
                    f"{report.grader_student} {exercise}.{check}:\n{internal}"
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
            self.session.outcomes.setdefault(report.grader_student, []).append(
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

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Grades are handed on as each submission's sandbox closes; this scores any that
        # never got that far, so that every submission gets a grade.
        for submission in self.session.submissions:
            self.session.finish(submission)


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
