"""The student kit's README.md and requirements.txt: made from course.yml, and portable."""

import ast
import json
import re
import sys
import tomllib

import pytest
from packaging.requirements import Requirement

from grader.authoring.build import generated_files, stale_files, write
from grader.authoring.kit import kit_files
from grader.course import CourseError, load_course
from tests.helpers import ROOT, run_grader

# Modules that exist only on some systems: a kit importing one breaks on the others.
NOT_EVERYWHERE = frozenset(
    {"fcntl", "resource", "termios", "tty", "pty", "pwd", "grp", "posix", "crypt", "spwd",
     "nis", "syslog", "ossaudiodev", "readline", "curses", "_posixsubprocess",
     "_posixshmem", "msvcrt", "winreg", "winsound", "_winapi", "nt"}
)  # fmt: skip


def _sources(files):
    """(name, Python source) of every .py file and every notebook code cell of the kit."""
    for name, text in files.items():
        if name.endswith(".py"):
            yield name, text
        elif name.endswith(".ipynb"):
            for index, cell in enumerate(json.loads(text)["cells"]):
                if cell["cell_type"] == "code":
                    yield f"{name} cell {index}", "".join(cell["source"])


def _imported(source):
    """Top-level names of the modules a source imports, dynamic imports by a literal too."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None))
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.args[0].value.split(".")[0]


def unportable_imports(files):
    """'file: module' for each import the kit's requirements and every system cannot satisfy."""
    installed = {
        Requirement(line).name.lower()
        for line in files["requirements.txt"].splitlines()
        if line.strip() and not line.startswith("#")
    }
    own = {name.removesuffix(".py") for name in files if name.endswith(".py")}
    allowed = (set(sys.stdlib_module_names) - NOT_EVERYWHERE) | installed | own
    return [
        f"{where}: {module}"
        for where, source in _sources(files)
        for module in _imported(source)
        if module not in allowed
    ]


def test_the_kit_imports_only_the_standard_library_its_requirements_and_itself(course):
    assert unportable_imports(generated_files(course)) == []


def test_an_import_of_the_grader_or_of_a_linux_only_module_is_found(course):
    files = dict(generated_files(course))
    files["conftest.py"] = (
        "import fcntl\nfrom grader.authoring.stubs import make_stub\n" + files["conftest.py"]
    )
    files["selfcheck.py"] += (
        "\ndef f():\n    import importlib\n    importlib.import_module('pwd')\n"
    )
    notebook = json.loads(files["ex2_backward.ipynb"])
    notebook["cells"][1]["source"] = "import resource\nimport yaml\n"
    files["ex2_backward.ipynb"] = json.dumps(notebook)
    assert sorted(unportable_imports(files)) == [
        "conftest.py: fcntl",
        "conftest.py: grader",
        "ex2_backward.ipynb cell 1: resource",
        "ex2_backward.ipynb cell 1: yaml",  # not in requirements.txt: not installed
        "selfcheck.py: pwd",
    ]


def test_requirements_pin_the_courses_torch_and_admit_its_tested_versions(course):
    # Every line a requirement, no options: an index named in the file would send every
    # install to the network, this machine's tests included (the README's Linux line has it).
    requirements = [
        Requirement(line)
        for line in generated_files(course)["requirements.txt"].splitlines()
        if line and not line.startswith("#")
    ]
    assert [r.name for r in requirements] == ["torch", "numpy", "matplotlib", "pytest"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert str(requirements[0]) in project["dependencies"]
    assert re.fullmatch(r"==\d+\.\d+\.\d+", str(requirements[0].specifier))
    pinned = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    for requirement in requirements:
        assert requirement.specifier.contains(pinned[requirement.name]), requirement


def test_readme_lists_every_exercise_with_its_points_and_visible_checks(course):
    readme = generated_files(course)["README.md"]
    for exercise in course.exercises:
        assert f"| `{exercise.file}` | `{exercise.id}.ipynb` | {exercise.max_points:g} |" in readme
        hidden = [check for check in exercise.checks if check.visibility == "hidden"]
        assert (
            f"and {len(hidden)} hidden checks ({sum(c.points for c in hidden):g} points)" in readme
        )
        for check in exercise.checks:
            points = f"{check.points:g} point{'' if check.points == 1 else 's'}"
            shown = f"  - {check.title} ({points})" in readme
            assert shown == (check.visibility == "visible"), check.id  # hidden stay hidden
    assert f"**{course.max_points:g}**" in readme
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in readme


def test_a_change_to_course_yml_reaches_the_readme_and_build_check_sees_it(course_copy, tmp_path):
    path = tmp_path / "course.yml"
    text = path.read_text()
    old = "{id: sigmoid_values, function: sigmoid, points: 3, visibility: visible,"
    assert old in text
    new = "{id: sigmoid_values, function: sigmoid, points: 7, visibility: hidden,"
    path.write_text(text.replace(old, new))
    done = run_grader("--course", str(tmp_path), "build", "--check")
    assert done.returncode == 1 and "exercises/README.md is out of date" in done.stderr
    changed = load_course(tmp_path)
    assert stale_files(changed) == ["README.md", "ex1_forward.ipynb"]  # its autograder cell too
    write(changed)
    readme = (tmp_path / "exercises" / "README.md").read_text()
    assert "| `ex1_forward.py` | `ex1_forward.ipynb` | 24 |" in readme
    assert "and 7 hidden checks (18 points)" in readme
    assert "sigmoid matches 1/(1+e^-z)" not in readme


def test_course_text_is_escaped_for_markdown(course_copy, tmp_path):
    path = tmp_path / "course.yml"
    old = "title: A network as an nn.Module"
    path.write_text(path.read_text().replace(old, "title: 'a | b *c* <img src=x> _d_ e_f `g`'"))
    readme = generated_files(load_course(tmp_path))["README.md"]
    assert r"| a \| b \*c\* \<img src=x\> \_d\_ e_f \`g\` | `ex3_module.py` |" in readme


def test_a_solutions_file_named_like_a_kit_file_is_refused(course_copy, tmp_path):
    (tmp_path / "solutions" / "README.md").write_text("# notes\n")
    done = run_grader("--course", str(tmp_path), "build")
    assert done.returncode == 2
    assert "solutions/README.md: grader build writes exercises/README.md itself" in done.stderr


def test_a_torch_not_pinned_exactly_is_refused(course, tmp_path):
    project = tmp_path / "pyproject.toml"
    text = (ROOT / "pyproject.toml").read_text()
    assert '"torch==2.13.0",' in text
    project.write_text(text.replace('"torch==2.13.0",', '"torch>=2.13",'))
    with pytest.raises(CourseError, match=r"torch must be pinned exactly .*: torch>=2.13$"):
        kit_files(course, project)
