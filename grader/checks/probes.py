"""The course's probes: build and train the student's network, run its evaluate and plot.

Registered by name with ``@probe`` (grader/sandbox/inside/probes.py); the zygote imports this
module before it forks, so it runs beside the student's code and must hold nothing secret:
no reference values, no hidden inputs. ``build_module`` and ``ProbeNetwork`` are also used by
the hidden checks, so that both sides build exactly the same modules.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from grader.sandbox.inside import watch
from grader.sandbox.inside.probes import (
    MissingFunction,
    ProbeError,
    describe_figure,
    function_of,
    probe,
)


class ProbeNetwork(nn.Module):
    """The course's network (Linear(1, h) → ReLU → Linear(h, 1)), recording how it is used.

    Each forward records whether the module was in training mode and whether autograd
    was on, so a check can tell whether ``evaluate`` switched to eval mode and no_grad.
    """

    def __init__(self, hidden_size: int = 5) -> None:
        super().__init__()
        self.fc1 = nn.Linear(1, hidden_size)
        self.non_linearity_fc1 = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, 1)
        self.modes: list[list[bool]] = []

    def forward(self, x: Tensor) -> Tensor:
        if len(self.modes) < 1000:
            self.modes.append([self.training, torch.is_grad_enabled()])
        return self.fc2(self.non_linearity_fc1(self.fc1(x)))


def build_module(spec: str) -> nn.Module:
    """Build one of a fixed set of modules by name (modules cannot cross the boundary).

    Only which parameters exist matters, not their random initial values.
    """
    if spec == "network":
        return ProbeNetwork()
    if spec == "linear_3_4":
        return nn.Linear(3, 4)
    if spec == "linear_no_bias":
        return nn.Linear(6, 2, bias=False)
    if spec == "conv":
        return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    if spec == "frozen_fc1_weight":
        module = ProbeNetwork()
        module.fc1.weight.requires_grad_(False)
        return module
    if spec == "all_frozen":
        module = ProbeNetwork(hidden_size=7)
        module.requires_grad_(False)
        return module
    if spec == "tied":
        first, second = nn.Linear(4, 4), nn.Linear(4, 4)
        second.weight = first.weight  # one parameter used twice: trained once
        return nn.Sequential(first, nn.ReLU(), second)
    if spec == "batchnorm":
        return nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4))  # has buffers too
    raise ValueError(f"unknown module spec {spec!r}")


MODULE_SPECS = (
    "network",
    "linear_3_4",
    "linear_no_bias",
    "conv",
    "frozen_fc1_weight",
    "all_frozen",
    "tied",
    "batchnorm",
)


@probe(value=object)
def count_parameters(module: Any, spec: str) -> dict[str, Any]:
    """Call the submission's ``count_parameters`` on a module built from ``spec``."""
    return {"value": function_of(module, "count_parameters")(build_module(spec))}


def _network_class(module: Any) -> type:
    cls = getattr(module, "OurFirstNeuralNetwork", None)
    if not isinstance(cls, type):
        raise MissingFunction(f"{module.__name__}.py defines no class OurFirstNeuralNetwork")
    return cls


@probe(is_module=bool, layers=dict, parameters=list)
def describe_network(module: Any, hidden_size: int | None) -> dict[str, Any]:
    """Build the submission's OurFirstNeuralNetwork and describe its layers and parameters."""
    cls = _network_class(module)
    network = cls() if hidden_size is None else cls(hidden_size=hidden_size)
    layers = {}
    for name in ("fc1", "non_linearity_fc1", "fc2"):
        layer = getattr(network, name, None)
        layers[name] = {
            "type": "" if layer is None else f"{type(layer).__module__}.{type(layer).__name__}",
            "in_features": getattr(layer, "in_features", None),
            "out_features": getattr(layer, "out_features", None),
            "has_bias": getattr(layer, "bias", None) is not None,
        }
    is_module = isinstance(network, nn.Module)
    parameters = (
        [[name, list(p.shape), p.requires_grad] for name, p in network.named_parameters()]
        if is_module
        else []
    )
    return {"is_module": is_module, "layers": layers, "parameters": parameters}


