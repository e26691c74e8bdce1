"""``grader report OUTDIR``: the class report, from the results.json files of a batch.

What an instructor opens the morning after the deadline: the score distribution of each
exercise, the checks most students failed, the most common errors per exercise, and a
table of students sortable by score. Written as class-report.html (self-contained) with
the same figures as PNG files next to it. The statistics are statistics.py's, the page is
rendered by pages.py; the drawing is here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

from matplotlib.figure import Figure

from grader.errors import UsageError
from grader.reports.pages import render_report
from grader.reports.statistics import ClassSummary, summarize
from grader.reports.writers import read_results_json


def main(outdir: Path) -> int:
    paths = sorted(outdir.glob("*/results.json"))
    if not paths:
        raise UsageError(f"{outdir}: no <student>/results.json here; run `grader batch` first")
    results = []
    for path in paths:
        try:
            results.append(read_results_json(json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, KeyError, TypeError) as error:
            raise UsageError(
                f"{path}: not a results.json of the grader ({error!r}); grade this student again"
            ) from None
    summary = summarize(results)
    pictures = {
        "score-distribution.png": _distribution(summary),
        "failed-checks.png": _failed_checks(summary),
    }
    for name, (png, _) in pictures.items():
        (outdir / name).write_bytes(png)
    (outdir / "class-report.html").write_text(render_report(summary, pictures), encoding="utf-8")
    print(f"class report: {outdir / 'class-report.html'} ({len(results)} students)")
    return 0


def _distribution(summary: ClassSummary) -> tuple[bytes, str]:
    figure = Figure(figsize=(8, 2.2 * ((len(summary.exercises) + 1) // 2)), layout="constrained")
    axes = figure.subplots((len(summary.exercises) + 1) // 2, 2, squeeze=False).flatten()
    described = []
    for ax, (exercise, maximum) in zip(axes, summary.exercises, strict=False):
        scores = [scores.get(exercise, 0.0) for _, scores, _ in summary.students]
        ax.hist(scores, bins=10, range=(0, maximum), color="tab:blue", edgecolor="white")
        ax.set_title(exercise, fontsize=10)
        ax.set_xlabel("score")
        ax.set_ylabel("students")
        full = sum(score == maximum for score in scores)
        described.append(f"{exercise}: {full} of {len(scores)} students have full marks")
    for ax in axes[len(summary.exercises) :]:
        ax.set_visible(False)
    return _png(figure), "Histograms of the scores per exercise. " + "; ".join(described) + "."


def _failed_checks(summary: ClassSummary, shown: int = 12) -> tuple[bytes, str]:
    top = summary.failed_checks[:shown][::-1]
    figure = Figure(figsize=(8, 0.35 * max(len(top), 2) + 1), layout="constrained")
    ax = figure.add_subplot()
    ax.barh([_short(name) for name, _ in top], [count for _, count in top], color="tab:red")
    ax.set_xlabel("students failing the check")
    ax.tick_params(axis="y", labelsize=8)
    if not top:
        return _png(figure), "No check failed for any student."
    worst = ", ".join(f"{name} ({count})" for name, count in summary.failed_checks[:3])
    return _png(figure), f"Bar chart of the most failed checks; the top three: {worst}."


def _short(name: str, width: int = 60) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
