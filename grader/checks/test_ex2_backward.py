"""Hidden checks of ex2_backward, gradients by hand and by autograd. Points: course.yml."""

from __future__ import annotations

import pytest
import torch

from grader.checks.inputs import neuron_inputs
from grader.grading.expect import agrees_elementwise
from grader.grading.inputs import elementwise_inputs, random_tensor
from grader.grading.source_rules import forbidden_uses
from grader.grading.student import Inputs

pytestmark = pytest.mark.ex2_backward

DTYPES = (torch.float32, torch.float64)
EXTREMES = (-1e4, -100.0, -30.0, 0.0, 30.0, 100.0, 1e4)
NAMES = ("dL/dw1", "dL/dw2", "dL/dw3")
AUTOGRAD = frozenset({"backward", "autograd", "func"})
AUTOGRAD_MODULES = ("torch.autograd", "torch.func", "functorch")
CHAIN_RULE_HINT = (
    "dL/dw1 = Σ 2(ŷ − y)/N · σ'(H1) · x1 over the batch (x2 for w2, b for w3); "
    "each gradient is 0-dim like its weight"
)


def _problem(rng, n, dtype):
    """Inputs of L = mse_loss(forward(x1, x2, w1, w2, w3, b), target): data and weights."""
    return neuron_inputs(rng, n, dtype, weight_scale=0.7)


def _autograd(reference, args, b):
    """The three gradients by autograd on the reference loss, computed here."""
    x1, x2, *weights, target = args
    leaves = [w.detach().clone().requires_grad_(True) for w in weights]
    reference.mse_loss(reference.forward(x1, x2, *leaves, b), target).backward()
    return [leaf.grad for leaf in leaves]


def _about(expect, args, b):
    x1, x2, *_, target = args
    return expect.describe(x1=x1, x2=x2, target=target, b=b)


def _expect_gradients(expect, got, expected, about, hint, tolerance=None):
    got = expect.tensors(
        got, 3, what="the result", about=about,
        hint="return the three gradients as a tuple (dL/dw1, dL/dw2, dL/dw3)",
    )  # fmt: skip
    for name, value, want in zip(NAMES, got, expected, strict=True):
        expect.close(value, want, what=name, about=about, hint=hint, tolerance=tolerance)


def test_sigmoid_grad_values(student, reference, rng, expect):
    inputs = elementwise_inputs(rng, ((), (1,), (1000,), (3, 4)), scale=4.0)
    hint = "σ'(z) = σ(z)·(1 − σ(z))"
    agrees_elementwise(student, reference, expect, "sigmoid_grad", inputs, hint)


def test_sigmoid_grad_stable(student, reference, expect):
    inputs = (torch.tensor(EXTREMES, dtype=dtype) for dtype in DTYPES)
    hint = "compute σ(z) stably (torch.sigmoid is fine here), then σ·(1 − σ)"
    agrees_elementwise(student, reference, expect, "sigmoid_grad", inputs, hint, finite=True)


def test_backward_matches_autograd(student, reference, rng, expect):
    sizes = ((torch.float32, 1), (torch.float32, 50), (torch.float64, 1000), (torch.float64, None))
    cases = []
    for dtype, n in sizes:
        args = _problem(rng, n, dtype)
        cases.append(Inputs(args, about=_about(expect, args, 1.0)))
    for case, call in zip(cases, student.call_each("backward", cases), strict=False):
        expected = _autograd(reference, case.args, 1.0)
        _expect_gradients(expect, call.value, expected, case.about, CHAIN_RULE_HINT)


def test_backward_matches_finite_differences(student, reference, rng, expect):
    args = _problem(rng, 30, torch.float64)
    b, step = 0.8, 1e-6
    about = _about(expect, args, b) + ", against central finite differences of L"
    got = student.call("backward", *args, kwargs={"b": b}, about=about).value

    def loss(shifted_args):
        x1, x2, w1, w2, w3, target = shifted_args
        return reference.mse_loss(reference.forward(x1, x2, w1, w2, w3, b), target)

    numeric = []
    for index in (2, 3, 4):
        plus, minus = list(args), list(args)
        plus[index], minus[index] = args[index] + step, args[index] - step
        numeric.append((loss(plus) - loss(minus)) / (2 * step))
    _expect_gradients(expect, got, numeric, about, CHAIN_RULE_HINT, tolerance="finite_differences")


