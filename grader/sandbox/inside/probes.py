"""Small trusted routines that run a submission's code in the child and report plain data.

A hidden check asks for a probe by name with inputs; the probe calls the student's
function (or builds the student's module), and returns what happened as a dict of
tensors, numbers and strings. Probes compute nothing that decides a verdict: the check
compares their report with the reference in the grader's own process.

``build_module`` and ``ProbeNetwork`` are also used by the trusted side, so that both
sides build exactly the same modules.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from grader.sandbox.inside import watch


class ProbeError(Exception):
    """The submission does not have the shape a probe needs; the message says how."""


class MissingFunction(ProbeError):
    """The exercise module does not define a function the check calls."""


def _function(module: Any, name: str) -> Callable[..., Any]:
    function = getattr(module, name, None)
    if function is None:
        raise MissingFunction(f"{module.__name__}.py defines no {name}")
    if not callable(function):
        raise MissingFunction(
            f"{name} in {module.__name__}.py is a {type(function).__name__}, not a function"
        )
    return function


def call(module: Any, function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call a function; report its value and the arguments as they are afterwards."""
    value = _function(module, function)(*args, **kwargs)
    return {"value": value, "args": args, "kwargs": kwargs}


def parameter_defaults(module: Any, function: str) -> dict[str, Any]:
    """The default of each parameter of a function, as Python evaluated it (so ``lr=LR`` with
    ``LR = 0.1`` is 0.1): numbers, strings and None as they are, anything else as its repr."""
    defaults: dict[str, Any] = {}
    for name, parameter in inspect.signature(_function(module, function)).parameters.items():
        value = parameter.default
        if value is inspect.Parameter.empty:
            continue
        if value is None or isinstance(value, bool):
            defaults[name] = value
        elif isinstance(value, numbers.Integral):
            defaults[name] = int(value)
        elif isinstance(value, numbers.Real):
            defaults[name] = float(value)
        else:
            defaults[name] = (str(value) if isinstance(value, str) else repr(value))[:200]
    return {"defaults": defaults}


