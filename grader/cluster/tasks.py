"""A grading worker's side: the state it keeps, and the one task a client submits.

Runs in a Dask worker process, a trusted part of the grader (it holds the references and
hidden checks; student code runs only in the sandbox's children). The zygote is started
as a fresh interpreter with the minimal environment, not forked from the worker: the
worker has threads, and its memory holds the worker's own configuration and environment.

The task takes a plain dict (the grader's own values: the submission's sources as text,
the seed, the exercises) and returns a plain dict (the results.json text). A submission's
misbehaviour is a verdict inside that text, never an exception; an exception here is an
infrastructure failure, which the client lets Dask retry elsewhere.

Tasks hand their submissions, each with its seed, to one pytest session that lives on a
thread of its own for as long as they ask for the same exercises and figures (a class's
batch does, and so does every ``grader grade --cluster`` of the whole course): a session per
task would configure pytest and collect the checks again each time, ~0.2 s of CPU a
submission.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.cluster.identity import course_fingerprint
from grader.course import Course, load_course
from grader.grading.session import ReferenceCache, grade_stream
from grader.grading.submission import Submission
from grader.reports.writers import results_json
from grader.results import Grade
from grader.sandbox.confine.apply import missing_layers, reduced_isolation
from grader.sandbox.host.client import Zygote
from grader.sandbox.host.launch import start_zygote
from grader.sandbox.inside.zygote import prepare

# What a grading session is started with: the exercises, and whether grades carry the data
# of feedback figures.
Settings = tuple[tuple[str, ...], bool]
_Job = tuple[Submission, int, Future[Grade]]  # a submission, its seed, where its grade goes


class _Session:
    """One pytest session on a thread of its own, grading what tasks hand it, one at a time,
    until it is ended (or fails: then whatever it was given fails too, and Dask retries)."""

    def __init__(
        self, course: Course, zygote: Zygote, settings: Settings, cache: ReferenceCache
    ) -> None:
        self.settings, self.zygote = settings, zygote
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.running: Future[Grade] | None = None
        self.over: BaseException | None = None  # why the session ended, once it has
        self.handing = threading.Lock()  # a job is queued only while the session is not over
        self.thread = threading.Thread(
            target=self._grade, args=(course, cache), name="grading session", daemon=True
        )
        self.thread.start()

    def _stream(self) -> Iterator[tuple[Submission, int]]:
        while (job := self.jobs.get()) is not None:
            submission, seed, self.running = job
            yield submission, seed

    def _graded(self, grade: Grade) -> None:
        assert self.running is not None
        self.running.set_result(grade)

    def _grade(self, course: Course, cache: ReferenceCache) -> None:
        exercises, figures = self.settings
        try:
            grade_stream(
                course, self._stream(), self.zygote, list(exercises), self._graded, figures, cache
            )
        except BaseException as error:
            self._fail(error)
        else:
            self._fail(RuntimeError("the grading session ended"))

    def _fail(self, error: BaseException) -> None:
        """The session is over: fail the job it was grading and every job still queued."""
        with self.handing:
            self.over = error
            pending = [self.running] if self.running and not self.running.done() else []
            while not self.jobs.empty():
                job = self.jobs.get()
                pending += [job[2]] if job is not None else []
        for future in pending:
            future.set_exception(error)

    def grade(self, submission: Submission, seed: int) -> Grade:
        done: Future[Grade] = Future()
        with self.handing:
            if self.over is not None:
                raise self.over
            self.jobs.put((submission, seed, done))
        return done.result()

    @property
    def alive(self) -> bool:
        return self.over is None and self.zygote.process.poll() is None

    def end(self) -> bool:
        """Finish after the job in hand; False if it is still at it a minute later."""
        self.jobs.put(None)
        self.thread.join(timeout=60)
        return not self.thread.is_alive()


@dataclass
class GradingWorker:
    course: Course
    fingerprint: str
    zygote: Zygote
    lock: threading.Lock  # one grading at a time: one zygote, one pytest session
    cache: ReferenceCache = field(default_factory=ReferenceCache)
    session: _Session | None = None

    def live_zygote(self) -> Zygote:
        """The zygote, replaced first if it died."""
        if self.zygote.process.poll() is not None:
            self.zygote.close()
            self.zygote = _zygote(self.course)
        return self.zygote

    def grade(self, submission: Submission, seed: int, settings: Settings) -> Grade:
        """Grade ``submission`` in the running session, or in a new one if that session
        grades with other settings, or its zygote or thread died."""
        with self.lock:
            if self.session is not None and not (
                self.session.alive and self.session.settings == settings
            ):
                if not self.session.end():  # stuck: its zygote is no one else's to talk to
                    self.zygote.close()
                self.session = None
            if self.session is None:
                self.session = _Session(self.course, self.live_zygote(), settings, self.cache)
            return self.session.grade(submission, seed)

    def stop(self) -> None:
        if self.session is not None:
            self.session.end()
        self.zygote.close()


_worker: GradingWorker | None = None


def start(course_root: str | None) -> GradingWorker:
    """Load the course and warm a zygote once, for every submission this worker grades."""
    global _worker
    course = load_course(Path(course_root) if course_root else None)
    _worker = GradingWorker(course, course_fingerprint(course), _zygote(course), threading.Lock())
    return _worker


def stop() -> None:
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def _zygote(course: Course) -> Zygote:
    zygote = Zygote(start_zygote(course.probe_modules))
    prepare()  # this process's own PyTorch warm-up, while the zygote warms up
    zygote.host_layers  # noqa: B018 (waits until the zygote is ready)
    return zygote


def describe() -> dict[str, Any]:
    """What a client checks before it sends work: run on every worker by ``Client.run``."""
    if _worker is None:
        return {"ready": False, "host": socket.gethostname()}
    layers = _worker.zygote.host_layers
    return {
        "ready": True,
        "host": socket.gethostname(),
        "fingerprint": _worker.fingerprint,
        "course": _worker.course.name,
        "missing": missing_layers(layers),
        "isolation": reduced_isolation(layers),
    }


def grade(job: dict[str, Any]) -> dict[str, Any]:
    """Grade one submission; the task ``grader batch --cluster`` submits for each student."""
    if _worker is None:
        raise RuntimeError("this Dask worker was not started with --preload grader.cluster")
    if job["fingerprint"] != _worker.fingerprint:
        return {"refused": f"{socket.gethostname()} grades another course or grader version"}
    submission = Submission(
        student=job["student"],
        origin=Path(job["origin"]),
        sources=dict(job["sources"]),
        problems=dict(job["problems"]),
        notes=tuple(job["notes"]),
    )
    result = _worker.grade(submission, job["seed"], (tuple(job["exercises"]), job["feedback"]))
    return {
        "student": result.student,
        "results": json.dumps(results_json(result), ensure_ascii=False),
        "score": result.score,
        "max_score": result.max_score,
    }
