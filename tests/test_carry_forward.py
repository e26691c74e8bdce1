"""Error carried forward, without grading a class: the rule the sample mistakes obey, the
stand-ins as the sandbox receives them, and what the scores and feedback say about it."""

from __future__ import annotations

import types
from dataclasses import replace

import pytest
import torch

from grader.grading.carry_forward import stand_ins_for
from grader.grading.plugin import load_reference
from grader.grading.session import grade_submissions, sandbox
from grader.grading.submission import load_submission
from grader.reports.writers import read_results_json, results_json
from grader.results import Feedback, Outcome, score
from grader.sandbox.inside.child import _stand_in
from samples.mistakes import MISTAKES
from tests.helpers import ROOT, SEED


def _own_checks(exercise, function):
    """The checks that judge ``function`` (a method counts as its class)."""
    unit = function.split(".")[0]
    return {c.id for c in exercise.checks if function in c.functions or unit in c.functions}


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.student for m in MISTAKES])
def test_a_mistake_costs_only_its_own_checks_and_its_callers_end_to_end_ones(course, mistake):
    exercise = course.exercise(mistake.exercise)
    end_to_end = {
        check.id
        for caller in exercise.callers(mistake.function)
        for check in exercise.checks_of(caller)
        if check.end_to_end
    }
    assert mistake.fails, "a mistake that fails nothing is not a mistake"
    assert mistake.fails <= _own_checks(exercise, mistake.function) | end_to_end


def test_every_function_that_calls_another_is_judged_end_to_end_once(course):
    for exercise in course.exercises:
        for function in exercise.calls:
            checks = exercise.checks_of(function)
            assert [c.end_to_end for c in checks].count(True) == 1, function
            share = sum(c.points for c in checks if c.end_to_end) / sum(c.points for c in checks)
            assert share <= 0.25, f"{function}'s end-to-end check is not a small share"


def _random_arguments(function, dtype):
    g = torch.Generator().manual_seed(3)
    data = [torch.randn(40, generator=g, dtype=dtype) for _ in range(2)]
    weights = [torch.randn((), generator=g, dtype=dtype) for _ in range(3)]
    target = torch.rand(40, generator=g, dtype=dtype)
    z = torch.cat([torch.randn(40, generator=g, dtype=dtype) * 8, torch.tensor([-1e4, 0, 1e4])])
    return {
        "sigmoid": ((z.to(dtype),), {}),
        "sigmoid_grad": ((z.to(dtype),), {}),
        "weighted_sum": ((*data, *weights), {"b": -0.5}),
        "backward": ((*data, *weights, target), {"b": 1.5}),
        "sgd_step": ((tuple(weights), tuple(w * 0.1 for w in weights), 0.3), {}),
    }[function]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_each_stand_in_alone_is_correct_and_holds_no_other(course, dtype):
    """As the child receives it: one function's source, run in a namespace of its own."""
    for exercise in course.exercises:
        reference = load_reference(course, exercise.id)
        for function, called in exercise.calls.items():
            check = next(c for c in exercise.checks_of(function) if not c.end_to_end)
            sources = stand_ins_for(exercise, check, function)
            assert set(sources) == set(called)
            for name, source in sources.items():
                others = set(exercise.graded_functions) - {name}
                assert not any(f"def {other}(" in source for other in others), source
                assert "solution" not in source.lower()
                namespace = {}
                exec(compile(source, f"<correct {name}>", "exec"), namespace)
                args, kwargs = _random_arguments(name, dtype)
                got = namespace[name](*args, **kwargs)
                want = getattr(reference, name)(*args, **kwargs)
                got, want = (x if isinstance(x, tuple) else (x,) for x in (got, want))
                for g, w in zip(got, want, strict=True):
                    assert g.dtype == w.dtype and g.shape == w.shape
                    torch.testing.assert_close(g, w)


def test_the_end_to_end_check_runs_with_the_students_own_parts(course):
    exercise = course.exercise("ex1_forward")
    assert stand_ins_for(exercise, exercise.check("forward_end_to_end"), "forward") == {}
    assert set(stand_ins_for(exercise, exercise.check("forward_values"), "forward")) == {
        "sigmoid",
        "weighted_sum",
    }
    assert stand_ins_for(exercise, exercise.check("sigmoid_values"), "sigmoid") == {}


