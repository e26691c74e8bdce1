"""Load and validate course.yml, the one registry of exercises, checks, points and limits.

Longer than most modules on purpose: every key of course.yml is validated here, with an
error that names it, so that a malformed registry is refused in one place.
"""

from __future__ import annotations

import ast
import functools
import importlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grader.errors import UsageError, UserError

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKS_DIR = PACKAGE_DIR / "checks"
# The course's own code, beside its hidden checks: probes.py (run beside the student's code),
# figures.py (feedback figures' data) and drawing.py (their pictures). The engine loads them
# by these names and knows nothing else of the course.
CHECKS_PACKAGE = "grader.checks"
DEFAULT_ROOT = PACKAGE_DIR.parent
VISIBILITIES = ("visible", "hidden", "after_due_date")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


class CourseError(UserError, ValueError):
    """course.yml is invalid; the message names the key and the problem."""


@dataclass(frozen=True)
class Limits:
    """What one call into a submission may use before the sandbox stops it."""

    wall_seconds: float
    cpu_seconds: float
    memory_mib: int
    processes: int
    output_kib: int


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    points: float
    visibility: str


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    file: str
    objectives: tuple[str, ...]
    checks: tuple[Check, ...]
    limits: Limits
    tolerances: dict[str, Tolerance] = field(hash=False)

    @property
    def max_points(self) -> float:
        return sum(check.points for check in self.checks)

    def check(self, check_id: str) -> Check:
        for check in self.checks:
            if check.id == check_id:
                return check
        raise KeyError(f"{self.id} has no check {check_id!r}")


