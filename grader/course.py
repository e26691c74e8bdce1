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
# libyaml's loader (in PyYAML's wheels) reads course.yml in 5 ms where the pure-Python one
# takes 45: every grader process, worker and command reads it first.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
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
    functions: tuple[str, ...] = ()  # the graded functions it judges
    # Runs the functions unpatched: with the student's own versions of what they call. Every
    # other check runs a function with what it calls made right (error carried forward).
    end_to_end: bool = False


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    file: str
    objectives: tuple[str, ...]
    checks: tuple[Check, ...]
    limits: Limits
    tolerances: dict[str, Tolerance] = field(hash=False)
    # A graded function -> the graded functions of the exercise it calls.
    calls: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)

    @property
    def max_points(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def graded_functions(self) -> tuple[str, ...]:
        """The functions its checks judge, in the order the checks first name them."""
        return tuple(dict.fromkeys(f for check in self.checks for f in check.functions))

    def checks_of(self, function: str) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if function in check.functions)

    def carried_forward(self, check: Check, function: str) -> tuple[str, ...]:
        """The functions made right when ``check`` runs ``function``: none end to end."""
        return () if check.end_to_end else self.calls.get(function, ())

    def dependencies(self, function: str) -> tuple[str, ...]:
        """What ``function`` calls, directly or through what it calls."""
        found: dict[str, None] = {}
        pending = list(self.calls.get(function, ()))
        while pending:
            name = pending.pop(0)
            if name not in found and name != function:
                found[name] = None
                pending += self.calls.get(name, ())
        return tuple(found)

    def callers(self, function: str) -> tuple[str, ...]:
        """The graded functions that call ``function``, directly or not."""
        return tuple(f for f in self.calls if function in self.dependencies(f))

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
        _match_functions(path, f"exercises[{index}]", exercise, root / "solutions", checks_dir)
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


def defined_functions(module: Path) -> list[str]:
    """The functions, classes and ``Class.method``s a module defines at its top level."""
    tree = ast.parse(module.read_text(encoding="utf-8"), filename=str(module))
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        if isinstance(node, ast.ClassDef):
            names += [f"{node.name}.{n.name}" for n in node.body if isinstance(n, ast.FunctionDef)]
    return names


def stand_ins_module(checks_dir: Path, exercise_id: str) -> Path:
    """Where the course keeps the correct stand-ins of an exercise's graded functions."""
    return checks_dir / "stand_ins" / f"{exercise_id}.py"


def _match_functions(
    path: Path, key: str, exercise: Exercise, solutions: Path, checks_dir: Path
) -> None:
    """What the checks judge exists; ``calls`` names graded functions, each with a stand-in
    (a correct version, to carry errors forward) and an end-to-end check of its caller."""
    defined = defined_functions(solutions / exercise.file)
    for index, check in enumerate(exercise.checks):
        where = f"{key}.checks[{index}]"
        for name in check.functions:
            if name not in defined:
                raise CourseError(
                    f"{path}: {where}.function: {name!r} is not defined in solutions/"
                    f"{exercise.file} (it defines: {', '.join(defined)})"
                )
        if check.end_to_end and not any(f in exercise.calls for f in check.functions):
            raise CourseError(
                f"{path}: {where}.end_to_end: {check.id} judges no function listed under "
                f"{key}.calls; list what its function calls there, or drop end_to_end"
            )
    graded = exercise.graded_functions
    stand_ins = stand_ins_module(checks_dir, exercise.id)
    available = defined_functions(stand_ins) if stand_ins.is_file() else []
    for function, called in exercise.calls.items():
        where = f"{key}.calls.{function}"
        for name in (function, *called):
            if name not in graded:
                raise CourseError(
                    f"{path}: {where}: {name!r} is not a graded function of {exercise.id} "
                    f"(its checks judge: {', '.join(graded)}); name one that a check's "
                    "`function:` names"
                )
        for name in called:
            if name == function or "." in name:
                raise CourseError(
                    f"{path}: {where}: {name!r} cannot be made right for {function}: name "
                    "the module-level functions it calls, not itself or a method"
                )
            if name not in available:
                raise CourseError(
                    f"{path}: {where}: no stand-in for {name}; write a correct {name} "
                    f"(from PyTorch's building blocks, not the solution) in {stand_ins}"
                )
        if not any(check.end_to_end for check in exercise.checks_of(function)):
            raise CourseError(
                f"{path}: {where}: no check judges {function} end to end; add one with "
                "`end_to_end: true`, worth a small share of the points"
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
            optional={"limits", "tolerances", "calls"},
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
                entry,
                check_key,
                required={"id", "points", "title"},
                optional={"visibility", "function", "end_to_end"},
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
                functions=self.names(fields.get("function", []), f"{check_key}.function"),
                end_to_end=self.flag(fields.get("end_to_end", False), f"{check_key}.end_to_end"),
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
            calls=self.calls(raw.get("calls", {}), f"{key}.calls"),
        )

    def calls(self, value: Any, key: str) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            raise self.fail(
                key, f"expected a mapping of function: [functions it calls], got {value!r}"
            )
        return {
            self.names(f, key)[0]: self.names(called, _join(key, str(f)))
            for f, called in value.items()
        }

    def names(self, value: Any, key: str) -> tuple[str, ...]:
        """One function name or a list of them (``Class.method`` allowed)."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(map(_is_function_name, items)):
            raise self.fail(key, f"expected a function name or a list of them, got {value!r}")
        if len(set(items)) != len(items):
            raise self.fail(key, f"{value!r} names a function twice")
        return tuple(items)

    def flag(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, f"expected true or false, got {value!r}")
        return value


def _is_function_name(name: Any) -> bool:
    """``function`` or ``Class.method``."""
    parts = name.split(".") if isinstance(name, str) else []
    return 1 <= len(parts) <= 2 and all(part.isidentifier() for part in parts)


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)
