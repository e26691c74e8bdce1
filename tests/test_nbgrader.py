"""nbgrader end to end: release, submit, autograde, export, feedback — graded by the sandbox.

The gradebook must equal `grader grade` on the same notebooks, check for check; a
notebook that patches comparisons earlier gains nothing, a warning costs nothing, and no
feedback file shows hidden check source.
"""

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from samples.make_class import fill_notebook, with_answer
from samples.mistakes import MISTAKES
from tests.helpers import SEED, hidden_check_lines, read_results, run_grader

NBGRADER = str(Path(sys.executable).with_name("nbgrader"))
MISTAKE = {m.student: m for m in MISTAKES}


def _nbgrader(course_dir, *args):
    # nbgrader runs `alembic` from PATH: put this environment's scripts first.
    env = dict(
        os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    done = subprocess.run(
        [NBGRADER, *args], cwd=course_dir, capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _sources(course, edits=()):
    """Each exercise's module source: the reference, with mistakes (or attacks) applied."""
    sources = {e.id: (course.solutions_dir / e.file).read_text() for e in course.exercises}
    for exercise, function, answer in edits:
        sources[exercise] = with_answer(sources[exercise], function, answer, f"{exercise}.py")
    return sources


def _fill(released: Path, source: str, extra_code: str = "") -> nbformat.NotebookNode:
    """A student's notebook, with ``extra_code`` at the top of the first solution cell."""
    notebook = fill_notebook(released, source)
    first = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution"))
    first.source = f"{extra_code}\n\n{first.source}" if extra_code else first.source
    return notebook


HOSTILE_CELL = """\
import torch, sys
torch.allclose = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones_like(a, dtype=torch.bool)
for name in list(sys.modules):
    if name.startswith("grader"):
        sys.modules[name].__dict__.clear()
print("all tests passed: 100/100", file=sys.stderr)
"""
WARNING = "import warnings\nwarnings.warn('an honest warning')\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course):
    root = tmp_path_factory.mktemp("nbgrader")
    course_dir = root / "course"
    done = run_grader("nbgrader", str(course_dir), "--seed", str(SEED))
    assert done.returncode == 0, done.stderr
    assignment = course.name
    _nbgrader(course_dir, "generate_assignment", assignment)
    released = course_dir / "release" / assignment
    naive = MISTAKE["sigmoid_naive"]
    students = {
        "complete": (_sources(course), {}),
        "partly_wrong": (
            _sources(
                course,
                [(m.exercise, m.function, m.answer) for m in (MISTAKE["backward_no_mean"], naive)],
            ),
            {},
        ),
        "hostile": (
            _sources(course, [("ex1_forward", "sigmoid", "return torch.full_like(z, 0.123)")]),
            {"ex1_forward": HOSTILE_CELL},
        ),
        "warns": (
            _sources(course, [("ex1_forward", "sigmoid", WARNING + naive.answer)]),
            {},
        ),
        "untouched": (None, {}),  # hands in the released notebooks as they are
    }
    direct = root / "direct"
    for student, (sources, extras) in students.items():
        folder = course_dir / "submitted" / student / assignment
        folder.mkdir(parents=True)
        (direct / student).mkdir(parents=True)
        for exercise in course.exercises:
            notebook = (
                nbformat.read(released / f"{exercise.id}.ipynb", as_version=4)
                if sources is None
                else _fill(
                    released / f"{exercise.id}.ipynb",
                    sources[exercise.id],
                    extras.get(exercise.id, ""),
                )
            )
            nbformat.write(notebook, folder / f"{exercise.id}.ipynb")
            nbformat.write(notebook, direct / student / f"{exercise.id}.ipynb")
    _nbgrader(course_dir, "autograde", assignment)
    _nbgrader(course_dir, "export")
    _nbgrader(course_dir, "generate_feedback", assignment)
    out = root / "direct-results"
    done = run_grader("batch", str(direct), "--out", str(out), "--seed", str(SEED))
    assert done.returncode == 0, done.stderr
    return {
        "dir": course_dir,
        "assignment": assignment,
        "direct": read_results(out),
        "students": students,
    }


def _gradebook(course_dir, assignment, student, course):
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        for exercise in course.exercises:
            notebook = gradebook.find_submission_notebook(exercise.id, assignment, student)
            for grade in notebook.grades:
                scores[(exercise.id, grade.name)] = grade.score
    return scores


@pytest.mark.parametrize("student", ["complete", "partly_wrong", "hostile", "warns", "untouched"])
def test_gradebook_equals_grader_grade_check_for_check(graded, course, student):
    gradebook = _gradebook(graded["dir"], graded["assignment"], student, course)
    direct = {(t["tags"][0], t["tags"][1]): t["score"] for t in graded["direct"][student]["tests"]}
    assert gradebook == direct


def test_scores_are_what_each_notebook_deserves(graded):
    totals = {
        row["student_id"]: float(row["raw_score"])
        for row in csv.DictReader(io.StringIO((graded["dir"] / "grades.csv").read_text()))
    }
    assert totals["complete"] == 100
    assert totals["warns"] == 98  # the naive sigmoid's gradient check, and nothing for the warning
    assert totals["partly_wrong"] < 100 and totals["hostile"] < 100
    assert totals["untouched"] == 0
    for test in graded["direct"]["untouched"]["tests"]:  # nbgrader's bare NotImplementedError()
        assert "is not implemented yet" in test["output"], test["output"]
    hostile = {
        t["tags"][1]: t["status"]
        for t in graded["direct"]["hostile"]["tests"]
        if t["tags"][0] == "ex1_forward"
    }
    assert hostile["sigmoid_values"] == hostile["sigmoid_stable_at_extremes"] == "failed"


def test_feedback_exists_and_never_shows_hidden_check_source(graded):
    distinctive = hidden_check_lines()
    pages = list((graded["dir"] / "feedback").rglob("*.html"))
    assert len(pages) == 4 * len(graded["students"])
    for page in pages:
        text = page.read_text()
        leaked = [line for line in distinctive if line in text]
        assert not leaked, (page, leaked[:3])
    hostile = next(
        p for p in pages if "hostile" in p.parts and p.name == "ex1_forward.html"
    ).read_text()
    assert "failed: " in hostile and "passed: sigmoid" not in hostile  # it broke only itself
    complete = next(
        p for p in pages if "complete" in p.parts and p.name == "ex2_backward.html"
    ).read_text()
    assert "passed: backward agrees with autograd" in complete
