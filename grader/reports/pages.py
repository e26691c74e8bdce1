"""The HTML pages: a student's feedback.html and the class report, from Jinja2 templates.

Both pages extend one base (templates/base.html.j2) and are self-contained: images are
embedded as PNG data: URLs, so they open offline, with alt text on every figure; the
feedback page has no script. Autoescaping is on for every value, so text that came from a
submission (names, messages, tracebacks, printed output) is inert by construction; this
module only turns results into plain values for the templates.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2

from grader.course import course_hook
from grader.reports.statistics import ClassSummary
from grader.results import Feedback, Grade, ScoredCheck

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_feedback(grade: Grade) -> str:
    """The student's feedback page (from the grade, or read_results_json of a results.json)."""
    figures = grade.extra.get("figures") or {}
    sections = []
    for exercise in grade.exercises:
        checks = [check for check in grade.checks if check.exercise == exercise.exercise]
        sections.append(
            {
                "exercise": exercise.exercise,
                "score": _points(exercise.score),
                "total": _points(exercise.max_score),
                "rows": [_row(check) for check in checks],
                "failures": [_failure(check) for check in checks if check.status != "passed"],
                "figures": [_figure(figure) for figure in figures.get(exercise.exercise, [])],
            }
        )
    return _environment.get_template("feedback.html.j2").render(
        student=grade.student,
        score=_points(grade.score),
        max_score=_points(grade.max_score),
        notes=list(grade.notes),
        sections=sections,
        seed=str(grade.seed),
        grader_version=grade.grader_version,
    )


def render_report(summary: ClassSummary, pictures: dict[str, tuple[bytes, str]]) -> str:
    """The class report page, from the class's statistics and its pictures."""
    ids = [exercise for exercise, _ in summary.exercises]
    return _environment.get_template("class-report.html.j2").render(
        maximum=_points(sum(points for _, points in summary.exercises)),
        pictures=[
            {"name": name, "png": _base64(png), "alt": alt} for name, (png, alt) in pictures.items()
        ],
        failed_checks=summary.failed_checks[:20],
        errors=[(exercise, found[:5]) for exercise, found in summary.errors.items()],
        exercises=ids,
        students=[
            {"name": name, "scores": [_points(scores.get(e, 0)) for e in ids], "total": _points(t)}
            for name, scores, t in summary.students
        ],
    )


def _points(value: float) -> str:
    return f"{value:g}"


def _base64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _row(check: ScoredCheck) -> dict[str, Any]:
    return {
        "passed": check.status == "passed",
        "title": check.title,
        "score": _points(check.score),
        "max_score": _points(check.max_score),
        "note": check.carried_note(),
    }


def _failure(check: ScoredCheck) -> dict[str, Any]:
    feedback = check.feedback or Feedback(summary="this check failed")
    return {
        "title": check.title,
        "summary": feedback.summary,
        "facts": feedback.facts(),
        "blocks": feedback.blocks(),
    }


def _figure(figure: dict[str, Any]) -> dict[str, str]:
    title = str(figure["title"])
    if "missing" in figure:
        return {"title": title, "missing": str(figure["missing"])}
    draw = course_hook("drawing", "draw")
    if draw is None:
        return {"title": title, "missing": "this course draws none"}
    try:
        png, alt = draw(figure)
    except Exception as error:  # data of an unexpected shape: a sentence instead of a crash
        return {"title": title, "missing": f"its data could not be drawn ({type(error).__name__})"}
    return {"title": title, "png": _base64(png), "alt": alt}
