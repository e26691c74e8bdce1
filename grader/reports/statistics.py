"""The statistics of a class, a pure function of its grades (the class report shows them)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from grader.results import Grade


@dataclass(frozen=True)
class ClassSummary:
    """The statistics of a class, computed from its results alone."""

    exercises: tuple[tuple[str, float], ...]  # (exercise, max score), in course order
    students: tuple[tuple[str, dict[str, float], float], ...]  # (student, per exercise, total)
    failed_checks: tuple[tuple[str, int], ...]  # (check name, students failing it), most first
    errors: dict[str, tuple[tuple[str, int], ...]]  # exercise -> (error, students), most first


def summarize(grades: list[Grade]) -> ClassSummary:
    """Statistics of the class: a pure function of the grades."""
    maxima: dict[str, float] = {}
    failed: Counter[str] = Counter()
    errors: dict[str, Counter[str]] = {}
    students = []
    for grade in grades:
        seen: set[tuple[str, str]] = set()
        for check in grade.checks:
            if check.status == "passed":
                continue
            failed[f"{check.exercise}: {check.title}"] += 1
            error = (check.feedback.error if check.feedback else "") or "wrong result"
            if (check.exercise, error) not in seen:  # each student once per error and exercise
                seen.add((check.exercise, error))
                errors.setdefault(check.exercise, Counter())[error] += 1
        scores = {exercise.exercise: exercise.score for exercise in grade.exercises}
        students.append((grade.student, scores, grade.score))
        for exercise in grade.exercises:
            maxima[exercise.exercise] = max(maxima.get(exercise.exercise, 0.0), exercise.max_score)
    return ClassSummary(
        exercises=tuple(maxima.items()),
        students=tuple(sorted(students, key=lambda s: (-s[2], s[0]))),
        failed_checks=tuple(failed.most_common()),
        errors={exercise: tuple(counter.most_common()) for exercise, counter in errors.items()},
    )
