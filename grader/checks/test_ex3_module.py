"""Hidden checks of ex3_module, the nn.Module. Points and titles: course.yml."""

from __future__ import annotations

import pytest
import torch

from grader.checks.inputs import network_weights
from grader.checks.probes import MODULE_SPECS, build_module
from grader.grading.inputs import random_tensor

pytestmark = pytest.mark.ex3_module

LAYERS = (
    ("fc1", "torch.nn.modules.linear.Linear", lambda h: (1, h)),
    ("non_linearity_fc1", "torch.nn.modules.activation.ReLU", None),
    ("fc2", "torch.nn.modules.linear.Linear", lambda h: (h, 1)),
)
FROZEN_SPECS = ("frozen_fc1_weight", "all_frozen", "tied", "batchnorm")


def _describe(student, hidden_size=None):
    inputs = {"hidden_size": hidden_size}
    about = (
        "OurFirstNeuralNetwork()"
        if hidden_size is None
        else f"OurFirstNeuralNetwork(hidden_size={hidden_size})"
    )
    return student.probe("describe_network", inputs, function=about, about=about).result, about


def _expect_layers(expect, report, hidden_size, about):
    expect.true(
        report["is_module"],
        summary="OurFirstNeuralNetwork is not an nn.Module",
        about=about,
        hint="declare it as class OurFirstNeuralNetwork(nn.Module) and call super().__init__()",
    )
    for name, kind, features in LAYERS:
        layer = report["layers"][name]
        expected = kind.rsplit(".", 1)[-1] + (f"{features(hidden_size)}" if features else "()")
        got = layer["type"].rsplit(".", 1)[-1] or "nothing"
        if features and layer["type"] == kind:
            got += f"({layer['in_features']}, {layer['out_features']})"
        expect.true(
            layer["type"] == kind
            and (
                features is None
                or (
                    (layer["in_features"], layer["out_features"]) == features(hidden_size)
                    and layer["has_bias"]
                )
            ),
            summary=f"self.{name} is not {expected}",
            about=about,
            expected=f"self.{name} = nn.{expected}" + (" with a bias" if features else ""),
            got=f"self.{name} = {got}",
            hint="create the layers in __init__ with exactly these names; use hidden_size, not 5",
        )


def test_structure(student, expect):
    report, about = _describe(student)
    _expect_layers(expect, report, 5, about)
    names = sorted(name for name, _, _ in report["parameters"])
    expect.true(
        names == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"],
        summary="the network has other parameters than fc1's and fc2's",
        about=about,
        expected="fc1.weight, fc1.bias, fc2.weight, fc2.bias",
        got=", ".join(names) or "none",
        hint="only the two Linear layers hold parameters",
    )


def test_hidden_size_respected(student, expect):
    for hidden_size in (1, 3, 16):
        report, about = _describe(student, hidden_size)
        _expect_layers(expect, report, hidden_size, about)


def _reference_run(reference, state, x, grad_output):
    network = reference.OurFirstNeuralNetwork()
    network.load_state_dict(state)
    value = network(x)
    value.backward(grad_output)
    return value.detach(), {name: p.grad for name, p in network.named_parameters()}


def _run(student, state, x, grad_output, about):
    inputs = {"state": state, "x": x, "grad_output": grad_output}
    return student.probe(
        "network_forward_backward", inputs, function="OurFirstNeuralNetwork.forward", about=about
    ).result


def test_forward_matches_reference(student, reference, rng, expect):
    runs, abouts = [], []
    for n in (1, 7, 1000):
        state = network_weights(rng)
        x = random_tensor(rng, (n, 1), torch.float32, scale=2.0)
        runs.append({"state": state, "x": x, "grad_output": torch.ones(n, 1)})
        abouts.append(f"{expect.describe(x=x)}, with the same weights loaded into both networks")
    replies = student.probe_each(
        "network_forward_backward", runs, function="OurFirstNeuralNetwork.forward", abouts=abouts
    )
    for run, about, reply in zip(runs, abouts, replies, strict=False):
        expected, _ = _reference_run(reference, run["state"], run["x"], run["grad_output"])
        expect.close(
            reply.result["value"],
            expected,
            what="model(x)",
            about=about,
            hint="forward(x) = fc2(relu(fc1(x))), returning the (N, 1) result",
        )


def test_gradients_reach_every_parameter(student, reference, rng, expect):
    state = network_weights(rng)
    x = random_tensor(rng, (64, 1), torch.float32, scale=2.0)
    grad_output = random_tensor(rng, (64, 1), torch.float32)
    about = "a random batch of 64, backpropagating a random gradient"
    result = _run(student, state, x, grad_output, about)
    _, expected = _reference_run(reference, state, x, grad_output)
    for name, want in expected.items():
        got = result["grads"].get(name)
        expect.true(
            got is not None,
            summary=f"no gradient reaches {name}",
            about=about,
            hint="compute forward with the layers themselves: no .detach(), .item(), .data or "
            "torch.no_grad() inside forward",
        )
        expect.close(
            got,
            want,
            what=f"the gradient of {name}",
            about=about,
            hint="forward must be fc2(relu(fc1(x))) so that gradients flow through all layers",
        )


MODULES = {
    "network": "OurFirstNeuralNetwork-like Linear(1, 5) → ReLU → Linear(5, 1)",
    "linear_3_4": "nn.Linear(3, 4)",
    "linear_no_bias": "nn.Linear(6, 2, bias=False)",
    "conv": "Conv2d(3, 8, 3) → ReLU → Flatten → Linear(8, 2)",
    "frozen_fc1_weight": "the network with fc1.weight frozen (requires_grad=False)",
    "all_frozen": "a network whose parameters are all frozen",
    "tied": "two Linear(4, 4) layers sharing one weight",
    "batchnorm": "Linear(2, 4) → BatchNorm1d(4), whose running statistics are buffers",
}


def _expect_counts(student, expect, once, specs, hint):
    """count_parameters on each module spec equals the count computed here."""
    abouts = [MODULES[spec] for spec in specs]
    runs = [{"spec": spec} for spec in specs]
    replies = student.probe_each(
        "count_parameters", runs, function="count_parameters", abouts=abouts
    )
    for spec, about, reply in zip(specs, abouts, replies, strict=False):
        got = reply.result["value"]
        expected = once(f"parameters of {spec}", lambda spec=spec: _trainable(build_module(spec)))
        expect.true(
            type(got) is int and got == expected,
            summary="count_parameters gave the wrong count"
            if type(got) is int
            else f"count_parameters returned a {type(got).__name__}, not an int",
            about=about,
            expected=str(expected),
            got=repr(got),
            hint=hint,
        )


def _trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_count_parameters_values(student, expect, once):
    _expect_counts(
        student,
        expect,
        once,
        [spec for spec in MODULE_SPECS if spec not in FROZEN_SPECS],
        "sum p.numel() over model.parameters() and return a Python int",
    )


def test_count_parameters_frozen(student, expect, once):
    _expect_counts(
        student,
        expect,
        once,
        FROZEN_SPECS,
        "count only parameters with requires_grad, each shared parameter once, "
        "and no buffers: iterate model.parameters(), not state_dict()",
    )
