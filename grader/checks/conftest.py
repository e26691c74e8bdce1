"""Fixtures of the hidden checks. Each check is a test function ``test_<check id>``.

- ``student``: the submission's exercise module, run in the sandbox (grader/grading/student.py)
- ``reference``: the reference solution of the exercise, in this trusted process
- ``rng``: a torch.Generator for the check's random inputs, from the recorded seed;
  ``rng_for(name)`` gives one that several checks share, for the same inputs
- ``expect``: expectations that fail with feedback for the student
- ``once``: ``once(key, compute)`` computes a reference result once per session (keys
  are per exercise); the inputs come from the seed, so every submission gets the same
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import torch

from grader.grading.expect import Expect
from grader.grading.plugin import SESSION, GradingSession
from grader.grading.student import CheckFailure, Student


def _session(request: pytest.FixtureRequest) -> GradingSession:
    return request.config.stash[SESSION]


def _ids(request: pytest.FixtureRequest | pytest.Function) -> tuple[str, str]:
    node = request if isinstance(request, pytest.Function) else request.node
    exercise = node.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    return exercise, node.originalname.removeprefix("test_")


def _generator(request: pytest.FixtureRequest | pytest.Function) -> torch.Generator:
    exercise, check = _ids(request)
    return request.config.stash[SESSION].generator(f"{exercise}.{check}")


@pytest.fixture
def student(request: pytest.FixtureRequest) -> Student:
    exercise, check = _ids(request)
    session = _session(request)
    assert session.current is not None, "checks run only for a submission"
    sandbox = session.current.sandbox
    course_exercise = session.course.exercise(exercise)
    return Student(
        sandbox,
        course_exercise,
        course_exercise.check(check),
        sandbox.sources.get(exercise),
        session.proven(exercise),
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A check that ran with the submission's own proven functions where stand-ins would
    have been (grader/grading/carry_forward.py) and failed runs again, with the stand-ins
    and the same random inputs: its verdict is then the stand-ins' one, as if it had
    never tried. (Its first failure may come from a proven function that misbehaves only
    on this check's inputs: that mistake must not cost points twice.)"""
    student = pyfuncitem.funcargs.get("student")
    if not isinstance(student, Student) or not student.proven:
        return None  # pytest's own call
    arguments = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    try:
        pyfuncitem.obj(**arguments)
    except CheckFailure:
        if not student.used_proven:
            raise
        pyfuncitem.funcargs["student"] = arguments["student"] = student.without_proven()
        if "rng" in arguments:  # the same inputs again (rng_for makes new generators anyway)
            pyfuncitem.funcargs["rng"] = arguments["rng"] = _generator(pyfuncitem)
        pyfuncitem.obj(**arguments)
    return True


@pytest.fixture
def reference(request: pytest.FixtureRequest) -> ModuleType:
    return _session(request).reference(_ids(request)[0])


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> torch.Generator:
    return _generator(request)


@pytest.fixture
def rng_for(request: pytest.FixtureRequest) -> Callable[[str], torch.Generator]:
    """``rng_for(name)``: a generator that checks of the exercise share by name."""
    exercise, _ = _ids(request)
    return lambda name: _session(request).generator(f"{exercise}:{name}")


@pytest.fixture
def expect(request: pytest.FixtureRequest) -> Expect:
    exercise, check = _ids(request)
    course_exercise = _session(request).course.exercise(exercise)
    visible = course_exercise.check(check).visibility == "visible"
    return Expect(visible=visible, tolerances=course_exercise.tolerances)


@pytest.fixture
def once(request: pytest.FixtureRequest) -> Callable[[str, Callable[[], Any]], Any]:
    running, prefix = _session(request).current, _ids(request)[0]  # keys are per exercise
    assert running is not None, "checks run only for a submission"
    memo = running.memo  # the reference results of the seed it is graded with

    def compute(key: str, function: Callable[[], Any]) -> Any:
        if (prefix, key) not in memo:
            memo[(prefix, key)] = function()
        return memo[(prefix, key)]

    return compute
