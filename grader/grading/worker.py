"""A batch worker: grades the chunks of submissions ``grader batch`` sends it.

Started as ``python -m grader.grading.worker SETTINGS_JSON``. It owns a zygote and one
pytest session for its whole life: the session reads the next chunk when it has graded the
last. Protocol with the coordinator (trusted on both sides), one JSON object per line:

- stdin: ``{"paths": [...]}`` per chunk; end of input means stop.
- messages: ``{"ready": true}`` once, ``{"graded": student, "score": x, "max_score": y}``
  per submission (its results.json is written by then) and ``{"done": true}`` per chunk.

Messages go to the original stdout; anything else printed is sent to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from grader.errors import UserError
from grader.sandbox.host.launch import fork_zygote


def main(settings: dict[str, Any]) -> int:
    if settings["cpu"] is not None:  # for itself, its zygote and every child: see batch.py
        os.sched_setaffinity(0, {settings["cpu"]})
    # Started with the minimal environment and holding nothing secret yet: warm PyTorch once
    # and fork the zygote from here, before the course's references and checks are loaded.
    started = fork_zygote(tuple(settings["probe_modules"]))
    messages: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints must not corrupt the message stream
    from grader.course import load_course
    from grader.escaping import terminal_text
    from grader.grading.session import GradingStopped, grade_submissions, sandbox
    from grader.grading.submission import Submission, load_submission
    from grader.reports.writers import write_feedback, write_json
    from grader.results import Grade

    course = load_course(Path(settings["course"]))
    out = Path(settings["out"])
    ids = [exercise.id for exercise in course.exercises]

    def send(message: dict[str, Any]) -> None:
        messages.write(json.dumps(message) + "\n")

    def finished(grade: Grade) -> None:
        write_json(out / grade.student / "results.json", grade)
        if settings["feedback"]:
            write_feedback(out / grade.student / "feedback.html", grade)
        send({"graded": grade.student, "score": grade.score, "max_score": grade.max_score})

    def chunks() -> Iterator[Submission]:
        """The submissions of each chunk the coordinator sends, read when the last is done."""
        send({"ready": True})
        for line in sys.stdin:
            for path in json.loads(line)["paths"]:
                yield load_submission(Path(path), ids)
            send({"done": True})  # graded by now: the session asks for the next only then

    with sandbox(course, settings["require_isolation"], started) as zygote:
        try:
            grade_submissions(
                course,
                chunks(),
                settings["seed"],  # the whole batch has one: reference results computed once
                zygote,
                settings["exercises"],
                finished,
                figures=settings["feedback"],
            )
        except GradingStopped as error:  # the coordinator has a fresh worker grade it again
            print(terminal_text(f"grader: a grading worker stopped: {error}"), file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(json.loads(sys.argv[1])))
    except UserError as error:
        print(f"grader: {error}", file=sys.stderr)
        sys.exit(2)
