"""A grading worker's side: the state it keeps, and the one task a client submits.

Runs in a Dask worker process, a trusted part of the grader (it holds the references and
hidden checks; student code runs only in the sandbox's children). The zygote is started
as a fresh interpreter with the minimal environment, not forked from the worker: the
worker has threads, and its memory holds the worker's own configuration and environment.

The task takes a plain dict (the grader's own values: the submission's sources as text,
the seed, the exercises) and returns a plain dict (the results.json text). A submission's
misbehaviour is a verdict inside that text, never an exception; an exception here is an
infrastructure failure, which the client lets Dask retry elsewhere.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.cluster.identity import course_fingerprint
from grader.course import Course, load_course
from grader.grading.session import ReferenceCache, grade_submissions
from grader.grading.submission import Submission
from grader.reports.writers import results_json
from grader.sandbox.confine.apply import missing_layers, reduced_isolation
from grader.sandbox.host.client import Zygote
from grader.sandbox.host.launch import start_zygote
from grader.sandbox.inside.zygote import prepare


@dataclass
class GradingWorker:
    course: Course
    fingerprint: str
    zygote: Zygote
    lock: threading.Lock  # one grading at a time: one zygote, one pytest session
    cache: ReferenceCache = field(default_factory=ReferenceCache)

    def live_zygote(self) -> Zygote:
        """The zygote, replaced first if it died."""
        if self.zygote.process.poll() is not None:
            self.zygote.close()
            self.zygote = _zygote(self.course)
        return self.zygote


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
        _worker.zygote.close()
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
    with _worker.lock:
        [result] = grade_submissions(
            _worker.course,
            [submission],
            job["seed"],
            _worker.live_zygote(),
            job["exercises"],
            figures=job["feedback"],
            cache=_worker.cache,
        )
    return {
        "student": result.student,
        "results": json.dumps(results_json(result), ensure_ascii=False),
        "score": result.score,
        "max_score": result.max_score,
    }