@probe(value=object, grads=dict)
def network_forward_backward(
    module: Any, state: dict[str, Tensor], x: Tensor, grad_output: Tensor
) -> dict[str, Any]:
    """Load ``state`` into the submission's network, run forward on x, backpropagate."""
    network = _network_class(module)()
    if not isinstance(network, nn.Module):
        raise ProbeError("OurFirstNeuralNetwork must inherit from nn.Module")
    _load(network, state)
    value = network(x)
    grads: dict[str, Any] = {}
    if isinstance(value, Tensor) and value.requires_grad and value.shape == grad_output.shape:
        named = dict(network.named_parameters())
        with watch.paused():
            found = torch.autograd.grad(value, list(named.values()), grad_output, allow_unused=True)
        grads = dict(zip(named, found, strict=True))
    return {"value": value, "grads": grads}


def _load(network: nn.Module, state: dict[str, Tensor]) -> None:
    """Load the grader's weights; say precisely which names or shapes do not match."""
    have = {name: tuple(value.shape) for name, value in network.state_dict().items()}
    want = {name: tuple(value.shape) for name, value in state.items()}
    if have != want:
        missing = [name for name in want if name not in have]
        extra = [name for name in have if name not in want]
        reshaped = [
            f"{n} is {have[n]}, not {want[n]}" for n in want if n in have and have[n] != want[n]
        ]
        problems = [
            *([f"missing {', '.join(missing)}"] if missing else []),
            *([f"unexpected {', '.join(extra)}"] if extra else []),
            *reshaped,
        ]
        raise ProbeError(
            "the network's parameters should be exactly fc1.weight, fc1.bias, fc2.weight and "
            f"fc2.bias: {'; '.join(problems)}"
        )
    network.load_state_dict(state, strict=True)


def _probe_network(state: dict[str, Tensor]) -> ProbeNetwork:
    network = ProbeNetwork(hidden_size=state["fc1.weight"].shape[0])
    _load(network, state)
    return network


def _state(network: nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().clone() for name, value in network.state_dict().items()}


@probe(value=object, state=dict, args=list, modes=list)
def train(
    module: Any, state: dict[str, Tensor], x: Tensor, y: Tensor, n_epochs: int, lr: float
) -> dict[str, Any]:
    """Train a network with the given initial weights by the submission's ``train``.

    The network starts in eval mode: ``train`` must switch it to training mode itself.
    """
    network = _probe_network(state).eval()
    value = function_of(module, "train")(network, x, y, n_epochs=n_epochs, lr=lr)
    return {"value": value, "state": _state(network), "args": [x, y], "modes": network.modes}


@probe(value=object, state=dict, grads=dict, modes=list)
def evaluate(module: Any, state: dict[str, Tensor], x: Tensor, y: Tensor) -> dict[str, Any]:
    """Run the submission's ``evaluate``; report the modes it ran in and the state after."""
    network = _probe_network(state)
    for parameter in network.parameters():
        parameter.grad = torch.full_like(parameter, 0.5)  # evaluate must leave these alone
    value = function_of(module, "evaluate")(network, x, y)
    grads = {name: p.grad for name, p in network.named_parameters()}
    return {"value": value, "state": _state(network), "grads": grads, "modes": network.modes}


@probe(figure=dict, modes=list)
def plot_predictions(module: Any, state: dict[str, Tensor], x: Tensor, y: Tensor) -> dict[str, Any]:
    """Run the submission's ``plot_predictions`` and describe the figure it returns."""
    network = _probe_network(state)
    figure = function_of(module, "plot_predictions")(network, x, y)
    return {"figure": describe_figure(figure), "modes": network.modes}