def test_the_child_binds_a_stand_in_under_every_name_the_student_gave_it():
    module = types.ModuleType("ex1_forward")
    exec(
        "def sigmoid(z):\n    return z * 0\nact = sigmoid\n"
        "def forward(z):\n    return act(z) + sigmoid(z)\n",
        module.__dict__,
    )
    _stand_in(module, {"sigmoid": "import torch\n\ndef sigmoid(z):\n    return torch.sigmoid(z)\n"})
    z = torch.tensor([0.0, 2.0])
    assert torch.equal(module.forward(z), 2 * torch.sigmoid(z))
    assert "torch" not in module.__dict__  # the stand-in's imports stay in its own namespace


def _grade(course, failed, carried=()):
    """Scored as if ``failed`` had failed and the checks in ``carried`` had run forward with
    stand-ins for what it calls."""
    outcomes = [
        Outcome(
            exercise.id,
            check.id,
            passed=check.id not in failed,
            feedback=Feedback(summary="wrong", hint="h") if check.id in failed else None,
            carried_forward=(("forward", ("sigmoid", "weighted_sum")),)
            if check.id in carried
            else (),
        )
        for exercise in course.exercises
        for check in exercise.checks
    ]
    ids = [e.id for e in course.exercises]
    grade = score(course, ids, outcomes, student="s", seed=1, grader_version="v",
                  protections=(), seconds=0.0)  # fmt: skip
    return {check.check: check for check in grade.checks if check.exercise == "ex1_forward"}, grade


def test_a_failed_end_to_end_check_says_which_part_to_fix_first(course):
    checks, _ = _grade(course, {"sigmoid_values", "sigmoid_gradient", "forward_end_to_end"})
    assert checks["forward_end_to_end"].feedback.fix_first == (
        "forward is right when given a correct sigmoid; your sigmoid fails sigmoid_values "
        "and sigmoid_gradient: fix it first"
    )
    assert "**fix first:** forward is right" in checks["forward_end_to_end"].feedback.markdown()
    checks, _ = _grade(course, {"weighted_sum_values", "forward_values", "forward_end_to_end"})
    assert checks["forward_end_to_end"].feedback.fix_first == (
        "your weighted_sum fails weighted_sum_values: fix it first, then forward itself, "
        "which fails checks of its own too"
    )
    checks, _ = _grade(course, {"forward_end_to_end"})  # the wiring alone is wrong
    assert checks["forward_end_to_end"].feedback.fix_first == ""


def test_a_carried_forward_check_says_so_and_survives_results_json(course):
    checks, grade = _grade(course, {"forward_gradients"}, {"forward_values", "forward_gradients"})
    assert checks["forward_values"].carried_forward == (("forward", ("sigmoid", "weighted_sum")),)
    assert (
        checks["forward_values"]
        .carried_note()
        .startswith("forward ran with a correct sigmoid and weighted_sum in place of yours")
    )
    assert checks["forward_end_to_end"].carried_forward == ()
    assert checks["sigmoid_values"].carried_forward == ()
    data = results_json(grade)
    test = next(t for t in data["tests"] if t["tags"] == ["ex1_forward", "forward_values"])
    assert "in place of yours" in test["output"] and test["status"] == "passed"
    assert read_results_json(data) == grade
    failed = next(t for t in data["tests"] if t["tags"] == ["ex1_forward", "forward_gradients"])
    assert failed["output"].startswith("**wrong**") and "in place of yours" in failed["output"]


# A sigmoid that passes every check of its own but is wrong when forward calls it: a
# mistake only the composition shows.
_WRONG_INSIDE_FORWARD = """

_right_sigmoid = sigmoid


def sigmoid(z):
    import sys

    value = _right_sigmoid(z)
    return 1 - value if sys._getframe(1).f_code.co_name == "forward" else value
"""


def test_proven_parts_are_used_as_they_are_and_a_failure_runs_again_with_stand_ins(course):
    ids = [exercise.id for exercise in course.exercises]
    solutions = load_submission(ROOT / "solutions", ids)
    tricky = replace(
        solutions,
        student="tricky",
        sources={"ex1_forward": solutions.sources["ex1_forward"] + _WRONG_INSIDE_FORWARD},
    )
    with sandbox(course) as zygote:
        right, wrong = grade_submissions(course, [solutions, tricky], SEED, zygote, ["ex1_forward"])
    # All proven: nothing ran with a stand-in, so no stand-in child was ever made.
    assert all(check.status == "passed" and not check.carried_forward for check in right.checks)
    checks = {check.check: check for check in wrong.checks}
    assert {c for c, check in checks.items() if check.status != "passed"} == {"forward_end_to_end"}
    # forward's own checks failed with the student's sigmoid, then passed with stand-ins.
    assert checks["forward_values"].carried_forward == (("forward", ("sigmoid", "weighted_sum")),)
    assert checks["sigmoid_values"].carried_forward == ()
