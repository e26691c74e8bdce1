"""The course's feedback figures drawn: PNG images and alt text from figures.py's data.

Only matplotlib, never torch: the reports call ``draw`` by name (grader.course.course_module)
when they render a feedback page from results.json.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

from matplotlib.figure import Figure  # drawn without pyplot: no global state, no window

_Painter = Callable[[Any, dict[str, Any]], str]  # (axes, data) -> alt text
PAINTERS: dict[str, _Painter] = {}


def paints(*figure_ids: str) -> Callable[[_Painter], _Painter]:
    """Register the painter of the figures ``figure_ids`` (figures.py gives their data)."""

    def register(painter: _Painter) -> _Painter:
        PAINTERS.update(dict.fromkeys(figure_ids, painter))
        return painter

    return register


def draw(figure: dict[str, Any]) -> tuple[bytes, str]:
    """A figure's PNG and its alt text, from its data."""
    painter = PAINTERS[figure["id"]]
    canvas = Figure(figsize=(6.4, 3.6), dpi=100, layout="constrained")
    axes = canvas.add_subplot()
    alt = painter(axes, figure["data"])
    axes.set_title(figure["title"], fontsize=10)
    buffer = io.BytesIO()
    canvas.savefig(buffer, format="png")
    return buffer.getvalue(), alt


def _finite(xs: list[float], ys: list[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _gap(ys: list[float | None], expected: list[float]) -> float:
    gaps = [abs(y - e) for y, e in zip(ys, expected, strict=True) if y is not None]
    return max(gaps, default=math.inf)


@paints("sigmoid_curve")
def _draw_sigmoid(axes: Any, data: dict[str, Any]) -> str:
    z, yours, true = data["z"], data["yours"], data["true"]
    axes.plot(z, true, color="tab:green", linewidth=3, alpha=0.5, label="true σ(z)")
    axes.plot(*_finite(z, yours), color="tab:blue", label="your sigmoid")
    broken = [x for x, y in zip(z, yours, strict=True) if y is None]
    if broken:
        axes.scatter(broken, [0.0] * len(broken), color="tab:red", marker="x", label="not finite")
    far = data["not_finite_at"]
    if far:
        note = f"not finite for float32 z = {_span(far)}"
        axes.text(0.02, 0.6, note, transform=axes.transAxes, color="tab:red", fontsize=9)
    axes.set_xlabel("z")
    axes.set_ylabel("σ(z)")
    axes.legend()
    where = f"; not finite at {len(broken)} of {len(z)} points" if broken else ""
    where += f"; beyond ±10 not finite at z = {_span(far)}" if far else "; finite up to ±1e4"
    return (
        "Your sigmoid against the true curve on [−10, 10]: "
        f"largest difference {_gap(yours, true):.3g}{where}."
    )


def _span(values: list[float]) -> str:
    """Where a sigmoid breaks, in a few words, e.g. '-1e+04 … -88.6 and 88.6 … 1e+04'."""
    parts = []
    for side in ([v for v in values if v < 0], [v for v in values if v > 0]):
        if side:
            parts.append(f"{min(side):.3g} … {max(side):.3g}")
    return " and ".join(parts)


@paints("gradients_scatter")
def _draw_scatter(axes: Any, data: dict[str, Any]) -> str:
    autograd, yours = data["autograd"], data["yours"]
    points = _finite(autograd, yours)
    axes.scatter(*points, color="tab:blue", s=14, label="your gradients")
    low, high = min(autograd), max(autograd)
    axes.plot([low, high], [low, high], color="tab:green", label="equal to autograd")
    axes.set_xlabel("autograd's gradient")
    axes.set_ylabel("your backward's gradient")
    axes.legend()
    return (
        f"Scatter of {len(points[0])} gradients from your backward against autograd's; on the "
        f"diagonal they agree. Largest difference {_gap(yours, autograd):.3g}."
    )


@paints("fit_curve", "training_losses")
def _draw_curves(axes: Any, data: dict[str, Any]) -> str:
    yours, expected = data["yours"], data["reference"]
    steps = list(range(len(expected)))
    axes.plot(steps, expected, color="tab:green", linewidth=3, alpha=0.5, label="reference")
    axes.plot(*_finite(steps, yours), color="tab:blue", label="yours")
    if all(v is None or v > 0 for v in [*yours, *expected]):
        axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.set_ylabel("loss")
    axes.legend()
    return (
        f"Loss per step, yours against the reference's over {len(steps)} steps: yours ends at "
        f"{_last(yours)}, the reference at {expected[-1]:.3g}."
    )


def _last(values: list[float | None]) -> str:
    return "not a number" if values[-1] is None else f"{values[-1]:.3g}"


@paints("module_curve")
def _draw_module(axes: Any, data: dict[str, Any]) -> str:
    axes.plot(
        data["x"], data["reference"], color="tab:green", linewidth=3, alpha=0.5, label="reference"
    )
    axes.plot(*_finite(data["x"], data["yours"]), color="tab:blue", label="your network")
    axes.set_xlabel("x")
    axes.set_ylabel("output")
    axes.legend()
    return (
        "Output of your network and of the reference with the same weights on [−3, 3]: "
        f"largest difference {_gap(data['yours'], data['reference']):.3g}."
    )


@paints("split")
def _draw_split(axes: Any, data: dict[str, Any]) -> str:
    axes.scatter(
        *_finite(data["x_train"], data["y_train"]), color="tab:blue", s=12, label="training"
    )
    axes.scatter(*_finite(data["x_test"], data["y_test"]), color="tab:orange", s=12, label="test")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.legend()
    return (
        f"Your data split in {len(data['x_train'])} training and {len(data['x_test'])} test "
        "points; both should follow the same line y = 1 + 2x."
    )


@paints("predictions")
def _draw_predictions(axes: Any, data: dict[str, Any]) -> str:
    axes.scatter(data["x"], data["expected"], color="tab:green", s=14, label="expected")
    axes.scatter(
        *_finite(data["x"], data["predicted"]), color="tab:orange", s=14, label="predicted"
    )
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.legend()
    return (
        f"Predictions of your trained model against the expected values on {len(data['x'])} test "
        f"points: largest difference {_gap(data['predicted'], data['expected']):.3g}."
    )
