"""A grading worker on the cluster keeps one pytest session for the tasks it is given: each
task's submission is graded with its own seed, and a session that cannot go on is replaced."""

import os
import signal
import threading

import pytest

from grader.cluster import tasks
from grader.cluster.identity import course_fingerprint
from grader.grading.session import grade_submissions, sandbox
from grader.grading.submission import load_submission
from tests.helpers import ROOT

ALL = ("ex1_forward", "ex2_backward", "ex3_module", "ex4_training")


@pytest.fixture(scope="module")
def worker(course):
    running = tasks.GradingWorker(
        course, course_fingerprint(course), tasks._zygote(course), threading.Lock()
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def solutions(course):
    return load_submission(ROOT / "solutions", [exercise.id for exercise in course.exercises])


def _passed(grade):
    return [check.check for check in grade.checks if check.status == "passed"]


def test_tasks_with_other_seeds_share_one_session_and_grade_as_alone(worker, solutions, course):
    first = worker.grade(solutions, 3, (ALL, False))
    session = worker.session
    second = worker.grade(solutions, 4, (ALL, False))
    assert worker.session is session and session.thread.is_alive()
    assert (first.seed, second.seed) == (3, 4)
    with sandbox(course) as zygote:
        [alone] = grade_submissions(course, [solutions], 4, zygote)
    assert _passed(second) == _passed(alone) == _passed(first)
    assert second.score == alone.score == alone.max_score == 100


def test_other_exercises_get_a_session_of_their_own(worker, solutions):
    worker.grade(solutions, 3, (ALL, False))
    before = worker.session
    grade = worker.grade(solutions, 3, (("ex3_module",), False))
    assert worker.session is not before and not before.thread.is_alive()
    assert [exercise.exercise for exercise in grade.exercises] == ["ex3_module"]


def test_a_session_whose_zygote_died_is_replaced(worker, solutions, course):
    worker.grade(solutions, 3, (ALL, False))
    before, zygote = worker.session, worker.zygote.process.pid
    os.kill(zygote, signal.SIGKILL)
    worker.zygote.process.wait()
    grade = worker.grade(solutions, 3, (ALL, False))
    assert worker.session is not before and worker.zygote.process.pid != zygote
    assert grade.score == grade.max_score == 100


def test_a_session_that_fails_fails_its_task_and_the_next_gets_a_new_one(
    worker, solutions, monkeypatch
):
    def failing(course, stream, *args):
        next(iter(stream))  # takes the task's submission, then fails as a grader bug would
        raise RuntimeError("a failed session")

    monkeypatch.setattr(tasks, "grade_stream", failing)
    with pytest.raises(RuntimeError, match="a failed session"):
        worker.grade(solutions, 3, (("ex2_backward",), False))  # new settings: a new session
    monkeypatch.undo()
    assert not worker.session.alive
    grade = worker.grade(solutions, 3, (ALL, False))
    assert worker.session.alive and grade.score == grade.max_score == 100
