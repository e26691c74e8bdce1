"""Proof that a course is data plus checks: a sixth exercise, written only in course files
(a solution with answer markers, a self-check, hidden checks with a probe and a figure of
their own, a course.yml entry), is built, graded and drawn with no engine file touched."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import ROOT

EXERCISE = "ex5_autograd"

SOLUTION = '''\
"""Exercise 5 (ex5_autograd): autograd records how a value was made.

With ``a``, ``w1`` and ``w2`` leaves that require grad, ``d = w1 * a + w2 * a`` and
``E = 10 - d``; after ``E.sum().backward()`` every leaf holds dE/dleaf in ``.grad``.
"""

import torch


def forward_and_backward(a, w1, w2):
    """Compute d and E as above, backpropagate E.sum(), and return (d, E)."""
    ### BEGIN SOLUTION
    d = w1 * a + w2 * a
    E = 10 - d
    E.sum().backward()
    ### END SOLUTION
    return d, E
'''

SELF_CHECK = '''\
"""Self-checks for exercise 5. Run: pytest -m ex5_autograd"""

import pytest
import torch
from ex5_autograd import forward_and_backward
from selfcheck import expect

pytestmark = pytest.mark.ex5_autograd


def test_gradient_of_w1_is_minus_a():
    a = torch.tensor([2.0], requires_grad=True)
    w1 = torch.tensor([3.0], requires_grad=True)
    w2 = torch.tensor([4.0], requires_grad=True)
    forward_and_backward(a, w1, w2)
    expect(
        w1.grad is not None and w1.grad.item() == -2.0,
        call="forward_and_backward(a=2, w1=3, w2=4), then w1.grad",
        expected="-2.0",
        got=w1.grad,
        hint="dE/dw1 = -a: call E.sum().backward()",
    )
'''

PROBE = '''

@probe(value=object, grads=dict, grad_fn=str)
def autograd_example(module, a, w1, w2):
    """Run forward_and_backward on fresh leaves; report their grads and d's grad_fn."""
    leaves = {name: t.detach().clone().requires_grad_(True) for name, t in
              (("a", a), ("w1", w1), ("w2", w2))}
    d, _ = function_of(module, "forward_and_backward")(**leaves)
    return {"value": d, "grads": {n: t.grad for n, t in leaves.items()},
            "grad_fn": type(getattr(d, "grad_fn", None)).__name__}
'''

HIDDEN_CHECKS = '''\
"""Hidden checks of ex5_autograd."""

import pytest
import torch

pytestmark = pytest.mark.ex5_autograd


def test_leaf_gradients(student, rng, expect):
    a, w1, w2 = (torch.randn(4, generator=rng, dtype=torch.float64) for _ in range(3))
    about = expect.describe(a=a, w1=w1, w2=w2)
    report = student.probe("autograd_example", {"a": a, "w1": w1, "w2": w2},
                           function="forward_and_backward", about=about).result
    for name, want in (("w1", -a), ("w2", -a), ("a", -(w1 + w2))):
        expect.close(report["grads"][name], want, what=f"{name}.grad", about=about,
                     hint="E = 10 - d, so every gradient is minus d's")


def test_grad_fn(student, expect):
    one = torch.ones(2, dtype=torch.float64)
    report = student.probe("autograd_example", {"a": one, "w1": one, "w2": one},
                           function="forward_and_backward").result
    expect.true(report["grad_fn"] == "AddBackward0", summary="d is not made by an addition",
                expected="d.grad_fn is AddBackward0", got=report["grad_fn"],
                hint="d = w1 * a + w2 * a")
