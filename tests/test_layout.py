"""The architecture's rules, held against the code: which package may import which, that the
engine names no exercise, and that the zygote holds nothing secret."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "grader"
COURSE_CODE = PACKAGE / "checks"  # the course's own: hidden checks, probes, figures, drawing
# What may run beside student code: no grader code outside the sandbox, no yaml, no pytest.
INSIDE_MAY_IMPORT = ("grader.sandbox.inside", "grader.sandbox.wire", "grader.sandbox.confine")
THIRD_PARTY_INSIDE = {"torch", "numpy", "matplotlib", "pyseccomp"}


def _modules(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.py") if "__pycache__" not in path.parts)


def _imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _violations(folder: Path, allowed) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _modules(folder)
        for name in _imports(path)
        if not allowed(name)
    ]


def _stdlib(name: str) -> bool:
    return name.split(".")[0] in sys.stdlib_module_names or name == "__future__"


@pytest.mark.parametrize("side", ["inside", "confine", "wire"])
def test_the_sandbox_inside_imports_only_the_sandbox_and_the_scientific_stack(side):
    def allowed(name: str) -> bool:
        return (
            _stdlib(name)
            or name.split(".")[0] in THIRD_PARTY_INSIDE
            or _within(name, INSIDE_MAY_IMPORT)
        )

    assert _violations(PACKAGE / "sandbox" / side, allowed) == []


def test_reports_import_neither_torch_nor_the_sandbox_nor_grading():
    def allowed(name: str) -> bool:
        top = name.split(".")[0]
        if top == "grader":
            return not _within(name, ("grader.sandbox", "grader.grading", "grader.checks"))
        return top not in {"torch", "numpy"}

    assert _violations(PACKAGE / "reports", allowed) == []


def test_authoring_runs_no_student_code():
    def allowed(name: str) -> bool:
        return not _within(name, ("grader.sandbox", "grader.grading", "grader.checks", "torch"))

    assert _violations(PACKAGE / "authoring", allowed) == []


def test_rendering_pages_from_results_json_does_not_start_pytorch(tmp_path):
    """The rule at run time: the course's drawing is loaded by name, and must not pull torch."""
    figure = {"id": "sigmoid_curve", "title": "t", "data": {"z": [0.0], "yours": [0.5],
              "true": [0.5], "far": [], "beyond": []}}  # fmt: skip
    test = {
        "name": "ex1_forward: t",
        "score": 0,
        "max_score": 1,
        "status": "passed",
        "output": "",
        "visibility": "visible",
        "tags": ["ex1_forward", "c"],
    }
    results = {"score": 0, "tests": [test], "extra_data": {"student": "ada", "max_score": 1,
               "figures": {"ex1_forward": [figure]}}}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(results))
    script = (
        "import json, sys; from pathlib import Path\n"
        "from grader.reports.pages import render_feedback\n"
        "from grader.reports.writers import read_results_json\n"
        "from grader.reports import class_report, writers\n"
        f"data = json.loads(Path({str(tmp_path / 'results.json')!r}).read_text())\n"
        "render_feedback(read_results_json(data))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'grader'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    assert not [m for m in loaded if m.startswith("torch")], loaded
    assert "grader.checks.drawing" in loaded  # the figure was drawn, by the course's code


def _engine_files() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file()
        and COURSE_CODE not in path.parents
        and "__pycache__" not in path.parts
        and path.suffix in {".py", ".j2", ".sh", ""}
    ]


def test_the_engine_names_no_exercise(course):
    ids = [exercise.id for exercise in course.exercises]
    named = [
        f"{path.relative_to(ROOT)} names {exercise_id}"
        for path in _engine_files()
        for exercise_id in ids
        if exercise_id in path.read_text(encoding="utf-8")
    ]
    assert _engine_files() and named == []


def test_the_zygote_holds_nothing_secret(course):
    """What a zygote has loaded before it forks its first child, as `grader grade` and the
    batch workers make it (forked from the grading process, before that loads anything of
    the course but the names of its probe modules): sandbox code, the course's probes and
    the engine's entry point; no reference solution, hidden check, registry or pytest."""
    script = (
        "import json, sys\n"
        "import grader.grading.grade, grader.grading.worker\n"  # the two entry points
        "from grader.sandbox.inside import probes, zygote\n"
        "zygote.prepare()\n"  # what fork_zygote does before it forks; then, in the zygote:
        f"probes.load({list(course.probe_modules)!r})\n"
        "zygote.warm()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = json.loads(done.stdout)
    ours = [m for m in loaded if m == "grader" or m.startswith("grader.")]
    allowed = ("grader.sandbox", *course.probe_modules)
    entry = {"grader", "grader.checks", "grader.errors", "grader.grading"}
    entry |= {"grader.grading.grade", "grader.grading.worker"}
    assert [m for m in ours if m not in entry and not _within(m, allowed)] == []
    secret = {exercise.file.removesuffix(".py") for exercise in course.exercises}
    assert secret.isdisjoint(loaded)
    assert not {"yaml", "pytest", "_pytest"} & set(loaded)


def test_grading_does_not_pay_for_writing_notebooks():
    """Reading a notebook needs json alone; nbformat (and the jsonschema it validates with)
    costs ~1.5 s of import on one core, once per grading, and only authoring needs it."""
    importing = "grader.grading.session, grader.grading.worker, grader.grading.submission"
    assert _loaded_after(importing, ("nbformat", "jsonschema")) == []


def test_only_the_cluster_package_knows_dask_and_nothing_depends_on_it_but_the_cli():
    """Dask is one way to distribute grading: the engine does not depend on it, and the
    cluster depends on the engine, never the other way round."""
    for path in _modules(PACKAGE):
        inside = path.is_relative_to(PACKAGE / "cluster")
        for name in _imports(path):
            if _within(name, ("distributed", "dask")):
                assert inside, f"{path.relative_to(ROOT)} imports {name}"
            if _within(name, ("grader.cluster",)) and not inside:
                assert path == PACKAGE / "cli.py", f"{path.relative_to(ROOT)} imports {name}"


def test_a_local_grading_and_the_cli_load_no_dask():
    importing = "grader.cli, grader.grading.batch, grader.grading.grade, grader.cluster.client"
    assert _loaded_after(importing, ("distributed", "dask", "torch")) == []


def _loaded_after(importing: str, modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after ``import {importing}``."""
    script = (
        f"import json, sys\nimport {importing}\n"
        f"print(json.dumps([m for m in {modules!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)
