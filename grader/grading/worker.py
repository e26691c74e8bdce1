"""A batch worker: grades the chunks of submissions ``grader batch`` sends it.

Started as ``python -m grader.grading.worker SETTINGS_JSON``. It owns a zygote for its whole
life and runs one pytest session per chunk. Protocol with the coordinator (trusted on
both sides), one JSON object per line:

- stdin: ``{"paths": [...]}`` per chunk; end of input means stop.
- messages: ``{"ready": true}`` once, ``{"graded": student, "score": x, "max_score": y}``
  per submission (its results.json is written by then) and ``{"done": true}`` per chunk.

Messages go to the original stdout; anything else printed is sent to stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from grader.errors import UserError
from grader.sandbox.host.launch import fork_zygote


def main(settings: dict[str, Any]) -> int:
    # Started with the minimal environment and holding nothing secret yet: warm PyTorch once
    # and fork the zygote from here, before the course's references and checks are loaded.
    started = fork_zygote(tuple(settings["probe_modules"]))
    messages: TextIO = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints must not corrupt the message stream
    from grader.course import load_course
    from grader.grading.session import ReferenceCache, grade_submissions, sandbox
    from grader.grading.submission import load_submission
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

    cache = ReferenceCache()  # the whole batch has one seed: reference results computed once
    with sandbox(course, settings["require_isolation"], started) as zygote:
        send({"ready": True})
        for line in sys.stdin:
            submissions = [load_submission(Path(path), ids) for path in json.loads(line)["paths"]]
            grade_submissions(
                course,
                submissions,
                settings["seed"],
                zygote,
                settings["exercises"],
                finished,
                figures=settings["feedback"],
                cache=cache,
            )
            send({"done": True})
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(json.loads(sys.argv[1])))
    except UserError as error:
        print(f"grader: {error}", file=sys.stderr)
        sys.exit(2)
