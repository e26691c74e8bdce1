"""Several calls in one request to the sandbox answer exactly as separate calls would."""

import dataclasses

import pytest

from grader.grading.session import sandbox
from grader.grading.student import CheckFailure, Inputs, Student
from grader.sandbox.host.client import (
    Child,
    Reply,
    SandboxFailure,
    StudentError,
    SubmissionSandbox,
)

SOURCE = """
import time

calls = []


def record(x):
    calls.append(x)
    print("called with", x)
    if x == "raise":
        raise ValueError("asked to raise")
    return len(calls)


def spin(seconds):
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
    return seconds
"""


@pytest.fixture(scope="module")
def zygote(course):
    with sandbox(course) as running:
        yield running


@pytest.fixture
def runner(zygote):
    sandboxed = SubmissionSandbox(zygote, {"ex1_forward": SOURCE}, None)
    yield sandboxed
    sandboxed.close()


@pytest.fixture
def limits(course):
    return dataclasses.replace(
        course.exercise("ex1_forward").limits, wall_seconds=2, cpu_seconds=0.3
    )


def _calls(*args):
    return [{"function": "record", "args": [a], "kwargs": {}} for a in args]


def test_each_run_has_its_own_value_and_output_and_nothing_runs_after_a_failure(runner, limits):
    replies = runner.run_each("ex1_forward", "call", _calls("a", "raise", "b"), limits)
    first, failed = list(replies)
    assert isinstance(first, Reply) and first.result["value"] == 1
    assert first.output == "called with a\n"
    assert isinstance(failed, StudentError) and failed.type == "ValueError"
    assert failed.output == "called with raise\n"
    # "b" never ran: the same child counts two calls so far
    again = runner.run("ex1_forward", "call", _calls("c")[0], limits)
    assert again.result["value"] == 3


def _spins(*seconds):
    return [{"function": "spin", "args": [s], "kwargs": {}} for s in seconds]


def test_each_run_has_the_budget_of_one_call_and_the_one_over_it_is_blamed(runner, limits):
    replies = runner.run_each("ex1_forward", "call", _spins(0.2, 0.2, 0.2), limits)
    assert [r.result["value"] for r in replies] == [0.2, 0.2, 0.2]  # 0.6 s in all, 0.3 each
    replies = runner.run_each("ex1_forward", "call", _spins(0.1, 1.2, 0.1), limits)
    assert next(replies).result["value"] == 0.1  # the run before it is answered first
    with pytest.raises(SandboxFailure) as failure:
        next(replies)
    assert failure.value.kind in ("cpu", "timeout")  # CPU, unless the machine is starved
    assert ("ex1_forward", "spin") in runner.timed_out


def test_the_runs_a_check_did_not_read_are_read_before_the_next_request(runner, limits):
    replies = runner.run_each("ex1_forward", "call", _calls("a", "b", "c"), limits)
    assert next(replies).result["value"] == 1  # and the check stops reading, as on a failure
    again = runner.run("ex1_forward", "call", _calls("d")[0], limits)
    assert again.result["value"] == 4  # b and c ran, their answers were dropped
    with pytest.raises(RuntimeError, match="between two answers"):
        next(replies)  # reading on after another request is a bug in the check


def test_a_run_that_hangs_after_its_check_stopped_reading_costs_no_verdict(runner, limits):
    each = [*_calls("a"), {"function": "spin", "args": [30], "kwargs": {}}]
    replies = runner.run_each("ex1_forward", "call", each, limits)
    assert next(replies).result["value"] == 1
    again = runner.run("ex1_forward", "call", _calls("b")[0], limits)
    assert again.result["value"] == 1  # a fresh child: the busy one was ended
    assert runner.timed_out == set()


class _Child(Child):
    """Stands in for a child that answers whatever it is told to."""

    def __init__(self, answers):
        super().__init__(zygote=None, pid=0, sock=None)
        self.answers = iter(answers)

    def send(self, message, limits):
        return 7

    def answer(self, ident, limits, index=None):
        return next(self.answers)


EVENTS = {"counts": {}, "notes": []}


@pytest.mark.parametrize(
    "answer, why",
    [
        ("ok", "without a status"),
        (
            {"ok": True, "result": {"value": 1, "args": [None], "same": [True]}},
            "record of its calls",
        ),
        ({"ok": True, "result": {"value": 1}, "events": EVENTS}, "result of the wrong shape"),
        ({"ok": False, "error": "no"}, "error without a description"),
    ],
)
def test_a_malformed_answer_stops_the_runs(runner, limits, answer, why):
    runner._child = lambda *args: _Child([answer])
    with pytest.raises(SandboxFailure, match=why) as failure:
        list(runner.run_each("ex1_forward", "call", _calls("a", "b"), limits))
    assert failure.value.kind == "malformed"


def test_answers_out_of_turn_are_malformed(runner, limits):
    runner.run("ex1_forward", "call", _calls("a")[0], limits)  # a live child
    child = next(iter(runner.children.values()))
    ident = child.send({"op": "run_each", "exercise": "ex1_forward", "output_limit": 1024,
                        "runs": [{"probe": "call", "inputs": _calls("b")[0], "no_grad": False}]},
                       limits)  # fmt: skip
    with pytest.raises(SandboxFailure, match="out of turn") as failure:
        child.answer(ident, limits, index=3)
    assert failure.value.kind == "malformed" and not child.alive


def test_a_check_judges_the_calls_before_the_one_that_failed_first(runner, course):
    exercise = course.exercise("ex1_forward")
    student = Student(runner, exercise, exercise.checks[0], SOURCE)
    cases = [Inputs(("a",), about="first"), Inputs(("raise",), about="second")]
    results = student.call_each("record", cases)
    assert next(results).value == 1  # judged before the failure is raised
    with pytest.raises(CheckFailure) as failure:
        next(results)
    assert failure.value.feedback.inputs == "second"
