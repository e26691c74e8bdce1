"""Self-checks for exercise 3. Run: pytest -m ex3_module"""

import pytest
import torch
from ex3_module import OurFirstNeuralNetwork, count_parameters
from selfcheck import expect, expect_close
from torch import nn

pytestmark = pytest.mark.ex3_module


def test_layers_are_the_right_kind_and_size():
    model = OurFirstNeuralNetwork()
    layers = {name: getattr(model, name, None) for name in ("fc1", "non_linearity_fc1", "fc2")}
    expect(
        isinstance(layers["fc1"], nn.Linear)
        and (layers["fc1"].in_features, layers["fc1"].out_features) == (1, 5)
        and isinstance(layers["non_linearity_fc1"], nn.ReLU)
        and isinstance(layers["fc2"], nn.Linear)
        and (layers["fc2"].in_features, layers["fc2"].out_features) == (5, 1),
        call="OurFirstNeuralNetwork()",
        expected="fc1 = Linear(1, 5), non_linearity_fc1 = ReLU(), fc2 = Linear(5, 1)",
        got=layers,
        hint="assign the layers to self in __init__, with exactly these names",
    )


def test_forward_keeps_one_column():
    model = OurFirstNeuralNetwork()
    got = model(torch.zeros(7, 1))
    expect(
        isinstance(got, torch.Tensor) and tuple(got.shape) == (7, 1),
        call="OurFirstNeuralNetwork()(torch.zeros(7, 1))",
        expected="a tensor of shape (7, 1)",
        got=tuple(got.shape) if isinstance(got, torch.Tensor) else got,
        hint="a batch of N rows in, N rows out: fc1, then ReLU, then fc2",
    )


def test_forward_by_hand():
    model = OurFirstNeuralNetwork()
    with torch.no_grad():
        # fc1 makes [x, −x, 2x, 0, 1]; ReLU keeps the positive ones; fc2 adds them up.
        model.fc1.weight.copy_(torch.tensor([[1.0], [-1.0], [2.0], [0.0], [0.0]]))
        model.fc1.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0]))
        model.fc2.weight.copy_(torch.ones(1, 5))
        model.fc2.bias.copy_(torch.tensor([0.5]))
    x = torch.tensor([[3.0], [-2.0]])
    # x = 3: relu([3, −3, 6, 0, 1]) sums to 10, + 0.5. x = −2: relu([−2, 2, −4, 0, 1]) = 3, + 0.5.
    expect_close(
        model(x),
        torch.tensor([[10.5], [3.5]]),
        call="model(tensor([[3.], [-2.]])) with weights set by hand (see the check's comments)",
        hint="forward(x) = fc2(relu(fc1(x))): is the ReLU between the two layers?",
    )


def test_count_parameters_of_a_few_modules():
    for module, expected, description in [
        (OurFirstNeuralNetwork(), 16, "OurFirstNeuralNetwork(): 5 + 5 in fc1, 5 + 1 in fc2"),
        (nn.Linear(3, 4), 16, "nn.Linear(3, 4): 12 weights + 4 biases"),
        (nn.Linear(3, 4, bias=False), 12, "nn.Linear(3, 4, bias=False)"),
    ]:
        got = count_parameters(module)
        expect(
            got == expected and isinstance(got, int),
            call=f"count_parameters({description})",
            expected=expected,
            got=got,
            hint="add p.numel() over module.parameters() and return a Python int",
        )


def test_count_parameters_skips_frozen_ones():
    model = OurFirstNeuralNetwork()
    model.fc1.weight.requires_grad_(False)
    got = count_parameters(model)
    expect(
        got == 11,
        call="count_parameters(model) with model.fc1.weight frozen",
        expected=11,
        got=got,
        hint="only parameters with requires_grad are trained",
    )