'''

COLLECTOR = """

@collects("ex5_autograd")
def _leaf_gradients(run, reference):
    a = torch.linspace(-2, 2, 9, dtype=torch.float64)
    ones = torch.ones(9, dtype=torch.float64)
    inputs = {"a": a, "w1": ones, "w2": ones}

    def build():
        report = run("autograd_example", inputs, "forward_and_backward")
        return {"a": a.tolist(), "yours": _floats(report["grads"]["w1"], "w1.grad", 9)}

    return [figure("leaf_gradients", "Your w1.grad against -a", build)]
"""

PAINTER = """

@paints("leaf_gradients")
def _draw_leaf_gradients(axes, data):
    axes.plot(data["a"], [-x for x in data["a"]], label="-a")
    yours = [y if y is not None else math.nan for y in data["yours"]]
    axes.plot(data["a"], yours, "o", label="w1.grad")
    axes.legend()
    return "Your w1.grad at nine values of a, against the line -a."
"""

ENTRY = """
  - id: ex5_autograd
    title: Autograd on the tutorial's first example
    file: ex5_autograd.py
    objectives:
      - Tell which tensors autograd fills with .grad after backward
    checks:
      - {id: leaf_gradients, points: 3, visibility: visible,
         title: "every leaf gets dE/dleaf in .grad"}
      - {id: grad_fn, points: 1, visibility: visible, title: "d.grad_fn is an addition"}
"""


def _engine_digest(project: Path) -> dict[str, str]:
    package = project / "grader"
    return {
        str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(package.rglob("*"))
        if path.is_file()
        and "__pycache__" not in path.parts
        and (package / "checks") not in path.parents
    }


def _grader(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], cwd=project, capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the project with the sixth exercise written into its course files only."""
    project = tmp_path_factory.mktemp("project")
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, project / name)
    before = _engine_digest(project)
    (project / "solutions" / f"{EXERCISE}.py").write_text(SOLUTION)
    (project / "solutions" / f"test_{EXERCISE}.py").write_text(SELF_CHECK)
    with open(project / "solutions" / "pytest.ini", "a") as ini:
        ini.write(f"    {EXERCISE}: exercise 5, autograd\n")
    checks = project / "grader" / "checks"
    (checks / f"test_{EXERCISE}.py").write_text(HIDDEN_CHECKS)
    with open(checks / "probes.py", "a") as probes:
        probes.write(textwrap.dedent(PROBE))
    with open(checks / "figures.py", "a") as figures:
        figures.write(COLLECTOR)
    with open(checks / "drawing.py", "a") as drawing:
        drawing.write(PAINTER)
    with open(project / "course.yml", "a") as course:
        course.write(ENTRY)
    built = _grader(project, "build")
    assert built.returncode == 0, built.stderr
    assert _engine_digest(project) == before  # not one engine file was touched
    return project


def test_build_makes_the_stub_and_the_notebook(project):
    stub = (project / "exercises" / f"{EXERCISE}.py").read_text()
    assert f'raise NotImplementedError("{EXERCISE}: forward_and_backward")' in stub
    assert "    d = w1 * a + w2 * a\n" not in stub  # the answer line is gone
    notebook = json.loads((project / "exercises" / f"{EXERCISE}.ipynb").read_text())
    assert any("forward_and_backward" in "".join(c["source"]) for c in notebook["cells"])
    assert EXERCISE in (project / "exercises" / "README.md").read_text()


def test_the_reference_scores_full_marks_and_its_page_shows_the_figure(project, tmp_path):
    results, page = tmp_path / "results.json", tmp_path / "feedback.html"
    done = _grader(
        project, "grade", "solutions", "--exercise", EXERCISE, "--results", str(results),
        "--feedback", str(page), "--seed", "5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(results.read_text())
    assert result["score"] == result["extra_data"]["max_score"] == 4, result["output"]
    html = page.read_text()
    assert "Your w1.grad against -a" in html and 'src="data:image/png;base64,' in html
    assert "no figure" not in html


def test_the_stub_scores_zero_as_not_implemented_yet(project, tmp_path):
    results = tmp_path / "results.json"
    done = _grader(project, "grade", "exercises", "--exercise", EXERCISE, "--results", str(results))
    assert done.returncode == 0, done.stderr
    result = json.loads(results.read_text())
    assert result["score"] == 0
    assert all("not implemented yet" in test["output"] for test in result["tests"]), result


def test_its_self_check_passes_on_the_solution_and_fails_in_one_line_on_the_stub(project):
    def self_check(folder: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", EXERCISE],
            cwd=project / folder, capture_output=True, text=True,
        )  # fmt: skip

    assert self_check("solutions").returncode == 0
    failed = self_check("exercises")
    assert failed.returncode == 1
    assert f"not implemented yet: {EXERCISE}.forward_and_backward" in failed.stdout
