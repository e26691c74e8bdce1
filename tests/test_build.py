"""solutions/ → exercises/: strict markers, exact stubs, and no drift from what is committed."""

import pytest

from grader.authoring.build import generated_files, stale_files, write
from grader.authoring.regions import MarkerError, answer_regions
from grader.authoring.stubs import make_stub
from tests.helpers import ROOT, run_grader

FUNCTION = '''def f(x):
    """Docs."""
    y = 1
    ### BEGIN SOLUTION
    return x + y
    ### END SOLUTION
'''


def test_committed_exercises_are_what_the_build_makes(course):
    assert stale_files(course) == [], "run `grader build` and commit exercises/"


def test_build_check_command_agrees():
    done = run_grader("build", "--check")
    assert done.returncode == 0, done.stderr


def test_stub_replaces_each_region_with_its_task_id():
    stub = make_stub(FUNCTION, "ex9_demo", "ex9_demo.py")
    assert stub == (
        'def f(x):\n    """Docs."""\n    y = 1\n'
        "    # YOUR CODE HERE\n"
        '    raise NotImplementedError("ex9_demo: f")\n'
    )


def test_regions_are_named_by_qualified_function():
    source = (
        "class Net:\n    def forward(self, x):\n        ### BEGIN SOLUTION\n"
        "        return x\n        ### END SOLUTION\n"
    )
    [region] = answer_regions(source, "m.py")
    assert (region.function, region.begin, region.end) == ("Net.forward", 3, 5)


def test_every_solution_region_sits_in_a_function(course):
    for exercise in course.exercises:
        source = (course.solutions_dir / exercise.file).read_text()
        regions = answer_regions(source, exercise.file)
        assert regions, exercise.id
        stub = make_stub(source, exercise.id, exercise.file)
        assert "### BEGIN SOLUTION" not in stub
        for region in regions:
            assert f'raise NotImplementedError("{exercise.id}: {region.function}")' in stub


def test_an_exercise_without_answer_regions_is_refused():
    with pytest.raises(MarkerError, match=r"ex9\.py:1: no answer region"):
        make_stub("def f():\n    return 1\n", "ex9", "ex9.py")


def test_a_marker_inside_a_string_is_not_a_marker():
    source = 'def f():\n    """### BEGIN SOLUTION"""\n    return 1\n'
    assert answer_regions(source, "m.py") == []


@pytest.mark.parametrize(
    ("source", "line", "words"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", 2, "never closed"),
        ("def f():\n    return 1\n    ### END SOLUTION\n", 3, "without a"),
        (
            "def f():\n    ### BEGIN SOLUTION\n    x = 1\n    ### BEGIN SOLUTION\n"
            "    return x\n    ### END SOLUTION\n    ### END SOLUTION\n",
            4,
            "nested",
        ),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", 1, "outside a function"),
        (
            "def f():\n    return 1\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n",
            3,
            "outside a function",
        ),
        (
            "def f():\n    x = 1\n    ### BEGIN SOLUTION\n    ### END SOLUTION\n",
            3,
            "empty answer region",
        ),
        ("def f():\n    ## BEGIN SOLUTION\n    return 1\n", 2, "malformed marker"),
        ("def f():\n    ### begin solution\n    return 1\n", 2, "malformed marker"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n  ### END SOLUTION\n", 4, "indented"),
        ("def f(:\n    pass\n", 1, "not valid Python"),
        ("def f():\n    return 1  ### BEGIN SOLUTION\n", 2, "must be on a line of its own"),
    ],
)
def test_malformed_markers_name_file_and_line(source, line, words):
    with pytest.raises(MarkerError) as caught:
        answer_regions(source, "solutions/ex9.py")
    assert str(caught.value).startswith(f"solutions/ex9.py:{line}: ")
    assert words in str(caught.value)


def test_build_rewrites_drifted_files_and_removes_strays(course_copy):
    exercises = course_copy.exercises_dir
    (exercises / "ex1_forward.py").write_text("# edited by hand\n")
    (exercises / "stray.py").write_text("x = 1\n")
    (exercises / "ex3_module.py").unlink()
    assert stale_files(course_copy) == ["ex1_forward.py", "ex3_module.py", "stray.py"]
    assert sorted(write(course_copy)) == ["ex1_forward.py", "ex3_module.py", "stray.py"]
    assert stale_files(course_copy) == []
    assert not (exercises / "stray.py").exists()


def test_a_change_to_a_solution_reaches_the_stub(course_copy):
    solution = course_copy.solutions_dir / "ex3_module.py"
    answer = "self.fc1 = nn.Linear(1, hidden_size)"
    solution.write_text(solution.read_text().replace(answer, answer + "  # changed"))
    assert stale_files(course_copy) == []  # the change is inside an answer region
    solution.write_text(
        solution.read_text().replace("always first:", "always first, before layers:")
    )
    assert stale_files(course_copy) == ["ex3_module.ipynb", "ex3_module.py"]
    write(course_copy)
    assert (
        "always first, before layers:" in (course_copy.exercises_dir / "ex3_module.py").read_text()
    )


def test_build_command_reports_malformed_markers(course_copy, tmp_path):
    solution = course_copy.solutions_dir / "ex2_backward.py"
    solution.write_text(solution.read_text().replace("    ### END SOLUTION\n", "", 1))
    done = run_grader("--course", str(tmp_path), "build")
    assert done.returncode == 2
    assert "solutions/ex2_backward.py:" in done.stderr and "nested" in done.stderr


def test_public_checks_and_helpers_are_copied_verbatim(course):
    files = generated_files(course)
    for name in ("conftest.py", "pytest.ini", "selfcheck.py", "test_ex1_forward.py"):
        assert files[name] == (ROOT / "solutions" / name).read_text()
