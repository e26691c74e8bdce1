"""feedback.html: one self-contained page per student, written from results.json alone.

Images are embedded (PNG as data: URLs), so the page opens offline; it has no script, a
viewport for phones, and alt text on every figure. Every string from a submission
(messages, tracebacks, printed output) is escaped.
"""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from grader.course import course_hook
from grader.results import Feedback

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; margin: 0; color: #1b1b1b; background: #fafafa; }
main { max-width: 52rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.score { float: right; font-weight: 600; }
table { width: 100%; border-collapse: collapse; margin: .5rem 0; }
td { padding: .3rem .4rem; border-bottom: 1px solid #ddd; vertical-align: top; }
td.points { text-align: right; white-space: nowrap; }
.passed { color: #1a7f37; } .failed { color: #b42318; }
details { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .5rem .8rem;
          margin: .5rem 0; }
summary { cursor: pointer; font-weight: 600; }
dt { font-weight: 600; } dd { margin: 0 0 .4rem 0; overflow-wrap: anywhere; }
pre { background: #f0f0f0; padding: .6rem; overflow-x: auto; font-size: .85rem; }
figure { margin: 1rem 0; } img { max-width: 100%; height: auto; }
figcaption, .missing { font-size: .9rem; color: #555; }
"""


def render_feedback(results: dict[str, Any]) -> str:
    """The student's feedback page from a results.json's content."""
    extra = results.get("extra_data", {})
    student = str(extra.get("student", ""))
    figures = extra.get("figures", {})
    sections = []
    for exercise, tests in _by_exercise(results["tests"]).items():
        score = sum(t["score"] for t in tests)
        total = sum(t["max_score"] for t in tests)
        rows = "".join(_row(test) for test in tests)
        failures = "".join(_failure(test) for test in tests if test["status"] != "passed")
        pictures = "".join(_figure(figure) for figure in figures.get(exercise, []))
        sections.append(
            f'<section><h2>{escape(exercise)} <span class="score">{score:g} / {total:g}</span></h2>'
            f"<table>{rows}</table>{failures}{pictures}</section>"
        )
    notes = "".join(f"<li>{escape(note)}</li>" for note in extra.get("notes", []))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Feedback for {escape(student)}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>Feedback for {escape(student)}</h1>"
        f"<p>Total: <strong>{results['score']:g} / {extra.get('max_score', 0):g}</strong>. "
        f"Each check gives all its points or none; open a failed one to see why.</p>"
        + (f"<ul>{notes}</ul>" if notes else "")
        + "".join(sections)
        + f'<p class="missing">Graded with seed {escape(str(extra.get("seed", "")))} by grader '
        f"{escape(str(extra.get('grader_version', '')))}.</p></main></body></html>\n"
    )


def _by_exercise(tests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for test in tests:
        grouped.setdefault(test["tags"][0], []).append(test)
    return grouped


def _title(test: dict[str, Any]) -> str:
    return test["name"].split(": ", 1)[-1]


def _row(test: dict[str, Any]) -> str:
    passed = test["status"] == "passed"
    mark = (
        '<span class="passed">✓ passed</span>' if passed else '<span class="failed">✗ failed</span>'
    )
    return (
        f"<tr><td>{mark}</td><td>{escape(_title(test))}</td>"
        f'<td class="points">{test["score"]:g} / {test["max_score"]:g}</td></tr>'
    )


def _failure(test: dict[str, Any]) -> str:
    stored = test.get("extra_data", {}).get("feedback") or {"summary": test["output"]}
    feedback = Feedback(**stored)
    facts = "".join(
        f"<dt>{label}</dt><dd>{escape(value)}</dd>" for label, value in feedback.facts()
    )
    blocks = "".join(
        f"<p>{escape(label.capitalize())}:</p><pre>{escape(value)}</pre>"
        for label, value in feedback.blocks()
    )
    return (
        f"<details open><summary>{escape(_title(test))}</summary>"
        f"<p>{escape(feedback.summary)}</p><dl>{facts}</dl>{blocks}</details>"
    )


def _figure(figure: dict[str, Any]) -> str:
    title = escape(figure["title"])
    if "missing" in figure:
        return f'<p class="missing">{title}: no figure, because {escape(figure["missing"])}.</p>'
    draw = course_hook("drawing", "draw")
    if draw is None:
        return f'<p class="missing">{title}: no figure, because this course draws none.</p>'
    try:
        png, alt = draw(figure)
    except Exception as error:  # data of an unexpected shape: a sentence instead of a crash
        reason = f"its data could not be drawn ({type(error).__name__})"
        return f'<p class="missing">{title}: no figure, because {escape(reason)}.</p>'
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{escape(alt)}" '
        f'width="640" height="360"><figcaption>{title}</figcaption></figure>'
    )
