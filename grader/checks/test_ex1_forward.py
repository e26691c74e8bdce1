"""Hidden checks of ex1_forward, the forward pass. Points and titles: course.yml."""

from __future__ import annotations

import pytest
import torch

from grader.checks.inputs import neuron_inputs
from grader.grading.expect import agrees_elementwise
from grader.grading.inputs import elementwise_inputs, random_tensor
from grader.grading.source_rules import forbidden_uses
from grader.grading.student import Inputs

pytestmark = pytest.mark.ex1_forward

DTYPES = (torch.float32, torch.float64)
SHAPES = ((), (1,), (1000,), (4, 5))
EXTREMES = (-1e4, -100.0, -88.8, -30.0, 0.0, 30.0, 88.8, 100.0, 1e4)
BUILTIN_SIGMOIDS = frozenset({"sigmoid", "sigmoid_", "expit", "Sigmoid"})
STABLE_HINT = (
    "e^(−z) overflows to inf for z ≪ 0 and e^z for z ≫ 0: use 1/(1+e^(−z)) where z ≥ 0 and "
    "e^z/(1+e^z) where z < 0, clamping each branch's input so neither ever overflows"
)


def _batch(rng, n, dtype):
    """x1, x2 of shape (n,) (0-dim for n = None) and three 0-dim weights."""
    return neuron_inputs(rng, n, dtype)[:5]


def _agrees_with_reference(student, reference, rng, expect, function, hint):
    """``function(x1, x2, w1, w2, w3, b)`` against the reference: 0-dim, N = 1 and large N,
    both dtypes, b = 1 (left to the default) and not."""
    cases = []
    for dtype in DTYPES:
        for n, b in ((None, 1.0), (1, -0.5), (1000, 2.5)):
            args = _batch(rng, n, dtype)
            about = expect.describe(x1=args[0], x2=args[1], b=b)
            cases.append(Inputs(args, {} if b == 1.0 else {"b": b}, about))
    for case, call in zip(cases, student.call_each(function, cases), strict=False):
        expected = getattr(reference, function)(*case.args, case.kwargs.get("b", 1.0))
        expect.close(call.value, expected, what=f"{function}(...)", about=case.about, hint=hint)


def test_sigmoid_values(student, reference, rng, expect):
    inputs = elementwise_inputs(rng, SHAPES, scale=6.0)
    hint = "σ(z) = 1 / (1 + e^(−z)), elementwise, in z's dtype"
    agrees_elementwise(student, reference, expect, "sigmoid", inputs, hint)


def test_sigmoid_stable_at_extremes(student, reference, expect):
    inputs = (torch.tensor(EXTREMES, dtype=dtype) for dtype in DTYPES)
    agrees_elementwise(student, reference, expect, "sigmoid", inputs, STABLE_HINT, finite=True)


def test_sigmoid_gradient(student, reference, rng, expect):
    for dtype in DTYPES:
        z = random_tensor(rng, (200,), dtype, scale=6.0)
        z[: len(EXTREMES)] = torch.tensor(EXTREMES, dtype=dtype)
        grad_output = random_tensor(rng, (200,), dtype)
        about = f"{expect.describe(z=z)}, including 0 and ±1e4"
        reply = student.probe(
            "call_with_gradients",
            {
                "function": "sigmoid",
                "args": [z],
                "kwargs": {},
                "wrt": [0],
                "grad_output": grad_output,
            },
            function="sigmoid",
            about=about,
        )
        leaf = z.clone().requires_grad_(True)
        reference.sigmoid(leaf).backward(grad_output)
        grad = reply.result["grads"][0]
        expect.true(
            grad is not None,
            summary="no gradient flows back through sigmoid",
            about=about,
            hint="compute with torch operations on z itself: .item(), .numpy(), .detach() "
            "or torch.tensor(...) cut the graph",
        )
        expect.true(
            bool(torch.isfinite(grad).all()),
            summary="the gradient of sigmoid (by autograd) is not finite at some inputs",
            about=about,
            hint="autograd differentiates both branches of torch.where: inf/inf in the unused "
            "branch still gives nan. " + STABLE_HINT,
        )
        expect.close(
            grad,
            leaf.grad,
            what="the gradient of sigmoid (by autograd)",
            about=about,
            hint="σ'(z) = σ(z)(1 − σ(z)); at z = 0 it is 1/4. abs() has gradient 0 at 0: "
            "use clamp or where on z itself",
        )


def test_sigmoid_without_builtin(student, reference, expect):
    z = torch.tensor([-2.0, 0.0, 3.0])
    about = expect.describe(z=z)
    call = student.call("sigmoid", z, about=about)
    hint = "build σ from torch.exp, arithmetic and torch.where, as the docstring shows"
    expect.true(
        call.events["counts"].get("torch.sigmoid", 0) == 0,
        summary="sigmoid calls PyTorch's built-in sigmoid",
        about=about,
        hint=hint,
    )
    uses = forbidden_uses(student.syntax_tree(), "sigmoid", BUILTIN_SIGMOIDS)
    expect.true(
        not uses,
        summary=f"sigmoid uses a built-in sigmoid: {', '.join(uses)}",
        hint=hint,
    )
    expect.close(call.value, reference.sigmoid(z), what="sigmoid(z)", about=about, hint=hint)


