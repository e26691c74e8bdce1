"""The student kit's own files: exercises/README.md and exercises/requirements.txt.

``grader build`` writes them with the stubs, so a change to course.yml (an exercise, a
check's points or visibility, a limit) reaches the README, and ``grader build --check``
finds a stale one. The README is rendered from templates/exercises-README.md.j2; every
value the template prints is escaped for markdown by the environment, not by each use.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jinja2

from grader.authoring.regions import answer_regions
from grader.course import DEFAULT_ROOT, Course, CourseError, Exercise, Limits

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# PyTorch's index of CPU-only builds: on Linux, PyPI's torch is the multi-GB CUDA build.
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# Ranges, not pins: students install on other systems and Pythons than ours, where the
# exact versions of constraints.txt may have no wheel. The lower bounds are the oldest
# releases the kit's code works with; constraints.txt's versions lie inside them.
OTHER_REQUIREMENTS = ("numpy>=1.26,<3", "matplotlib>=3.8,<4", "pytest>=8,<10")


class Markdown(str):
    """Text that is already markdown: the template environment prints it as it is."""


def kit_files(course: Course, project: Path = DEFAULT_ROOT / "pyproject.toml") -> dict[str, str]:
    """README.md and requirements.txt of exercises/, by name, with their text."""
    settings = tomllib.loads(project.read_text(encoding="utf-8"))["project"]
    torch = _torch_pin(settings["dependencies"], project)
    python = re.search(r">=\s*(\d+\.\d+)", settings.get("requires-python", ""))
    if python is None:
        raise CourseError(f"{project}: requires-python has no lower bound like '>=3.11'")
    requirements = (torch, *OTHER_REQUIREMENTS)
    exercises = [_exercise(exercise) for exercise in course.exercises]
    readme = (
        _environment()
        .get_template("exercises-README.md.j2")
        .render(
            course=course,
            exercises=exercises,
            first=exercises[0] | {"function": _first_function(course)},
            total_points=_points(course.max_points),
            carried=[
                {"function": function, "calls": called}
                for exercise in course.exercises
                for function, called in exercise.calls.items()
            ],
            python=python.group(1),
            torch_version=torch.removeprefix("torch=="),
            other_packages=[re.split(r"[<>=!~;\s]", line)[0] for line in OTHER_REQUIREMENTS],
            cpu_index=Markdown(CPU_INDEX),  # inside a code block, where escapes would show
        )
    )
    header = (
        "# What the exercises need. Install with: python -m pip install -r requirements.txt\n"
        f"# (on Linux add --extra-index-url {CPU_INDEX} for PyTorch's CPU build; README.md)\n"
    )
    return {
        "README.md": readme,
        "requirements.txt": header + "".join(f"{line}\n" for line in requirements),
    }


def _torch_pin(dependencies: list[str], project: Path) -> str:
    """The project's own torch requirement, which must be an exact pin."""
    for requirement in dependencies:
        if re.match(r"\s*torch\b(?![.-])", requirement):
            pin = requirement.replace(" ", "")
            if not re.fullmatch(r"torch==\d+(\.\d+)*", pin):
                raise CourseError(f"{project}: torch must be pinned exactly (torch==X.Y.Z): {pin}")
            return pin
    raise CourseError(f"{project}: no torch among the dependencies")


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,
        finalize=_escape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # markdown, not HTML: _escape does it
    )
    environment.filters["code"] = _code
    return environment


def _escape(value: Any) -> str:
    """Course text as literal markdown: nothing in a title can become formatting."""
    if isinstance(value, Markdown):
        return value
    text = re.sub(r"([\\`*\[\]<>|&~])", r"\\\1", _one_line(value))
    # "_" only makes emphasis at a word's edge (CommonMark): non_linearity_fc1 stays as it is.
    return re.sub(r"(?<![^\W_])_|_(?![^\W_])", r"\\_", text)


def _code(value: Any) -> Markdown:
    """A code span that holds ``value`` literally, whatever backticks it contains."""
    text = _one_line(value)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return Markdown(f"{fence}{padding}{text}{padding}{fence}")


def _one_line(value: Any) -> str:
    """A newline in course text would end the list item or table row it is printed in."""
    return re.sub(r"\s*[\r\n]+\s*", " ", str(value))


def _points(value: float) -> str:
    return f"{value:g}"


def _exercise(exercise: Exercise) -> dict[str, Any]:
    def total(visibility: str) -> tuple[int, str]:
        checks = [check for check in exercise.checks if check.visibility == visibility]
        return len(checks), _points(sum(check.points for check in checks))

    hidden_count, hidden_points = total("hidden")
    after_due_count, after_due_points = total("after_due_date")
    return {
        "id": exercise.id,
        "title": exercise.title,
        "file": exercise.file,
        "notebook": f"{exercise.id}.ipynb",
        "points": _points(exercise.max_points),
        "visible": [
            {"title": check.title, "points": _points(check.points)}
            for check in exercise.checks
            if check.visibility == "visible"
        ],
        "hidden_count": hidden_count,
        "hidden_points": hidden_points,
        "after_due_count": after_due_count,
        "after_due_points": after_due_points,
        "limits": _limits(exercise.limits),
    }


def _limits(limits: Limits) -> str:
    time = f"{limits.wall_seconds:g} s"
    if limits.cpu_seconds != limits.wall_seconds:
        time += f" ({limits.cpu_seconds:g} s of CPU time)"
    return (
        f"{time}, {limits.memory_mib} MiB of memory beyond PyTorch's own and "
        f"{limits.processes} threads; printed output past {limits.output_kib} KiB is cut"
    )


def _first_function(course: Course) -> str:
    """The first exercise's first function to write: the example of a message."""
    exercise = course.exercises[0]
    source = (course.solutions_dir / exercise.file).read_text(encoding="utf-8")
    return answer_regions(source, f"solutions/{exercise.file}")[0].function
