"""score() turns outcomes into points; the writers only format."""

import dataclasses

from grader.reports.writers import (
    grades_csv,
    read_results_json,
    results_json,
    summary,
    terminal_table,
)
from grader.results import Feedback, Outcome, score


def _grade(course, outcomes, exercises=None):
    return score(
        course,
        exercises or [e.id for e in course.exercises],
        outcomes,
        student="ada",
        seed=7,
        grader_version="test",
        protections=(),
        seconds=1.0,
    )


def test_points_come_from_course_yml_and_are_all_or_nothing(course):
    ex1 = course.exercise("ex1_forward")
    outcomes = [Outcome("ex1_forward", check.id, passed=True) for check in ex1.checks]
    outcomes[0] = Outcome("ex1_forward", ex1.checks[0].id, passed=False, feedback=Feedback("wrong"))
    grade = _grade(course, outcomes, ["ex1_forward"])
    assert grade.max_score == ex1.max_points == 20
    assert grade.score == 20 - ex1.checks[0].points
    first = grade.checks[0]
    assert (first.score, first.status, first.feedback.summary) == (0, "failed", "wrong")
    assert all(check.feedback is None for check in grade.checks[1:])


def test_a_check_without_an_outcome_scores_nothing(course):
    grade = _grade(course, [])
    assert grade.score == 0 and grade.max_score == 100
    assert {check.status for check in grade.checks} == {"failed"}
    assert all("did not run" in check.feedback.summary for check in grade.checks)


def test_an_internal_error_is_marked_as_ours(course):
    check = course.exercises[0].checks[0]
    grade = _grade(
        course,
        [
            Outcome(
                "ex1_forward",
                check.id,
                passed=False,
                internal_error=True,
                feedback=Feedback("the grader could not run this check"),
            )
        ],
    )
    assert grade.checks[0].status == "error"
    assert results_json(grade)["tests"][0]["status"] == "failed"  # Gradescope knows two


def test_writers_format_the_same_grade(course):
    outcomes = [
        Outcome(e.id, c.id, passed=c.visibility == "visible", feedback=Feedback("no", hint="try"))
        for e in course.exercises
        for c in e.checks
    ]
    grade = _grade(course, outcomes)
    data = results_json(grade)
    assert data["score"] == grade.score
    assert data["tests"][0]["number"] == "1.1"
    assert data["tests"][0]["tags"] == ["ex1_forward", course.exercises[0].checks[0].id]
    failed = next(t for t in data["tests"] if t["status"] == "failed")
    assert failed["output"] == "**no**\n\n- **hint:** try" and failed["output_format"] == "md"
    assert failed["extra_data"]["feedback"]["summary"] == "no"
    assert f"total: {grade.score:g}/100" in summary(grade)
    table = terminal_table(grade)
    assert "FAIL" in table and "PASS" in table and "seed 7" in table
    back = read_results_json(data)  # the one reader gives the grade back
    assert back.checks == tuple(
        dataclasses.replace(c, seconds=round(c.seconds, 4)) for c in grade.checks
    )
    assert (back.student, back.exercises, back.score, back.seed) == (
        grade.student,
        grade.exercises,
        grade.score,
        grade.seed,
    )
    csv_text = grades_csv(course, [back])
    assert (
        csv_text.splitlines()[0] == "student,ex1_forward,ex2_backward,ex3_module,ex4_training,total"
    )
    assert csv_text.splitlines()[1].startswith("ada,") and csv_text.splitlines()[1].endswith(
        f",{grade.score:g}"
    )


def test_feedback_text_puts_one_fact_per_line():
    feedback = Feedback(
        summary="sigmoid(z) has wrong values",
        inputs="z: float32, shape (3,)",
        expected="[0.5]",
        got="[0.2]",
        hint="check the sign",
        traceback='  File "ex1_forward.py", line 3, in sigmoid\n',
    )
    assert feedback.text().splitlines() == [
        "sigmoid(z) has wrong values",
        "input: z: float32, shape (3,)",
        "expected: [0.5]",
        "got: [0.2]",
        "hint: check the sign",
        "your code's traceback:",
        '  File "ex1_forward.py", line 3, in sigmoid',
    ]