@dataclass(frozen=True)
class Course:
    name: str
    title: str
    root: Path
    exercises: tuple[Exercise, ...]

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises_dir(self) -> Path:
        return self.root / "exercises"

    @property
    def max_points(self) -> float:
        return sum(exercise.max_points for exercise in self.exercises)

    @property
    def probe_modules(self) -> tuple[str, ...]:
        """The course's probe modules, for the zygote to import before it forks."""
        name = course_module("probes")
        return (name,) if name else ()

    def select(self, exercise_ids: list[str] | None) -> list[str]:
        """The ids to grade: all when none are given; UsageError for an unknown one."""
        known = [exercise.id for exercise in self.exercises]
        for exercise_id in exercise_ids or []:
            if exercise_id not in known:
                raise UsageError(
                    f"--exercise {exercise_id}: no such exercise (known: {', '.join(known)})"
                )
        return list(exercise_ids or known)

    def exercise(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        known = ", ".join(e.id for e in self.exercises)
        raise KeyError(f"no exercise {exercise_id!r} in course.yml (known: {known})")


def course_module(name: str) -> str | None:
    """The dotted name of the course's module ``name`` (see CHECKS_PACKAGE), if it has one."""
    return f"{CHECKS_PACKAGE}.{name}" if (CHECKS_DIR / f"{name}.py").is_file() else None


@functools.cache  # the course's code does not change while the grader runs
def course_hook(module: str, function: str) -> Callable[..., Any] | None:
    """The course's ``function`` in its module ``module``, or None when the course has none."""
    name = course_module(module)
    return getattr(importlib.import_module(name), function) if name else None


def load_course(root: Path | None = None, checks_dir: Path = CHECKS_DIR) -> Course:
    """Read ``root/course.yml``, validate it completely and return the course.

    Raises CourseError naming the offending key: an unknown or missing key, a wrong type,
    negative points, an exercise file missing from solutions/, a check that has no
    test function in grader/checks (or a test function that course.yml does not list).
    """
    root = (root or DEFAULT_ROOT).resolve()
    path = root / "course.yml"
    if not path.is_file():
        raise CourseError(f"{path}: not found; pass the course folder that holds course.yml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise CourseError(f"{path}{where}: not valid YAML: {problem}") from None
    reader = _Reader(path)
    top = reader.mapping(data, "", required={"course", "title", "exercises"}, optional={"defaults"})
    defaults = reader.mapping(
        top.get("defaults", {}), "defaults", required=set(), optional={"limits", "tolerances"}
    )
    default_limits = reader.limits(defaults.get("limits", {}), "defaults.limits", base=None)
    default_tolerances = reader.tolerances(
        defaults.get("tolerances", {}), "defaults.tolerances", {}
    )
    exercises = []
    for index, raw in enumerate(reader.sequence(top["exercises"], "exercises")):
        exercise = reader.exercise(raw, f"exercises[{index}]", default_limits, default_tolerances)
        if any(e.id == exercise.id for e in exercises):
            raise CourseError(f"{path}: exercises[{index}].id: {exercise.id!r} appears twice")
        if not (root / "solutions" / exercise.file).is_file():
            raise CourseError(
                f"{path}: exercises[{index}].file: solutions/{exercise.file} does not exist"
            )
        _match_checks(path, f"exercises[{index}]", exercise, checks_dir)
        exercises.append(exercise)
    return Course(
        name=reader.string(top["course"], "course"),
        title=reader.string(top["title"], "title"),
        root=root,
        exercises=tuple(exercises),
    )


def check_functions(module: Path) -> list[str]:
    """The check ids a hidden-check module defines: its ``test_*`` functions, read not run."""
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    return [
        node.name.removeprefix("test_")
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    ]


def _match_checks(path: Path, key: str, exercise: Exercise, checks_dir: Path) -> None:
    module = checks_dir / f"test_{exercise.id}.py"
    if not module.is_file():
        raise CourseError(f"{path}: {key}.id: no hidden checks for {exercise.id!r} ({module})")
    defined = check_functions(module)
    for index, check in enumerate(exercise.checks):
        if check.id not in defined:
            raise CourseError(
                f"{path}: {key}.checks[{index}].id: check {check.id!r} does not exist "
                f"(no function test_{check.id} in {module.name})"
            )
    listed = {check.id for check in exercise.checks}
    for name in defined:
        if name not in listed:
            raise CourseError(
                f"{path}: {key}.checks: {module.name} defines test_{name}, which course.yml "
                f"does not list; add it with its points"
            )


@dataclass
class _Reader:
    """Typed access to the parsed YAML with errors that name the key."""

    path: Path

    def fail(self, key: str, problem: str) -> CourseError:
        return CourseError(f"{self.path}: {key or 'top level'}: {problem}")

    def mapping(
        self, value: Any, key: str, required: set[str], optional: set[str]
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - required - optional)
        if unknown:
            allowed = ", ".join(sorted(required | optional))
            raise self.fail(_join(key, unknown[0]), f"unknown key (allowed here: {allowed})")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(_join(key, missing[0]), "missing")
        return value

    def sequence(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, "expected a non-empty list")
        return value

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "expected a non-empty string")
        return value

    def identifier(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not ID_PATTERN.match(value):
            raise self.fail(key, f"{value!r} is not an id (lower case letters, digits, _)")
        return value

    def number(self, value: Any, key: str, positive: bool, whole: bool = False) -> float:
        kinds = int if whole else int | float
        if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
            raise self.fail(key, f"expected a {'whole ' if whole else ''}number, got {value!r}")
        if value < 0 or (positive and value == 0):
            raise self.fail(
                key, f"must be {'positive' if positive else 'zero or more'}, got {value}"
            )
        return value

    def limits(self, value: Any, key: str, base: Limits | None) -> Limits:
        names = set(Limits.__dataclass_fields__)
        raw = self.mapping(value, key, required=names if base is None else set(), optional=names)
        merged = {} if base is None else dict(base.__dict__)
        counts = {"memory_mib", "processes", "output_kib"}  # the rest are seconds
        merged.update(
            {name: self.number(raw[name], _join(key, name), True, name in counts) for name in raw}
        )
        return Limits(**merged)

    def tolerances(self, value: Any, key: str, base: dict[str, Tolerance]) -> dict[str, Tolerance]:
        names = {"float32", "float64", "finite_differences"}
        raw = self.mapping(value, key, required=set() if base else names, optional=names)
        merged = dict(base)
        for name, entry in raw.items():
            inner = self.mapping(entry, _join(key, name), required={"rtol", "atol"}, optional=set())
            merged[name] = Tolerance(
                rtol=self.number(inner["rtol"], _join(key, name, "rtol"), False),
                atol=self.number(inner["atol"], _join(key, name, "atol"), False),
            )
        return merged

    def exercise(
        self,
        value: Any,
        key: str,
        limits: Limits,
        tolerances: dict[str, Tolerance],
    ) -> Exercise:
        raw = self.mapping(
            value,
            key,
            required={"id", "title", "file", "objectives", "checks"},
            optional={"limits", "tolerances"},
        )
        exercise_id = self.identifier(raw["id"], f"{key}.id")
        file = self.string(raw["file"], f"{key}.file")
        if file != f"{exercise_id}.py":
            # One id everywhere: file, stub error, pytest marker and check module agree.
            raise self.fail(f"{key}.file", f"{file!r} must be {exercise_id}.py, named after the id")
        checks = []
        for index, entry in enumerate(self.sequence(raw["checks"], f"{key}.checks")):
            check_key = f"{key}.checks[{index}]"
            fields = self.mapping(
                entry, check_key, required={"id", "points", "title"}, optional={"visibility"}
            )
            visibility = fields.get("visibility", "visible")
            if visibility not in VISIBILITIES:
                raise self.fail(
                    f"{check_key}.visibility", f"{visibility!r} is not one of {VISIBILITIES}"
                )
            check = Check(
                id=self.identifier(fields["id"], f"{check_key}.id"),
                title=self.string(fields["title"], f"{check_key}.title"),
                points=self.number(fields["points"], f"{check_key}.points", False),
                visibility=visibility,
            )
            if any(c.id == check.id for c in checks):
                raise self.fail(f"{check_key}.id", f"{check.id!r} appears twice")
            checks.append(check)
        return Exercise(
            id=exercise_id,
            title=self.string(raw["title"], f"{key}.title"),
            file=file,
            objectives=tuple(
                self.string(o, f"{key}.objectives[{i}]")
                for i, o in enumerate(self.sequence(raw["objectives"], f"{key}.objectives"))
            ),
            checks=tuple(checks),
            limits=self.limits(raw.get("limits", {}), f"{key}.limits", base=limits),
            tolerances=self.tolerances(raw.get("tolerances", {}), f"{key}.tolerances", tolerances),
        )


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)
