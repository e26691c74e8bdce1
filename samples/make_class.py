"""Write a sample class: the reference, the untouched stubs and one student per mistake.

    python -m samples.make_class DEST

Every submission is generated from solutions/ and exercises/, so it follows any change
to an exercise. Used by the demo and by the tests.
"""

from __future__ import annotations

import ast
import shutil
import sys
import textwrap
from pathlib import Path

import nbformat

from grader.authoring.regions import answer_regions
from grader.course import Course, load_course
from samples.mistakes import MISTAKES, Mistake


def with_answer(source: str, function: str, answer: str, filename: str) -> str:
    """``source`` with the answer region of ``function`` replaced by ``answer``."""
    [region] = [r for r in answer_regions(source, filename) if r.function == function]
    lines = source.splitlines(keepends=True)
    body = textwrap.indent(textwrap.dedent(answer).strip("\n"), region.indent) + "\n"
    lines[region.begin - 1 : region.end] = [body]
    return "".join(lines)


def fill_notebook(released: Path, source: str) -> nbformat.NotebookNode:
    """A student's notebook: the released one with each solution cell taken from ``source``."""
    notebook = nbformat.read(released, as_version=4)
    tree = ast.parse(source)
    definitions = {
        node.name: ast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.ClassDef)
    }
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = definitions[cell.metadata.nbgrader.grade_id]
    return notebook


def write_submission(dest: Path, course: Course, mistake: Mistake | None = None) -> None:
    """The reference solutions in ``dest``, with ``mistake`` applied if given."""
    dest.mkdir(parents=True, exist_ok=True)
    for exercise in course.exercises:
        source = (course.solutions_dir / exercise.file).read_text(encoding="utf-8")
        if mistake is not None and mistake.exercise == exercise.id:
            source = with_answer(source, mistake.function, mistake.answer, exercise.file)
        (dest / exercise.file).write_text(source, encoding="utf-8")


def write_class(dest: Path, course: Course) -> list[str]:
    """Write the sample class into ``dest``; return the student ids."""
    write_submission(dest / "reference", course)
    stubs = dest / "untouched_stubs"
    stubs.mkdir(parents=True, exist_ok=True)
    for exercise in course.exercises:
        shutil.copy(course.exercises_dir / exercise.file, stubs / exercise.file)
    for mistake in MISTAKES:
        write_submission(dest / mistake.student, course, mistake)
    return ["reference", "untouched_stubs", *(m.student for m in MISTAKES)]


if __name__ == "__main__":
    target = Path(sys.argv[1])
    students = write_class(target, load_course())
    print(f"wrote {len(students)} sample submissions to {target}")
