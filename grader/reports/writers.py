"""Writers: grades in, formatted text out (Gradescope JSON, CSV, a terminal table).

results.json has one writer (``results_json``) and one reader (``read_results_json``), which
gives back the Grade: the feedback page, the class report and grades.csv all read it so,
never by picking at the JSON themselves.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path
from typing import Any

from grader.course import Course
from grader.escaping import csv_cell, markdown_text, terminal_text
from grader.results import ExerciseScore, Feedback, Grade, ScoredCheck


def results_json(grade: Grade) -> dict[str, Any]:
    """A submission's grade in Gradescope's results.json format."""
    numbers: dict[str, int] = {}
    exercises = list(dict.fromkeys(c.exercise for c in grade.checks))
    tests = []
    for check in grade.checks:
        exercise_number = exercises.index(check.exercise) + 1
        numbers[check.exercise] = numbers.get(check.exercise, 0) + 1
        tests.append(
            {
                "name": f"{check.exercise}: {check.title}",
                "number": f"{exercise_number}.{numbers[check.exercise]}",
                "score": check.score,
                "max_score": check.max_score,
                "status": "passed" if check.status == "passed" else "failed",
                "output": _output(check),
                "output_format": "md",
                "visibility": check.visibility,
                "tags": [check.exercise, check.check],
                "extra_data": {
                    "check": check.check,
                    "status": check.status,
                    "seconds": round(check.seconds, 4),
                    "feedback": dataclasses.asdict(check.feedback) if check.feedback else None,
                    "carried_forward": {f: list(called) for f, called in check.carried_forward},
                },
            }
        )
    return {
        "score": grade.score,
        "execution_time": round(grade.seconds, 3),
        "output": "  \n".join(markdown_text(line) for line in summary(grade).splitlines()),
        "output_format": "md",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "student": grade.student,
            "max_score": grade.max_score,
            "seed": grade.seed,
            "grader_version": grade.grader_version,
            "protections": list(grade.protections),
            "notes": list(grade.notes),
            "exercises": [dataclasses.astuple(exercise) for exercise in grade.exercises],
            "isolation": grade.isolation,
            **grade.extra,
        },
        "tests": tests,
    }


def _output(check: ScoredCheck) -> str:
    """A test's markdown: why it failed, and whether it ran with correct dependencies."""
    parts = [check.feedback.markdown()] if check.feedback else []
    if check.carried_forward:
        parts.append(f"_{markdown_text(check.carried_note())}_")
    return "\n\n".join(parts)


def read_results_json(data: dict[str, Any]) -> Grade:
    """The Grade a results.json holds (also one written before exercise titles were stored,
    or the zero score run_autograder writes when the grader itself failed)."""
    extra = data.get("extra_data") or {}
    checks = []
    for test in data.get("tests", []):
        facts = test.get("extra_data") or {}
        stored = facts.get("feedback")
        feedback = Feedback(**stored) if stored else None
        status = facts.get("status") or test["status"]
        if feedback is None and status != "passed":
            feedback = Feedback(summary=test.get("output", ""))
        tags = [*test.get("tags", []), "", ""]
        checks.append(
            ScoredCheck(
                exercise=tags[0],
                check=facts.get("check", tags[1]),
                title=test["name"].split(": ", 1)[-1],
                visibility=test.get("visibility", "visible"),
                score=float(test["score"]),
                max_score=float(test["max_score"]),
                status=status,
                feedback=feedback,
                seconds=float(facts.get("seconds", 0.0)),
                carried_forward=tuple(
                    (str(function), tuple(str(name) for name in called))
                    for function, called in (facts.get("carried_forward") or {}).items()
                ),
            )
        )
    if "exercises" in extra:
        exercises = [
            ExerciseScore(str(e), str(title), float(score), float(most))
            for e, title, score, most in extra["exercises"]
        ]
    else:  # derived from the checks; the titles were not stored
        ids = list(dict.fromkeys(c.exercise for c in checks))
        exercises = [
            ExerciseScore(
                exercise,
                "",
                sum(c.score for c in checks if c.exercise == exercise),
                sum(c.max_score for c in checks if c.exercise == exercise),
            )
            for exercise in ids
        ]
    known = {
        "student",
        "seed",
        "grader_version",
        "protections",
        "notes",
        "isolation",
        "exercises",
        "max_score",
    }
    return Grade(
        student=str(extra.get("student", "")),
        checks=tuple(checks),
        exercises=tuple(exercises),
        seed=extra.get("seed"),
        grader_version=str(extra.get("grader_version", "")),
        protections=tuple(extra.get("protections", ())),
        seconds=float(data.get("execution_time", 0.0)),
        notes=tuple(str(note) for note in extra.get("notes", ())),
        isolation=str(extra.get("isolation", "")),
        extra={key: value for key, value in extra.items() if key not in known},
    )