def test_weighted_sum_values(student, reference, rng, expect):
    _agrees_with_reference(
        student, reference, rng, expect, "weighted_sum",
        hint="H1 = x1·w1 + x2·w2 + b·w3: use b, whose default is 1",
    )  # fmt: skip


def test_forward_values(student, reference, rng, expect):
    _agrees_with_reference(
        student, reference, rng, expect, "forward",
        hint="forward = sigmoid(weighted_sum(x1, x2, w1, w2, w3, b)); pass b along",
    )  # fmt: skip


def test_forward_gradients(student, reference, rng, expect):
    """Gradients w.r.t. the weights, against autograd on the reference and finite differences."""
    x1, x2, w1, w2, w3 = _batch(rng, 50, torch.float64)
    b = 1.5
    about = expect.describe(x1=x1, x2=x2, b=b) + " (float64)"
    args = [x1, x2, w1, w2, w3]
    grads, grad_output = _gradients_agree(student, reference, rng, expect, args, b, about)
    step = 1e-6
    shifts = [
        Inputs(
            tuple(a + step * s if i == index else a for i, a in enumerate(args)), {"b": b}, about
        )
        for index in (2, 3, 4)
        for s in (1, -1)
    ]
    shifted = student.call_each("forward", shifts)  # judged as they come: w1's pair first
    for name, grad in zip(("w1", "w2", "w3"), grads, strict=True):
        up, down = next(shifted).value, next(shifted).value
        numeric = ((up - down) * grad_output).sum() / (2 * step)
        expect.close(
            grad,
            numeric.reshape(grad.shape),
            what=f"d(forward)/d{name} by autograd",
            about=about + ", against central finite differences of your forward",
            hint="your forward's values and its gradient disagree: is a custom autograd "
            "Function's backward right?",
            tolerance="finite_differences",
        )


def test_forward_end_to_end(student, reference, rng, expect):
    """forward with the student's own sigmoid and weighted_sum: values, then gradients."""
    hint = "forward = sigmoid(weighted_sum(x1, x2, w1, w2, w3, b)), with your own two functions"
    _agrees_with_reference(student, reference, rng, expect, "forward", hint)
    args = list(_batch(rng, 30, torch.float64))
    about = expect.describe(x1=args[0], x2=args[1], b=0.5) + " (float64)"
    _gradients_agree(student, reference, rng, expect, args, 0.5, about)


def _gradients_agree(student, reference, rng, expect, args, b, about):
    """d(forward)/dw1, dw2, dw3 by autograd through the student's forward, against the
    reference's; returns them with the output gradient used."""
    grad_output = random_tensor(rng, args[0].shape, args[0].dtype)
    reply = student.probe(
        "call_with_gradients",
        {
            "function": "forward",
            "args": args,
            "kwargs": {"b": b},
            "wrt": [2, 3, 4],
            "grad_output": grad_output,
        },
        function="forward",
        about=about,
    )
    leaves = [w.clone().requires_grad_(True) for w in args[2:]]
    reference.forward(*args[:2], *leaves, b).backward(grad_output)
    grads = reply.result["grads"]
    for name, grad, leaf in zip(("w1", "w2", "w3"), grads, leaves, strict=True):
        expect.true(
            grad is not None,
            summary=f"no gradient flows from forward's output back to {name}",
            about=about,
            hint="compute with torch operations on the arguments; .item(), .detach() or "
            "torch.tensor(...) cut the graph",
        )
        expect.close(
            grad,
            leaf.grad,
            what=f"d(forward)/d{name} by autograd",
            about=about,
            hint="the gradient through sigmoid(weighted_sum) is wrong somewhere",
        )
    return grads, grad_output


def test_mse_loss_values(student, rng, expect):
    cases = []
    for dtype in DTYPES:
        for shape in SHAPES:
            prediction, target = (random_tensor(rng, shape, dtype) for _ in range(2))
            cases.append(
                Inputs(
                    (prediction, target),
                    about=expect.describe(prediction=prediction, target=target),
                )
            )
    for case, call in zip(cases, student.call_each("mse_loss", cases), strict=False):
        expect.close(
            call.value,
            torch.nn.MSELoss()(*case.args),
            what="mse_loss(prediction, target)",
            about=case.about,
            hint="the mean over all elements of (prediction − target)², as a "
            "0-dim tensor: use .mean(), not .sum(), and do not index or call .item()",
        )


def test_inputs_unchanged(student, rng, expect):
    x1, x2, *weights = _batch(rng, 20, torch.float32)
    for weight in weights:
        weight.requires_grad_(True)
        weight.grad = torch.full_like(weight, 0.25)
    prediction, target = random_tensor(rng, (20,), torch.float32), torch.ones(20)
    calls = [
        ("sigmoid", ("z",), (random_tensor(rng, (20,), torch.float32, 6.0),)),
        ("weighted_sum", ("x1", "x2", "w1", "w2", "w3"), (x1, x2, *weights)),
        ("forward", ("x1", "x2", "w1", "w2", "w3"), (x1, x2, *weights)),
        ("mse_loss", ("prediction", "target"), (prediction, target)),
    ]
    for function, names, args in calls:
        about = "weights that require grad and already hold a .grad" if "w1" in names else ""
        call = student.call(function, *args, about=about)
        expect.unchanged(args, call.args, names=names, what=function, about=about)
