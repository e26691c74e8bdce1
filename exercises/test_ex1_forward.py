"""Self-checks for exercise 1. Run: pytest -m ex1_forward

Small, fixed inputs whose answers you can work out on paper. Passing these is a good
sign, not a guarantee: the grader checks more shapes, dtypes and edge cases.
"""

import math

import pytest
import torch
from ex1_forward import forward, mse_loss, sigmoid, weighted_sum
from selfcheck import expect, expect_close

pytestmark = pytest.mark.ex1_forward


def test_sigmoid_of_zero_is_one_half():
    expect_close(
        sigmoid(torch.tensor(0.0)),
        torch.tensor(0.5),
        call="sigmoid(tensor(0.))",
        hint="σ(0) = 1 / (1 + e^0) = 1 / 2",
    )


def test_sigmoid_on_a_few_values():
    z = torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])
    expected = torch.tensor([1 / (1 + math.exp(-v)) for v in z.tolist()])
    expect_close(
        sigmoid(z),
        expected,
        call=f"sigmoid({z})",
        hint="σ(z) = 1 / (1 + e^(−z)); note σ(−z) = 1 − σ(z)",
    )


def test_sigmoid_keeps_shape_and_dtype():
    z = torch.zeros(2, 3, dtype=torch.float64)
    expect_close(
        sigmoid(z),
        torch.full((2, 3), 0.5, dtype=torch.float64),
        call="sigmoid(torch.zeros(2, 3, dtype=torch.float64))",
        hint="work elementwise with tensor operations and keep the input's dtype",
    )


def test_sigmoid_is_finite_for_huge_inputs():
    z = torch.tensor([-1e4, 1e4], requires_grad=True)
    value = sigmoid(z)
    expect_close(
        value,
        torch.tensor([0.0, 1.0]),
        call="sigmoid(tensor([-1e4, 1e4]))",
        hint="e^(1e4) overflows to inf; use 1/(1+e^(−z)) for z ≥ 0 and e^z/(1+e^z) for z < 0",
    )
    value.sum().backward()
    expect_close(
        z.grad,
        torch.tensor([0.0, 0.0]),
        call="the gradient of sigmoid at tensor([-1e4, 1e4]) (by autograd)",
        hint="inf/inf is nan: make sure neither branch of torch.where ever sees exp of a "
        "large positive number, even where that branch is not used (clamp its input)",
    )


def test_sigmoid_does_not_use_the_builtin(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("this check forbids the built-in sigmoid: write the formula yourself")

    for owner, name in [
        (torch, "sigmoid"),
        (torch.Tensor, "sigmoid"),
        (torch.special, "expit"),
        (torch.nn.functional, "sigmoid"),
        (torch.nn.Sigmoid, "forward"),
    ]:
        monkeypatch.setattr(owner, name, forbidden)
    expect_close(
        sigmoid(torch.tensor([0.0, 1.0])),
        torch.tensor([0.5, 1 / (1 + math.exp(-1))]),
        call="sigmoid(tensor([0., 1.])) with torch.sigmoid and its relatives switched off",
        hint="build σ from torch.exp, arithmetic and torch.where",
    )


def test_sigmoid_leaves_its_input_alone():
    z = torch.tensor([-1.0, 0.0, 3.0])
    sigmoid(z)
    expect(
        torch.equal(z, torch.tensor([-1.0, 0.0, 3.0])),
        call="sigmoid(z) with z = tensor([-1., 0., 3.])",
        expected="z unchanged afterwards",
        got=f"z = {z}",
        hint="in-place operations (names ending in _, or `z[...] = `) change the caller's tensor",
    )


def test_weighted_sum_by_hand():
    expect_close(
        weighted_sum(
            torch.tensor(2.0),
            torch.tensor(3.0),
            torch.tensor(0.5),
            torch.tensor(-1.0),
            torch.tensor(0.25),
        ),
        torch.tensor(2.0 * 0.5 + 3.0 * -1.0 + 1.0 * 0.25),
        call="weighted_sum(x1=2, x2=3, w1=0.5, w2=-1, w3=0.25)",
        hint="H1 = x1·w1 + x2·w2 + b·w3 with b = 1 by default",
    )


def test_weighted_sum_on_a_batch_with_another_bias():
    x1, x2 = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 1.0, 2.0])
    w1, w2, w3 = torch.tensor(1.0), torch.tensor(10.0), torch.tensor(100.0)
    expect_close(
        weighted_sum(x1, x2, w1, w2, w3, b=-0.5),
        torch.tensor([1.0 - 50.0, 10.0 - 50.0, 2.0 + 20.0 - 50.0]),
        call=f"weighted_sum({x1}, {x2}, w1=1, w2=10, w3=100, b=-0.5)",
        hint="broadcasting multiplies every example by the same 0-dim weight; use b, not 1",
    )


def test_forward_is_sigmoid_of_weighted_sum():
    x1, x2 = torch.tensor([1.0, -1.0]), torch.tensor([2.0, 0.5])
    w1, w2, w3 = torch.tensor(0.3), torch.tensor(-0.2), torch.tensor(0.1)
    sums = [1.0 * 0.3 + 2.0 * -0.2 + 0.1, -1.0 * 0.3 + 0.5 * -0.2 + 0.1]
    expect_close(
        forward(x1, x2, w1, w2, w3),
        torch.tensor([1 / (1 + math.exp(-s)) for s in sums]),
        call=f"forward({x1}, {x2}, w1=0.3, w2=-0.2, w3=0.1)",
        hint="forward = sigmoid(weighted_sum(...)); pass b along",
    )


def test_mse_loss_by_hand():
    expect_close(
        mse_loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 1.0])),
        torch.tensor((0.0 + 1.0 + 4.0) / 3),
        call="mse_loss(tensor([1., 2., 3.]), tensor([1., 1., 1.]))",
        hint="the mean of the squared differences, a 0-dim tensor (not the sum, not a list)",
    )


def test_mse_loss_matches_torch():
    prediction = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    target = torch.tensor([[0.0, 1.0], [2.0, -3.0]])
    expect_close(
        mse_loss(prediction, target),
        torch.nn.MSELoss()(prediction, target),
        call=f"mse_loss({prediction}, {target})",
        hint="average over all elements, whatever the shape",
    )