def write_json(path: Path, grade: Grade) -> None:
    """Write results.json atomically, so a reader never sees half a file."""
    _write_atomically(path, json.dumps(results_json(grade), indent=2, ensure_ascii=False) + "\n")


def write_results(path: Path, results: str, feedback: Path | None = None) -> Grade:
    """results.json from its text (graded on a cluster), and the feedback page if asked."""
    data = json.loads(results)
    _write_atomically(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    grade = read_results_json(data)
    if feedback is not None:
        write_feedback(feedback, grade)
    return grade


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(text, "utf-8")
    partial.replace(path)


def write_feedback(path: Path, grade: Grade) -> None:
    """Write the student's feedback page next to (or instead of) their results.json."""
    from grader.reports.pages import render_feedback  # matplotlib, only when pages are written

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_feedback(grade), encoding="utf-8")


def summary(grade: Grade) -> str:
    """One line per exercise and the total."""
    lines = [
        f"{e.exercise}: {_points(e.score)}/{_points(e.max_score)}  {e.title}"
        for e in grade.exercises
    ]
    lines.append(f"total: {_points(grade.score)}/{_points(grade.max_score)}")
    lines += [f"note: {note}" for note in grade.notes]
    if grade.isolation:
        lines.append(f"note: {grade.isolation}")
    return "\n".join(lines)


def terminal_table(grade: Grade) -> str:
    """Every check with its points and, when it failed, the first line of why."""
    lines = [f"{grade.student}  (seed {grade.seed})"]
    for exercise in grade.exercises:
        lines.append(
            f"\n{exercise.exercise}  {_points(exercise.score)}/{_points(exercise.max_score)}  "
            f"{exercise.title}"
        )
        for check in grade.checks:
            if check.exercise != exercise.exercise:
                continue
            mark = {"passed": "PASS", "failed": "FAIL", "error": "ERROR"}[check.status]
            line = (
                f"  {mark:5} {_points(check.score):>3}/{_points(check.max_score):<3} {check.check}"
            )
            if check.feedback:
                line += f"  {check.feedback.summary.splitlines()[0][:110]}"
            elif check.carried_forward:
                made_right = (name for _, called in check.carried_forward for name in called)
                line += f"  (with a correct {', '.join(dict.fromkeys(made_right))})"
            lines.append(line)
    lines.append(f"\ntotal {_points(grade.score)}/{_points(grade.max_score)}")
    lines += [f"note: {note}" for note in grade.notes]
    return terminal_text("\n".join(lines))


def grades_csv(course: Course, grades: list[Grade]) -> str:
    """student, one column per exercise (in course order), total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    ids = [exercise.id for exercise in course.exercises]
    writer.writerow(["student", *ids, "total"])
    for grade in sorted(grades, key=lambda g: g.student):
        scores = {exercise.exercise: exercise.score for exercise in grade.exercises}
        writer.writerow(
            [
                csv_cell(grade.student),
                *(_points(scores.get(i, 0.0)) for i in ids),
                _points(grade.score),
            ]
        )
    return out.getvalue()


def _points(value: float) -> str:
    return f"{value:g}"