def test_backward_with_other_bias(student, reference, rng, expect):
    cases = []
    for b in (0.0, -1.5, 3.0):
        args = _problem(rng, 40, torch.float64)
        cases.append(Inputs(args, {"b": b}, _about(expect, args, b)))
    for case, call in zip(cases, student.call_each("backward", cases), strict=False):
        _expect_gradients(
            expect,
            call.value,
            _autograd(reference, case.args, case.kwargs["b"]),
            case.about,
            "the bias unit's input is b: dH1/dw3 = b, and H1 = x1·w1 + x2·w2 + b·w3",
        )


def test_backward_without_autograd(student, reference, rng, expect):
    args = _problem(rng, 20, torch.float32)
    about = _about(expect, args, 1.0) + ", called under torch.no_grad()"
    call = student.call("backward", *args, about=about, no_grad=True)
    hint = (
        "write the chain rule with tensor arithmetic: no .backward(), torch.autograd or torch.func"
    )
    expect.true(
        call.events["counts"].get("autograd", 0) == 0,
        summary="backward used autograd",
        about=about,
        hint=hint,
    )
    uses = forbidden_uses(student.syntax_tree(), "backward", AUTOGRAD, AUTOGRAD_MODULES)
    expect.true(not uses, summary=f"backward uses autograd: {', '.join(uses)}", hint=hint)
    _expect_gradients(expect, call.value, _autograd(reference, args, 1.0), about, CHAIN_RULE_HINT)


def test_backward_end_to_end(student, reference, rng, expect):
    cases = []
    for dtype, n, b in ((torch.float64, 50, 1.0), (torch.float32, 20, -0.5)):
        args = _problem(rng, n, dtype)
        cases.append(
            Inputs(args, {"b": b}, _about(expect, args, b) + ", with your own sigmoid_grad")
        )
    for case, call in zip(cases, student.call_each("backward", cases), strict=False):
        expected = _autograd(reference, case.args, case.kwargs["b"])
        _expect_gradients(expect, call.value, expected, case.about, CHAIN_RULE_HINT)


def test_autograd_gradients_values(student, reference, rng, expect):
    cases = []
    for dtype, n, b in (
        (torch.float32, 10, 1.0),
        (torch.float64, 200, -0.7),
        (torch.float64, None, 2.0),
    ):
        args = _problem(rng, n, dtype)
        cases.append(Inputs(args, {} if b == 1.0 else {"b": b}, _about(expect, args, b)))
    for case, call in zip(cases, student.call_each("autograd_gradients", cases), strict=False):
        expect.true(
            call.events["counts"].get("autograd", 0) > 0,
            summary="autograd_gradients did not use autograd",
            about=case.about,
            hint="make the weights leaves with requires_grad=True and call loss.backward()",
        )
        _expect_gradients(
            expect,
            call.value,
            _autograd(reference, case.args, case.kwargs.get("b", 1.0)),
            case.about,
            "read .grad of the leaf copies after loss.backward(); use the provided forward "
            "and mse_loss",
        )


def test_autograd_gradients_no_side_effects(student, reference, rng, expect):
    args = _problem(rng, 25, torch.float32)
    x1, _, *weights, _ = args
    x1.requires_grad_(True)  # data that (wrongly) requires grad must not receive a .grad
    for weight in weights:
        weight.requires_grad_(True)
        weight.grad = torch.full_like(
            weight, 3.0
        )  # an old gradient must neither leak in nor change
    about = "weights that require grad and already hold a .grad, and x1 with requires_grad=True"
    call = student.call("autograd_gradients", *args, about=about)
    expect.unchanged(
        args,
        call.args,
        names=("x1", "x2", "w1", "w2", "w3", "target"),
        what="autograd_gradients",
        about=about,
    )
    _expect_gradients(
        expect,
        call.value,
        _autograd(reference, args, 1.0),
        about,
        "work on leaf copies (w.detach().clone().requires_grad_()): the caller's old .grad must "
        "not be added in",
    )


