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
from typing import TYPE_CHECKING, Any

import jinja2

from grader.course import course_hook
from grader.results import Feedback

if TYPE_CHECKING:
    from grader.reports.class_report import ClassSummary

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_feedback(results: dict[str, Any]) -> str:
    """The student's feedback page from a results.json's content."""
    extra = results.get("extra_data", {})
    figures = extra.get("figures", {})
    sections = []
    for exercise, tests in _by_exercise(results["tests"]).items():
        sections.append(
            {
                "exercise": exercise,
                "score": _points(sum(t["score"] for t in tests)),
                "total": _points(sum(t["max_score"] for t in tests)),
                "rows": [_row(test) for test in tests],
                "failures": [_failure(test) for test in tests if test["status"] != "passed"],
                "figures": [_figure(figure) for figure in figures.get(exercise, [])],
            }
        )
    return _environment.get_template("feedback.html.j2").render(
        student=str(extra.get("student", "")),
        score=_points(results["score"]),
        max_score=_points(extra.get("max_score", 0)),
        notes=[str(note) for note in extra.get("notes", [])],
        sections=sections,
        seed=str(extra.get("seed", "")),
        grader_version=str(extra.get("grader_version", "")),
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


def _by_exercise(tests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for test in tests:
        grouped.setdefault(test["tags"][0], []).append(test)
    return grouped


def _title(test: dict[str, Any]) -> str:
    return test["name"].split(": ", 1)[-1]


def _row(test: dict[str, Any]) -> dict[str, Any]:
    return {
        "passed": test["status"] == "passed",
        "title": _title(test),
        "score": _points(test["score"]),
        "max_score": _points(test["max_score"]),
    }


def _failure(test: dict[str, Any]) -> dict[str, Any]:
    stored = test.get("extra_data", {}).get("feedback") or {"summary": test["output"]}
    feedback = Feedback(**stored)
    return {
        "title": _title(test),
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
