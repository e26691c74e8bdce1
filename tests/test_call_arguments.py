"""A call's arguments come back as they are afterwards; those it left exactly as they were
sent stay in the sandbox (the child says which), and every change still reaches the check."""

import pytest
import torch

from grader.grading.expect import tensor_change
from grader.grading.session import sandbox
from grader.grading.student import CheckFailure, Inputs, Student
from grader.sandbox.host.client import Reply, SubmissionSandbox

SOURCE = """
import torch


def pure(x, ws, scale):
    return x * scale + ws[0]


def add_in_place(x, ws, scale):
    x.add_(1.0)


def through_numpy(x, ws, scale):
    x.numpy()[0] = 7.0


def through_data(x, ws, scale):
    x.data = torch.zeros(3)


def requires_grad(x, ws, scale):
    x.requires_grad_(True)


def fills_grad(x, ws, scale):
    x.grad = torch.ones(3)


def resizes(x, ws, scale):
    x.resize_(2)


def replaces_in_list(x, ws, scale):
    ws[0] = torch.zeros(1)


def scales_a_weight(x, ws, scale):
    ws[1].mul_(2.0)
"""
CHANGES = {  # function -> which argument it changes and how tensor_change words it
    "add_in_place": (0, "its values changed"),
    "through_numpy": (0, "its values changed"),
    "through_data": (0, "its values changed"),
    "requires_grad": (0, "requires_grad changed from False to True"),
    "fills_grad": (0, ".grad was filled in"),
    "resizes": (0, "its shape or dtype changed"),
    "replaces_in_list": (1, "its values changed"),
    "scales_a_weight": (1, "its values changed"),
}


@pytest.fixture(scope="module")
def student(course):
    with sandbox(course) as zygote:
        runner = SubmissionSandbox(zygote, {"ex1_forward": SOURCE}, None)
        exercise = course.exercise("ex1_forward")
        yield Student(runner, exercise, exercise.checks[0], SOURCE)
        runner.close()


def _inputs():
    return (torch.tensor([1.0, 2.0, 3.0]), [torch.tensor([0.5]), torch.tensor([4.0])], 2.0)


def _changes(sent, back):
    """How each argument changed, as the checks judge it (lists of tensors item by item)."""
    found = []
    for before, after in zip(sent, back, strict=True):
        if isinstance(before, list):
            items = zip(before, after, strict=True) if len(after) == len(before) else [(1, 2)]
            found.append(next((c for a, b in items if (c := tensor_change(a, b))), None))
        elif isinstance(before, torch.Tensor):
            found.append(tensor_change(before, after))
        else:
            found.append(None if before == after else "changed")
    return found


def test_what_a_call_leaves_alone_is_the_check_s_own_input(student):
    sent = _inputs()
    call = student.call("pure", *sent)
    assert call.args[0] is sent[0] and call.args[1] is sent[1]  # never sent back
    assert call.args[2] == 2.0  # a plain number always comes back
    assert torch.equal(call.value, torch.tensor([2.5, 4.5, 6.5]))


@pytest.mark.parametrize("function", sorted(CHANGES))
def test_every_change_to_an_argument_comes_back(student, function):
    sent = _inputs()
    pristine = _inputs()
    call = student.call(function, *sent)
    index, words = CHANGES[function]
    changes = _changes(pristine, call.args)
    assert changes[index] is not None and changes[index].startswith(words), changes
    assert [c for i, c in enumerate(changes) if i != index] == [None, None]


def test_a_nan_argument_left_alone_comes_back_and_still_counts_unchanged(student):
    sent = (torch.tensor([float("nan"), 1.0, 2.0]), [torch.tensor([0.5])] * 2, 1.0)
    call = student.call("pure", *sent)
    assert call.args[0] is not sent[0]  # NaN never equals itself: the child sends it back
    assert _changes(sent, call.args) == [None, None, None]


def test_each_call_of_a_request_gets_its_own_arguments(student):
    first, second = _inputs(), _inputs()
    calls = student.call_each("add_in_place", [Inputs(first), Inputs(second)])
    for sent, call in zip((first, second), calls, strict=True):
        assert call.args[1] is sent[1] and torch.equal(call.args[0], sent[0] + 1)


@pytest.mark.parametrize(
    "result",
    [
        {"value": 1, "args": [None], "same": [True, True, True]},  # too few arguments back
        {"value": 1, "args": [None, None, None], "same": [1, 1, 1]},  # not booleans
    ],
)
def test_a_malformed_record_of_the_arguments_fails_the_call(student, result, monkeypatch):
    reply = Reply(result=result, events={"counts": {}, "notes": []}, output="")
    monkeypatch.setattr(student, "probe", lambda *args, **kwargs: reply)
    with pytest.raises(CheckFailure) as failure:
        student.call("pure", *_inputs(), about="three inputs")
    assert failure.value.feedback.error == "malformed"
    assert "malformed record of its arguments" in failure.value.feedback.summary


def test_a_submission_that_rebinds_torch_equal_still_has_its_changes_seen(course):
    source = SOURCE + "\ntorch.equal = lambda a, b: True\ntorch.Tensor.clone = lambda t: t\n"
    with sandbox(course) as zygote:
        runner = SubmissionSandbox(zygote, {"ex1_forward": source}, None)
        exercise = course.exercise("ex1_forward")
        call = Student(runner, exercise, exercise.checks[0], source).call(
            "add_in_place", *_inputs()
        )
        runner.close()
    assert _changes(_inputs(), call.args)[0] == "its values changed"