def test_sgd_step_values(student, rng, expect):
    cases = []
    for lr, shape in ((0.1, ()), (0.5, (3,))):
        weights = tuple(random_tensor(rng, shape, torch.float32) for _ in range(3))
        grads = tuple(random_tensor(rng, shape, torch.float32) for _ in range(3))
        about = f"{expect.describe(w1=weights[0], g1=grads[0])}, lr = {lr}"
        cases.append(Inputs((weights, grads, lr), about=about))
    for case, call in zip(cases, student.call_each("sgd_step", cases), strict=False):
        (weights, grads, lr), about = case.args, case.about
        expect.tensors(call.value, 3, what="sgd_step's result", about=about,
                       hint="return tuple(w - lr * g for ...)")  # fmt: skip
        expect.true(
            isinstance(call.value, tuple),
            summary="sgd_step returned a list, not a tuple",
            about=about,
            hint="return tuple(w - lr * g for ...): the contract asks for a new tuple",
        )
        for index, (w, g, new) in enumerate(zip(weights, grads, call.value, strict=True), 1):
            expect.close(
                new,
                w - lr * g,
                what=f"the new w{index}",
                about=about,
                hint="w − lr·g: a step against the gradient",
            )
        expect.unchanged(
            [*weights, *grads],
            [*call.args[0], *call.args[1]],
            names=("w1", "w2", "w3", "g1", "g2", "g3"),
            what="sgd_step",
            about=about,
        )


def test_fit_by_hand_trajectory(student, reference, rng, expect, once):
    x1, x2, *weights, target = _problem(rng, 20, torch.float64)
    settings = {"lr": 0.5, "n_steps": 25, "b": 1.5}
    expected = once(
        "trajectory", lambda: reference.fit_by_hand(x1, x2, target, tuple(weights), **settings)
    )
    _expect_fit(student, expect, (x1, x2, target, tuple(weights)), settings, expected)


def test_fit_by_hand_end_to_end(student, reference, rng, expect):
    x1, x2, *weights, target = _problem(rng, 15, torch.float64)
    settings = {"lr": 0.3, "n_steps": 10, "b": 0.7}
    args = (x1, x2, target, tuple(weights))
    expected = reference.fit_by_hand(*args, **settings)
    call = _expect_fit(student, expect, args, settings, expected, "with your own backward")
    expect.unchanged(
        [x1, x2, target, *weights],
        [*call.args[:3], *call.args[3]],
        names=("x1", "x2", "target", "w1", "w2", "w3"),
        what="fit_by_hand",
        about="with your own backward and sgd_step",
    )


def _expect_fit(student, expect, args, settings, expected, parts=""):
    """fit_by_hand(*args, **settings) against the reference's (weights, losses)."""
    x1, x2, target, _ = args
    about = f"{expect.describe(x1=x1, x2=x2, target=target)}, {settings}"
    about += f", {parts} and sgd_step" if parts else ""
    call = student.call("fit_by_hand", *args, kwargs=settings, about=about)
    expect.true(
        isinstance(call.value, tuple | list) and len(call.value) == 2,
        summary="fit_by_hand did not return (final_weights, losses)",
        about=about,
        hint="return a pair: the tuple of final weights and the list of losses",
    )
    (final, losses), (expected_weights, expected_losses) = call.value, expected
    expect.trajectory(
        losses,
        expected_losses,
        what="losses",
        about=about,
        tolerance="float64",
        hint="each step: record the loss at the current weights (before the step), then "
        "backward, then sgd_step with lr; use the given b",
    )
    expect.true(
        isinstance(final, tuple | list) and len(final) == 3,
        summary="the final weights are not a tuple of three tensors",
        about=about,
        hint="return tuple(weights) after the last step",
    )
    for index, (value, want) in enumerate(zip(final, expected_weights, strict=True), 1):
        expect.close(
            value,
            want,
            what=f"the final w{index}",
            about=about,
            hint="return the weights after the last step",
        )
    return call


def test_inputs_unchanged(student, rng, expect):
    args = _problem(rng, 15, torch.float32)
    about = "x1, x2, target of shape (15,) and 0-dim weights"
    call = student.call("backward", *args, about=about)
    names = ("x1", "x2", "w1", "w2", "w3", "target")
    expect.unchanged(args, call.args, names=names, what="backward", about=about)
    x1, x2, *weights, target = args
    call = student.call(
        "fit_by_hand", x1, x2, target, tuple(weights), kwargs={"n_steps": 3}, about=about
    )
    expect.unchanged(
        [x1, x2, target, *weights],
        [*call.args[:3], *call.args[3]],
        names=("x1", "x2", "target", "w1", "w2", "w3"),
        what="fit_by_hand",
        about=about,
    )
