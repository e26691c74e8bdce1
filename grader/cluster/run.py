"""``grader batch --cluster`` and ``grader grade --cluster``: the commands' cluster side.

The submissions are read here, as for a local grading, and sent as plain data; each
results.json is written here as its task completes (atomically), so an interrupted batch
resumes where it stopped on the next run.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from grader.cluster import client as cluster
from grader.cluster.identity import course_fingerprint
from grader.course import load_course
from grader.escaping import terminal_text
from grader.grading.batch import Batch, Progress
from grader.grading.submission import Submission, load_submission, student_id
from grader.reports.writers import terminal_table, write_results
from grader.seeds import new_seed


def job(submission: Submission, seed: int, exercises: list[str], feedback: bool,
        fingerprint: str) -> dict[str, Any]:  # fmt: skip
    """A task's input: plain values only (Dask pickles what it carries)."""
    return {
        "student": submission.student,
        "origin": str(submission.origin),
        "sources": dict(submission.sources),
        "problems": dict(submission.problems),
        "notes": list(submission.notes),
        "seed": seed,
        "exercises": list(exercises),
        "feedback": feedback,
        "fingerprint": fingerprint,
    }


def batch(connection: cluster.Connection, todo: Batch, progress: Progress) -> list[Path]:
    """Grade a batch on the cluster; return the submissions that failed for good."""
    fingerprint = course_fingerprint(todo.course)
    with _client(connection, fingerprint, todo.require_isolation) as dask:
        ids = [exercise.id for exercise in todo.course.exercises]
        by_student = {student_id(path): path for path in todo.todo}
        failed: list[Path] = []

        def jobs() -> Iterator[dict[str, Any]]:
            for path in todo.todo:
                submission = load_submission(path, ids)
                yield job(submission, todo.seed, todo.exercises, todo.feedback, fingerprint)

        def on_result(answer: dict[str, Any]) -> None:
            folder = todo.out / answer["student"]
            page = folder / "feedback.html" if todo.feedback else None
            write_results(folder / "results.json", answer["results"], page)
            progress.update({"graded": answer["student"], **answer})

        def on_failure(student: str, why: str) -> None:
            print(terminal_text(f"grader: grading {student} failed on the cluster ({why})"))
            failed.append(by_student[student])

        cluster.grade_all(dask, jobs(), on_result, on_failure)
        progress.finish()
        return failed


def grade(
    connection: cluster.Connection,
    submission: Path,
    results: Path,
    seed: int | None,
    exercises: list[str] | None,
    course_root: Path | None,
    require_isolation: bool,
    feedback: Path | None,
) -> int:
    """``grader grade SUBMISSION --cluster ADDRESS``: one submission, on a warm worker."""
    from grader.errors import UsageError

    course = load_course(course_root)
    selected = course.select(exercises)
    if not submission.exists():
        raise UsageError(f"{submission}: no such folder or .zip file")
    seed = new_seed() if seed is None else seed
    print(f"grading {submission} with seed {seed} (rerun with --seed {seed} to reproduce)")
    loaded = load_submission(submission, [e.id for e in course.exercises])
    fingerprint = course_fingerprint(course)
    answers: list[dict[str, Any]] = []
    with _client(connection, fingerprint, require_isolation) as dask:
        task = job(loaded, seed, selected, feedback is not None, fingerprint)
        cluster.grade_all(dask, iter([task]), answers.append, _failed)
    graded = write_results(results, answers[0]["results"], feedback)
    if feedback is not None:
        print(f"feedback written to {feedback}")
    print(terminal_table(graded))
    print(f"results written to {results}")
    return 0


def _failed(student: str, why: str) -> None:
    raise cluster.ClusterError(f"grading {student} failed on the cluster ({why}); try again")


@contextmanager
def _client(
    connection: cluster.Connection, fingerprint: str, require_isolation: bool
) -> Iterator[Any]:
    """A client of the cluster, once every worker is known to grade as we would."""
    dask = cluster.connect(connection)
    try:
        for notice in cluster.verify(dask, fingerprint, require_isolation):
            print(terminal_text(f"grader: {notice}"), file=sys.stderr)
        if link := cluster.dashboard(dask):
            print(f"Dask dashboard: {link}")
        yield dask
    finally:
        dask.close()
