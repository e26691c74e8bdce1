"""Several calls in one round trip to the sandbox answer exactly as separate calls would."""

import dataclasses

import pytest

from grader.grading.session import sandbox
from grader.grading.student import CheckFailure, Inputs, Student
from grader.sandbox.host.client import Reply, SandboxFailure, StudentError, SubmissionSandbox

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
    first, failed = replies
    assert isinstance(first, Reply) and first.result["value"] == 1
    assert first.output == "called with a\n"
    assert isinstance(failed, StudentError) and failed.type == "ValueError"
    assert failed.output == "called with raise\n"
    # "b" never ran: the same child counts two calls so far
    again = runner.run("ex1_forward", "call", _calls("c")[0], limits)
    assert again.result["value"] == 3


def test_the_runs_share_the_budget_separate_runs_would_have(runner, limits):
    each = [{"function": "spin", "args": [0.2], "kwargs": {}} for _ in range(3)]  # 0.6 s > 0.3 s
    replies = runner.run_each("ex1_forward", "call", each, limits)
    assert [r.result["value"] for r in replies] == [0.2, 0.2, 0.2]
    too_long = [{"function": "spin", "args": [1.2], "kwargs": {}}, *each[:1]]  # 0.6 s for both
    with pytest.raises(SandboxFailure) as failure:
        runner.run_each("ex1_forward", "call", too_long, limits)
    assert failure.value.kind == "cpu"


@pytest.mark.parametrize(
    "answers, why",
    [
        ([], "wrong number"),
        ([{"ok": True}] * 3, "wrong number"),
        (["ok"], "without a status"),
        (
            [
                {"ok": False, "error": {"kind": "exception", "type": "E", "message": "m",
                                        "traceback": ""}},
                {"ok": True, "result": {"value": 1}},
            ],
            "went on after a run failed",
        ),
    ],
)  # fmt: skip
def test_a_child_that_answers_out_of_turn_is_malformed(runner, limits, answers, why):
    events = {"counts": {}, "notes": []}
    answers = [dict(a, events=events) if isinstance(a, dict) else a for a in answers]
    answer = {"ok": True, "result": {"runs": answers}, "events": events}
    runner._request = lambda *args: answer
    with pytest.raises(SandboxFailure, match=why) as failure:
        runner.run_each("ex1_forward", "call", _calls("a", "b"), limits)
    assert failure.value.kind == "malformed"


def test_a_check_judges_the_calls_before_the_one_that_failed_first(runner, course):
    exercise = course.exercise("ex1_forward")
    student = Student(runner, exercise, exercise.checks[0], SOURCE)
    cases = [Inputs(("a",), about="first"), Inputs(("raise",), about="second")]
    results = student.call_each("record", cases)
    assert next(results).value == 1  # judged before the failure is raised
    with pytest.raises(CheckFailure) as failure:
        next(results)
    assert failure.value.feedback.inputs == "second"
