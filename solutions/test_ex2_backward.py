"""Self-checks for exercise 2. Run: pytest -m ex2_backward

The worked example of ``backward``'s docstring, small batches you can follow by hand,
and autograd as a second opinion.
"""

import pytest
import torch
from ex2_backward import (
    autograd_gradients,
    backward,
    fit_by_hand,
    forward,
    mse_loss,
    sgd_step,
    sigmoid_grad,
)
from selfcheck import expect, expect_close

pytestmark = pytest.mark.ex2_backward

# The worked example: x1 = 1, x2 = 2, all weights 0, target 1, b = 1.
# H1 = 0, ŷ = 0.5, dL/dŷ = 2·(0.5 − 1) = −1, σ'(0) = 0.25, dL/dH1 = −0.25.
EXAMPLE = dict(
    x1=torch.tensor([1.0]),
    x2=torch.tensor([2.0]),
    w1=torch.tensor(0.0),
    w2=torch.tensor(0.0),
    w3=torch.tensor(0.0),
    target=torch.tensor([1.0]),
)
EXAMPLE_GRADIENTS = (torch.tensor(-0.25), torch.tensor(-0.5), torch.tensor(-0.25))


def autograd_reference(x1, x2, w1, w2, w3, target, b=1.0):
    """Autograd's answer, for comparison."""
    weights = [w.clone().requires_grad_(True) for w in (w1, w2, w3)]
    mse_loss(forward(x1, x2, *weights, b), target).backward()
    return tuple(w.grad for w in weights)


def test_sigmoid_grad_at_zero_and_far_away():
    expect_close(
        sigmoid_grad(torch.tensor([0.0, 1e4, -1e4])),
        torch.tensor([0.25, 0.0, 0.0]),
        call="sigmoid_grad(tensor([0., 1e4, -1e4]))",
        hint="σ'(z) = σ(z)·(1 − σ(z)): 0.5·0.5 at 0; it must stay finite far away",
    )


def expect_gradients(got, expected, *, call, hint):
    """The three gradients, one by one, so a message names the wrong one."""
    __tracebackhide__ = True
    for name, gradient, want in zip(("dL/dw1", "dL/dw2", "dL/dw3"), got, expected, strict=True):
        expect_close(gradient, want, call=f"{name} from {call}", hint=hint)


def test_backward_worked_example():
    expect_gradients(
        backward(**EXAMPLE),
        EXAMPLE_GRADIENTS,
        call="backward(x1=[1], x2=[2], w1=w2=w3=0, target=[1])",
        hint="dL/dH1 = 2·(ŷ − y)/N · σ'(H1) = −0.25 here; then multiply by x1, x2 and b",
    )


def test_backward_agrees_with_autograd_on_a_batch():
    inputs = dict(
        x1=torch.tensor([0.5, -1.0, 2.0]),
        x2=torch.tensor([1.0, 0.0, -0.5]),
        w1=torch.tensor(0.3),
        w2=torch.tensor(-0.7),
        w3=torch.tensor(0.1),
        target=torch.tensor([1.0, 0.0, 1.0]),
        b=2.0,
    )
    expect_gradients(
        backward(**inputs),
        autograd_reference(**inputs),
        call="backward on a batch of 3 with b = 2",
        hint="sum the per-example terms over the batch, divide by N once (the mean), "
        "and use b for dH1/dw3",
    )


def test_backward_needs_no_autograd():
    with torch.no_grad():
        got = backward(**EXAMPLE)
    expect_gradients(
        got,
        EXAMPLE_GRADIENTS,
        call="backward(...) under torch.no_grad()",
        hint="compute the chain rule with tensor arithmetic; .backward() needs a graph "
        "and there is none under torch.no_grad()",
    )


def test_autograd_gradients_worked_example():
    expect_gradients(
        autograd_gradients(**EXAMPLE),
        EXAMPLE_GRADIENTS,
        call="autograd_gradients(x1=[1], x2=[2], w1=w2=w3=0, target=[1])",
        hint="leaf copies with requires_grad=True, loss.backward(), then read .grad",
    )


def test_autograd_gradients_leaves_the_weights_alone():
    weights = [torch.tensor(0.0) for _ in range(3)]
    autograd_gradients(EXAMPLE["x1"], EXAMPLE["x2"], *weights, EXAMPLE["target"])
    expect(
        all(not w.requires_grad and w.grad is None for w in weights),
        call="autograd_gradients(...) with weights that do not require grad",
        expected="the caller's weights still without requires_grad and .grad",
        got=[(w.requires_grad, w.grad) for w in weights],
        hint="work on copies: w.detach().clone().requires_grad_()",
    )


def test_sgd_step_by_hand():
    weights = (torch.tensor(1.0), torch.tensor(-2.0), torch.tensor(0.5))
    grads = (torch.tensor(0.5), torch.tensor(-1.0), torch.tensor(0.0))
    got = sgd_step(weights, grads, lr=0.1)
    expect(
        isinstance(got, tuple) and len(got) == 3,
        call="sgd_step((1, -2, 0.5), (0.5, -1, 0), lr=0.1)",
        expected="a tuple of 3 tensors",
        got=got,
        hint="return tuple(...) of the new weights",
    )
    for w, expected in zip(got, (0.95, -1.9, 0.5), strict=True):
        expect_close(
            w,
            torch.tensor(expected),
            call="sgd_step((1, -2, 0.5), (0.5, -1, 0), lr=0.1)",
            hint="w − lr·g: step against the gradient",
        )
    expect(
        weights[0].item() == 1.0,
        call="sgd_step(...)",
        expected="the input weights unchanged",
        got=weights,
        hint="w - lr * g makes a new tensor; w -= lr * g changes the caller's",
    )


def test_fit_by_hand_brings_the_loss_down():
    x1 = torch.tensor([0.0, 1.0, 2.0, 3.0])
    x2 = torch.tensor([1.0, 0.0, 1.0, 0.0])
    target = torch.tensor([0.0, 0.0, 1.0, 1.0])
    weights = (torch.tensor(0.0), torch.tensor(0.0), torch.tensor(0.0))
    _, losses = fit_by_hand(x1, x2, target, weights, lr=0.5, n_steps=50)
    expect(
        len(losses) == 50 and all(type(loss) is float for loss in losses),
        call="fit_by_hand(..., n_steps=50)",
        expected="50 losses, each a Python float",
        got=f"{len(losses)} losses of types {sorted({type(loss).__name__ for loss in losses})}",
        hint="append loss.item() once per step",
    )
    expect(
        abs(losses[0] - 0.25) < 1e-6 and losses[-1] < losses[0],
        call="fit_by_hand(..., n_steps=50) starting from zero weights",
        expected="losses[0] = 0.25 (ŷ = 0.5 everywhere) and a smaller last loss",
        got=f"losses[0] = {losses[0]}, losses[-1] = {losses[-1]}",
        hint="record the loss before each step, and step with sgd_step(weights, grads, lr)",
    )