def call_watching_rng(
    module: Any, function: str, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Like ``call``, and say whether the global torch random state changed."""
    state = torch.get_rng_state()
    report = call(module, function, args, kwargs)
    report["global_rng_changed"] = not torch.equal(state, torch.get_rng_state())
    return report


def call_with_gradients(
    module: Any,
    function: str,
    args: list[Any],
    kwargs: dict[str, Any],
    wrt: list[int],
    grad_output: Tensor,
) -> dict[str, Any]:
    """Call a function on leaves that require grad; backpropagate ``grad_output``.

    ``grads[i]`` is the gradient for argument ``wrt[i]``, or None when none flows.
    """
    args = [
        arg.detach().clone().requires_grad_(True) if index in wrt else arg
        for index, arg in enumerate(args)
    ]
    value = _function(module, function)(*args, **kwargs)
    grads: list[Any] = [None] * len(wrt)
    if isinstance(value, Tensor) and value.requires_grad and value.shape == grad_output.shape:
        with watch.paused():
            grads = list(
                torch.autograd.grad(
                    value, [args[i] for i in wrt], grad_output.to(value.dtype), allow_unused=True
                )
            )
    return {"value": value, "grads": grads}


# ---- modules ----------------------------------------------------------------------


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


def count_parameters(module: Any, spec: str) -> dict[str, Any]:
    """Call the submission's ``count_parameters`` on a module built from ``spec``."""
    return {"value": _function(module, "count_parameters")(build_module(spec))}


def _network_class(module: Any) -> type:
    cls = getattr(module, "OurFirstNeuralNetwork", None)
    if not isinstance(cls, type):
        raise MissingFunction(f"{module.__name__}.py defines no class OurFirstNeuralNetwork")
    return cls


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


def train(
    module: Any, state: dict[str, Tensor], x: Tensor, y: Tensor, n_epochs: int, lr: float
) -> dict[str, Any]:
    """Train a network with the given initial weights by the submission's ``train``.

    The network starts in eval mode: ``train`` must switch it to training mode itself.
    """
    network = _probe_network(state).eval()
    value = _function(module, "train")(network, x, y, n_epochs=n_epochs, lr=lr)
    return {"value": value, "state": _state(network), "args": [x, y], "modes": network.modes}


def evaluate(module: Any, state: dict[str, Tensor], x: Tensor, y: Tensor) -> dict[str, Any]:
    """Run the submission's ``evaluate``; report the modes it ran in and the state after."""
    network = _probe_network(state)
    for parameter in network.parameters():
        parameter.grad = torch.full_like(parameter, 0.5)  # evaluate must leave these alone
    value = _function(module, "evaluate")(network, x, y)
    grads = {name: p.grad for name, p in network.named_parameters()}
    return {"value": value, "state": _state(network), "grads": grads, "modes": network.modes}


def plot_predictions(module: Any, state: dict[str, Tensor], x: Tensor, y: Tensor) -> dict[str, Any]:
    """Run the submission's ``plot_predictions`` and describe the figure it returns."""
    network = _probe_network(state)
    figure = _function(module, "plot_predictions")(network, x, y)
    return {"figure": describe_figure(figure), "modes": network.modes}


def describe_figure(figure: Any) -> dict[str, Any]:
    """The content of a matplotlib figure as data: axes, labels, series and their points."""
    from matplotlib.figure import Figure

    if not isinstance(figure, Figure):
        return {"type": f"{type(figure).__module__}.{type(figure).__name__}", "axes": []}
    axes = []
    for ax in figure.get_axes():
        series = []
        for line in ax.get_lines():
            series.append(
                ["line", _label(line), _floats(line.get_xdata()), _floats(line.get_ydata())]
            )
        for collection in ax.collections:
            offsets = torch.as_tensor(collection.get_offsets(), dtype=torch.float64).reshape(-1, 2)
            series.append(["scatter", _label(collection), offsets[:, 0], offsets[:, 1]])
        legend = ax.get_legend()
        axes.append(
            {
                "title": ax.get_title(),
                "xlabel": ax.get_xlabel(),
                "ylabel": ax.get_ylabel(),
                "legend": None if legend is None else [t.get_text() for t in legend.get_texts()],
                "series": series,
            }
        )
    return {"type": "matplotlib.figure.Figure", "axes": axes}


def _label(artist: Any) -> str:
    label = str(artist.get_label())
    return "" if label.startswith("_") else label  # "_child0" and friends mean "no label"


def _floats(values: Any) -> Tensor:
    try:
        return torch.as_tensor([float(v) for v in values], dtype=torch.float64)
    except (TypeError, ValueError):  # categories or dates: not numbers we can compare
        return torch.empty(0, dtype=torch.float64)


PROBES: dict[str, Callable[..., dict[str, Any]]] = {
    probe.__name__: probe
    for probe in (
        call,
        call_watching_rng,
        call_with_gradients,
        parameter_defaults,
        count_parameters,
        describe_network,
        network_forward_backward,
        train,
        evaluate,
        plot_predictions,
    )
}

# What each probe's report holds: the grader checks every reply against this, since a
# hostile child could send anything (``object``: any value, checked by the checks).
RESULT_TYPES: dict[str, dict[str, type]] = {
    "call": {"value": object, "args": list, "kwargs": dict},
    "call_watching_rng": {
        "value": object,
        "args": list,
        "kwargs": dict,
        "global_rng_changed": bool,
    },
    "call_with_gradients": {"value": object, "grads": list},
    "parameter_defaults": {"defaults": dict},
    "count_parameters": {"value": object},
    "describe_network": {"is_module": bool, "layers": dict, "parameters": list},
    "network_forward_backward": {"value": object, "grads": dict},
    "train": {"value": object, "state": dict, "args": list, "modes": list},
    "evaluate": {"value": object, "state": dict, "grads": dict, "modes": list},
    "plot_predictions": {"figure": dict, "modes": list},
}
