"""A sandbox zygote that dies while a submission is graded leaves it ungraded, not failed:
its checks failed for the grader's sake, so no grade is handed on, and grading says why."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from grader.cluster import tasks
from grader.cluster.identity import course_fingerprint
from grader.grading.session import GradingStopped, grade_submissions, sandbox
from grader.grading.submission import load_submission
from grader.sandbox.host.client import Zygote
from tests.helpers import ROOT, read_results


@pytest.fixture(scope="module")
def solutions(course):
    return load_submission(ROOT / "solutions", [exercise.id for exercise in course.exercises])


def _dies_at_second_spawn(monkeypatch, zygote):
    spawn, spawned = Zygote.spawn, []

    def dying(self, *args, **kwargs):
        spawned.append(1)
        if len(spawned) == 2 and self is zygote:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        return spawn(self, *args, **kwargs)

    monkeypatch.setattr(Zygote, "spawn", dying)


def test_no_grade_is_handed_on_when_the_zygote_dies(course, solutions, monkeypatch):
    graded = []
    with sandbox(course) as zygote:
        _dies_at_second_spawn(monkeypatch, zygote)
        with pytest.raises(GradingStopped, match=r"zygote stopped .* while solutions was graded"):
            grade_submissions(course, [solutions], 1, zygote, on_grade=graded.append)
    assert graded == []


def test_a_cluster_task_whose_zygote_dies_fails_and_the_next_is_graded(
    course, solutions, monkeypatch
):
    worker = tasks.GradingWorker(
        course, course_fingerprint(course), tasks._zygote(course), threading.Lock()
    )
    try:
        _dies_at_second_spawn(monkeypatch, worker.zygote)
        with pytest.raises(GradingStopped):  # Dask retries it
            worker.grade(solutions, 1, (("ex1_forward", "ex2_backward"), False))
        monkeypatch.undo()
        grade = worker.grade(solutions, 1, (("ex1_forward", "ex2_backward"), False))
        assert grade.score == grade.max_score == 50
    finally:
        worker.stop()


def _zygotes_of_workers():
    """The zygote of each running batch worker: the one process each worker forked."""
    for pid in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"grader.grading.worker" in command and int(pid) != os.getpid():
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                yield from (int(child) for child in children[:1])
        except (OSError, ValueError):
            continue


def test_a_batch_whose_zygote_dies_grades_every_student_once(tmp_path):
    """Nothing lost, nothing doubled: the student in hand is graded again by a fresh worker."""
    names = [f"s{index:02}\x1b[31m" for index in range(12)]  # a name is data: never obeyed
    for name in names:
        shutil.copytree(ROOT / "solutions", tmp_path / "class" / name)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "grader", "batch", str(tmp_path / "class"), "--out", str(out)]
    batch = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*/results.json")) and time.monotonic() < deadline:
            time.sleep(0.05)
        zygote = next(_zygotes_of_workers())
        os.kill(zygote, signal.SIGKILL)
        _, stderr = batch.communicate(timeout=300)
    finally:
        batch.kill()
    assert batch.returncode == 0, stderr
    said = stderr.decode()
    assert "a grading worker stopped: the sandbox's zygote stopped" in said
    assert "\x1b" not in said and "\\x1b[31m was graded" in said
    results = read_results(out)
    assert sorted(results) == names
    assert {result["score"] for result in results.values()} == {100}
