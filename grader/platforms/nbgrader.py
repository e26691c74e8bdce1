"""nbgrader, with grades from the sandboxed grader: ``grader nbgrader DIR`` and the preprocessor.

Stock nbgrader executes the student's notebook in one kernel and scores each test cell
by its output: a cell that patches ``torch.allclose`` earlier earns full marks, a
warning on stderr costs all points, hidden test lines leak through tracebacks, and there
is no memory limit. Here nbgrader executes nothing. The course's ``nbgrader_config.py``
replaces nbgrader's Execute step with ``SandboxedGrading``, which hands the notebook's
code to the sandboxed grader and writes each check's result into its autograder cell:
the points as the cell's value (nbgrader's partial credit) and, when it failed, the
feedback as printed text. Everything else of nbgrader (release, collect, gradebook,
export, feedback) works as usual, and a notebook scores exactly what ``grader grade``
gives it with the same seed.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode
from traitlets import Integer, Unicode

from grader.authoring.notebooks import make_notebook, notebook_source
from grader.course import Course, load_course
from grader.escaping import terminal_text
from grader.grading.submission import Submission
from grader.seeds import new_seed

try:
    from nbgrader.preprocessors import NbGraderPreprocessor
except ImportError:  # nbgrader is only needed where it is used
    NbGraderPreprocessor = object  # type: ignore[assignment,misc]

CONFIG = """\
# nbgrader configuration of the course, written by `grader nbgrader`.
# Grades come from the course's sandboxed grader, not from running notebooks in a kernel:
# the Execute step is replaced by grader.platforms.nbgrader.SandboxedGrading (see its docstring).
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = {course_id!r}
c.Autograde.autograde_preprocessors = [
    "grader.platforms.nbgrader.SandboxedGrading",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
c.SandboxedGrading.course_root = {course_root!r}
c.SandboxedGrading.seed = {seed}  # the random inputs of the hidden checks: keep it to reproduce
"""
SUPPORT_FILES = ("selfcheck.py", "conftest.py", "pytest.ini")  # for the self-check cells


def write_course(destination: Path, course: Course, assignment: str, seed: int) -> list[Path]:
    """Write an nbgrader course: its config and the assignment's source notebooks."""
    source = destination / "source" / assignment
    source.mkdir(parents=True, exist_ok=True)
    (destination / "nbgrader_config.py").write_text(
        CONFIG.format(course_id=course.name, course_root=str(course.root), seed=seed),
        encoding="utf-8",
    )
    written = [destination / "nbgrader_config.py"]
    for exercise in course.exercises:
        text = (course.solutions_dir / exercise.file).read_text(encoding="utf-8")
        path = source / f"{exercise.id}.ipynb"
        nbformat.write(make_notebook(text, exercise, stubs=False), path)
        written.append(path)
        checks = course.solutions_dir / f"test_{exercise.id}.py"
        shutil.copy(checks, source / checks.name)
    for name in SUPPORT_FILES:
        shutil.copy(course.solutions_dir / name, source / name)
    return written


def main(destination: Path, course_root: Path | None = None, seed: int | None = None) -> int:
    course = load_course(course_root)
    seed = new_seed() if seed is None else seed
    assignment = course.name
    written = write_course(destination, course, assignment, seed)
    print(
        f"wrote an nbgrader course to {destination} (assignment {assignment!r}, "
        f"{len(written) - 1} notebooks, seed {seed})\n"
        f"next: cd {destination} && nbgrader generate_assignment {assignment}"
    )
    return 0


class SandboxedGrading(NbGraderPreprocessor):
    """nbgrader preprocessor: score a submitted notebook with the sandboxed grader."""

    course_root = Unicode("", help="the course folder holding course.yml").tag(config=True)
    seed = Integer(0, help="seed of the hidden checks' random inputs").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict]:
        course = load_course(Path(self.course_root) if self.course_root else None)
        exercise = resources["nbgrader"]["notebook"]
        results = _grade(course, exercise, nb, resources["nbgrader"]["student"], self.seed)
        for cell in nb.cells:
            nbgrader = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and nbgrader.get("grade") and not nbgrader.get("solution"):
                cell.outputs = _outputs(results.get(nbgrader.get("grade_id")))
                cell.execution_count = None
        return nb, resources


def _grade(course: Course, exercise: str, nb: NotebookNode, student: str, seed: int) -> dict:
    """Grade one notebook in the sandbox; the checks' results by check id."""
    if exercise not in {e.id for e in course.exercises}:
        return {}  # not an exercise of the course: every autograder cell scores zero
    try:
        sources, problems = {exercise: notebook_source(nbformat.writes(nb))}, {}
    except ValueError as error:
        sources, problems = {}, {exercise: str(error)}
    submission = Submission(student, Path(f"{exercise}.ipynb"), sources, problems)
    from grader.grading.session import grade_submissions

    [grade] = grade_submissions(course, [submission], seed, _zygote(course), [exercise])
    return {check.check: check for check in grade.checks}


def _outputs(check: Any) -> list[NotebookNode]:
    """The cell outputs that make nbgrader score ``check``: its points as the value."""
    if check is None:
        text, points = "not graded: this cell does not belong to a check of the course\n", 0.0
    elif check.status == "passed":
        text, points = f"passed: {check.title}\n", check.score
    else:
        # nbconvert renders ANSI codes in stream output as styled HTML: show them, never obey
        text, points = f"failed: {terminal_text(check.feedback.text())}\n", 0.0
    return [
        nbformat.v4.new_output("stream", name="stdout", text=text),
        nbformat.v4.new_output("execute_result", data={"text/plain": f"{points:g}"}),
    ]


_sandbox: list[Any] = []


def _zygote(course: Course) -> Any:
    """One sandbox for the whole nbgrader run, closed when the process exits."""
    if not _sandbox:
        from grader.grading.session import sandbox

        stack = contextlib.ExitStack()
        _sandbox.append(stack.enter_context(sandbox(course)))
        atexit.register(stack.close)
        sys.stdout.flush()
    return _sandbox[0]
