"""course.yml: the real one is complete; a broken one is refused with the key and the problem."""

import re
import shutil

import pytest
import yaml

from grader.course import CHECKS_DIR, CourseError, check_functions, load_course
from tests.helpers import run_grader


def test_the_course_registers_every_check_with_points(course):
    assert [e.id for e in course.exercises] == [
        "ex1_forward",
        "ex2_backward",
        "ex3_module",
        "ex4_training",
    ]
    assert course.max_points == 100
    for exercise in course.exercises:
        assert exercise.file == f"{exercise.id}.py"
        assert [c.id for c in exercise.checks] == check_functions(
            CHECKS_DIR / f"test_{exercise.id}.py"
        )
        assert exercise.objectives and all(check.title for check in exercise.checks)
        assert {"float32", "float64", "finite_differences"} <= set(exercise.tolerances)
    assert course.exercise("ex4_training").limits.wall_seconds == 20
    assert course.exercise("ex1_forward").limits.memory_mib == 2048


def test_the_task_id_is_the_same_everywhere(course):
    """Stub error, pytest marker and check module all use the exercise id."""
    markers = (course.solutions_dir / "pytest.ini").read_text()
    for exercise in course.exercises:
        stub = (course.exercises_dir / exercise.file).read_text()
        assert re.search(rf'NotImplementedError\("{exercise.id}: \w', stub)
        assert f"{exercise.id}:" in markers
        public = (course.solutions_dir / f"test_{exercise.id}.py").read_text()
        assert f"pytestmark = pytest.mark.{exercise.id}" in public
        hidden = (CHECKS_DIR / f"test_{exercise.id}.py").read_text()
        assert f"pytestmark = pytest.mark.{exercise.id}" in hidden


@pytest.fixture
def broken(tmp_path, course):
    """Write a changed course.yml next to a copy of solutions/ and load it."""
    shutil.copytree(course.solutions_dir, tmp_path / "solutions")
    original = yaml.safe_load((course.root / "course.yml").read_text())

    def load(change):
        data = yaml.safe_load(yaml.safe_dump(original))
        change(data)
        (tmp_path / "course.yml").write_text(yaml.safe_dump(data))
        with pytest.raises(CourseError) as caught:
            load_course(tmp_path)
        return str(caught.value)

    return load


def _first_check(data):
    return data["exercises"][0]["checks"][0]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(colour="blue"), "course.yml: colour: unknown key (allowed here:"),
        (lambda d: d.pop("exercises"), "exercises: missing"),
        (
            lambda d: d["exercises"][0].update(deadline="friday"),
            "exercises[0].deadline: unknown key",
        ),
        (
            lambda d: _first_check(d).update(points=-1),
            "exercises[0].checks[0].points: must be zero or more",
        ),
        (lambda d: _first_check(d).update(points="three"), "checks[0].points: expected a number"),
        (
            lambda d: _first_check(d).update(id="no_such_check"),
            "check 'no_such_check' does not exist",
        ),
        (lambda d: d["exercises"][0]["checks"].pop(), "which course.yml does not list"),
        (lambda d: _first_check(d).update(visibility="secret"), "is not one of"),
        (lambda d: d["exercises"][1].update(file="ex1_forward.py"), "must be ex2_backward.py"),
        (lambda d: d["exercises"].append(dict(d["exercises"][0])), "appears twice"),
        (
            lambda d: d["defaults"]["limits"].update(wall_seconds=0),
            "wall_seconds: must be positive",
        ),
        (
            lambda d: d["defaults"]["limits"].pop("memory_mib"),
            "defaults.limits.memory_mib: missing",
        ),
        (lambda d: d["exercises"][0].update(id="Ex 1"), "is not an id"),
        (
            lambda d: d["exercises"][0]["calls"].update(forward=["sigmoid", "sigmod"]),
            "exercises[0].calls.forward: 'sigmod' is not a graded function of ex1_forward "
            "(its checks judge: sigmoid, weighted_sum, forward, mse_loss)",
        ),
        (
            lambda d: d["exercises"][0]["calls"].update(mse_loss=["sigmoid"]),
            "exercises[0].calls.mse_loss: no check judges mse_loss end to end",
        ),
        (
            lambda d: d["exercises"][0]["calls"].update(forward=["sigmoid", "mse_loss"]),
            "exercises[0].calls.forward: no stand-in for mse_loss; write a correct mse_loss",
        ),
        (
            lambda d: d["exercises"][0]["calls"].update(forward=["forward"]),
            "'forward' cannot be made right for forward",
        ),
        (lambda d: d["exercises"][0].update(calls=["forward"]), "exercises[0].calls: expected"),
        (
            lambda d: _first_check(d).update(function="sigmoidd"),
            "checks[0].function: 'sigmoidd' "
            "is not defined in solutions/ex1_forward.py (it defines: sigmoid, weighted_sum,",
        ),
        (lambda d: _first_check(d).update(function=3), "checks[0].function: expected a function"),
        (
            lambda d: _first_check(d).update(end_to_end=True),
            "checks[0].end_to_end: sigmoid_values judges no function listed under",
        ),
        (lambda d: _first_check(d).update(end_to_end="yes"), "end_to_end: expected true or false"),
    ],
)
def test_invalid_course_names_the_key(broken, change, words):
    assert words in broken(change)


def test_missing_solution_file_is_named(tmp_path, course):
    shutil.copy(course.root / "course.yml", tmp_path / "course.yml")
    (tmp_path / "solutions").mkdir()
    with pytest.raises(CourseError, match=r"solutions/ex1_forward.py does not exist"):
        load_course(tmp_path)


def test_the_command_line_prints_the_problem_in_one_line(tmp_path):
    (tmp_path / "course.yml").write_text("course: [unclosed\n")
    done = run_grader("--course", str(tmp_path), "build")
    assert done.returncode == 2
    assert "not valid YAML" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_course_yml_is_read_as_plain_data_never_as_python_objects(tmp_path):
    pwned = tmp_path / "pwned"
    (tmp_path / "course.yml").write_text(
        f"course: !!python/object/apply:os.system ['touch {pwned}']\ntitle: x\nexercises: []\n"
    )
    with pytest.raises(CourseError, match=r"course\.yml:1:9: not valid YAML"):
        load_course(tmp_path)
    assert not pwned.exists()
