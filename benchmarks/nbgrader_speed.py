"""Notebook grading side by side: stock nbgrader, nbgrader with our sandbox, `grader batch`.

    .venv/bin/python benchmarks/nbgrader_speed.py [--submissions 20]

The same N notebook submissions (four notebooks each; the reference and a few broken
variants in turn) are graded three ways in one run:

1. stock `nbgrader autograde`: each notebook executed in a Jupyter kernel, its test
   cells scored from their output (the test cells run the public self-checks);
2. `nbgrader autograde` with this course's config: the sandboxed grader scores the
   notebooks and nbgrader keeps the gradebook (nothing runs in a kernel);
3. `grader batch` on the same notebooks.

Prints seconds per submission and the ratios. Takes several minutes: stock nbgrader
starts a kernel (and imports torch) for every notebook.
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from grader.course import load_course  # noqa: E402
from samples.make_class import fill_notebook, with_answer  # noqa: E402
from samples.mistakes import MISTAKES  # noqa: E402

VARIANTS = (None, "sigmoid_naive", "backward_no_mean", "module_no_relu", "train_no_zero_grad")
BIN = Path(sys.executable).parent
ENV = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def run(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=ENV)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - started


def stock_tests(exercise: str, public: str) -> str:
    """A stock nbgrader test cell: the exercise's public self-checks, run in the kernel."""
    tree = ast.parse(public)
    tests = [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and node.name.startswith("test_")
        and not node.args.args
    ]
    calls = "\n".join(f"checks.{name}()" for name in tests)
    return (
        "import sys, types\n"
        f"module = types.ModuleType({exercise!r})\n"
        "module.__dict__.update(globals())\n"
        f"sys.modules[{exercise!r}] = module\n"
        f"import test_{exercise} as checks\n{calls}\n"
    )


def make_stock(course_dir: Path, course, assignment: str) -> None:
    """Turn our nbgrader course into a stock one: kernel execution, assert-based tests."""
    config = course_dir / "nbgrader_config.py"
    text = config.read_text()
    text = re.sub(r"c\.Autograde\.autograde_preprocessors = \[.*?\]\n", "", text, flags=re.S)
    config.write_text(text + "c.ExecutePreprocessor.timeout = 120\n")
    for exercise in course.exercises:
        path = course_dir / "source" / assignment / f"{exercise.id}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        kept = [
            cell
            for cell in notebook.cells
            if not cell.metadata.get("nbgrader", {}).get("grade")
            and "selfcheck" not in cell.metadata.get("tags", [])
        ]
        public = (course.solutions_dir / f"test_{exercise.id}.py").read_text()
        test = nbformat.v4.new_code_cell(stock_tests(exercise.id, public))
        test.id = "stock-tests"
        test.metadata = {
            "nbgrader": {
                "grade": True,
                "grade_id": "stock-tests",
                "locked": True,
                "points": exercise.max_points,
                "schema_version": 3,
                "solution": False,
            }
        }
        notebook.cells = [*kept, test]
        nbformat.write(notebook, path)


def submit(course_dir: Path, course, assignment: str, count: int, also: Path | None) -> None:
    mistakes = {m.student: m for m in MISTAKES}
    released = course_dir / "release" / assignment
    for index in range(count):
        variant = mistakes.get(VARIANTS[index % len(VARIANTS)])
        student = f"student{index:03d}"
        folders = [course_dir / "submitted" / student / assignment]
        if also is not None:
            folders.append(also / student)
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
        for exercise in course.exercises:
            source = (course.solutions_dir / exercise.file).read_text()
            if variant is not None and variant.exercise == exercise.id:
                source = with_answer(source, variant.function, variant.answer, exercise.file)
            notebook = fill_notebook(released / f"{exercise.id}.ipynb", source)
            for folder in folders:
                nbformat.write(notebook, folder / f"{exercise.id}.ipynb")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=20)
    args = parser.parse_args()
    n = args.submissions
    course = load_course()
    assignment = course.name
    grader = [sys.executable, "-m", "grader"]
    nbgrader = [str(BIN / "nbgrader")]
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        timings = {}
        for kind in ("stock", "sandboxed"):
            course_dir = root / kind
            run([*grader, "nbgrader", str(course_dir), "--seed", "1"], ROOT)
            if kind == "stock":
                make_stock(course_dir, course, assignment)
            run([*nbgrader, "generate_assignment", assignment], course_dir)
            submit(
                course_dir, course, assignment, n, root / "direct" if kind == "sandboxed" else None
            )
            timings[kind] = run([*nbgrader, "autograde", assignment], course_dir)
        timings["batch"] = run(
            [*grader, "batch", str(root / "direct"), "--out", str(root / "out"), "--seed", "1"],
            ROOT,
        )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"{n} notebook submissions, 4 notebooks each\n")
    print(f"{'':46} {'wall s':>8} {'s/submission':>13}")
    names = {
        "stock": "stock nbgrader autograde (kernel per notebook)",
        "sandboxed": "nbgrader autograde, graded by our sandbox",
        "batch": "grader batch (all cores)",
    }
    for kind, name in names.items():
        print(f"{name:46} {timings[kind]:8.1f} {timings[kind] / n:13.2f}")
    print(
        f"\nstock nbgrader / ours through nbgrader: {timings['stock'] / timings['sandboxed']:.1f}x"
    )
    print(f"stock nbgrader / grader batch: {timings['stock'] / timings['batch']:.1f}x")


if __name__ == "__main__":
    main()
