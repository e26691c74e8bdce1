"""Small trusted routines that run a submission's code in the child and report plain data.

A hidden check asks for a probe by name with inputs; the probe calls the student's
function (or builds the student's module), and returns what happened as a dict of
tensors, numbers and strings. Probes compute nothing that decides a verdict: the check
compares their report with the reference in the grader's own process.

Probes are registered by name with :func:`probe`, which also declares what their report
holds. This module has the generic ones (call a function, its defaults, its gradients,
describe a figure); a course adds its own in its checks package (``probes.py``), which the
zygote imports before it forks and the grader imports to know the reports' fields.
"""

from __future__ import annotations

import importlib
import inspect
import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from grader.sandbox.inside import watch


class ProbeError(Exception):
    """The submission does not have the shape a probe needs; the message says how."""


class MissingFunction(ProbeError):
    """The exercise module does not define a function the check calls."""


@dataclass(frozen=True)
class Probe:
    run: Callable[..., dict[str, Any]]
    # What its report holds: the grader checks every reply against this, since a hostile
    # child could send anything (``object``: any value, checked by the checks).
    reply: dict[str, type]


PROBES: dict[str, Probe] = {}

_Run = Callable[..., dict[str, Any]]


def probe(**reply: type) -> Callable[[_Run], _Run]:
    """Register a probe under its function's name, with the fields and types of its report."""

    def register(run: _Run) -> _Run:
        if run.__name__ in PROBES:
            raise ValueError(f"two probes are named {run.__name__}")
        PROBES[run.__name__] = Probe(run, reply)
        return run

    return register


def load(modules: Iterable[str]) -> None:
    """Import a course's probe modules, which register their probes as they are imported."""
    for name in modules:
        importlib.import_module(name)


def function_of(module: Any, name: str) -> Callable[..., Any]:
    """The submission's function ``name``, or a MissingFunction that says what is wrong."""
    function = getattr(module, name, None)
    if function is None:
        raise MissingFunction(f"{module.__name__}.py defines no {name}")
    if not callable(function):
        raise MissingFunction(
            f"{name} in {module.__name__}.py is a {type(function).__name__}, not a function"
        )
    return function


@probe(value=object, args=list, same=list)
def call(module: Any, function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call a function; report its value and the arguments as they are afterwards, but for
    those exactly as they were sent (``same``: True there, and the argument None): most
    calls change nothing, and sending every input back doubled what a call cost."""
    before = [_snapshot(arg) for arg in args]
    value = function_of(module, function)(*args, **kwargs)
    same = [_unchanged(snapshot, arg) for snapshot, arg in zip(before, args, strict=True)]
    sent_back = [None if unchanged else arg for unchanged, arg in zip(same, args, strict=True)]
    return {"value": value, "args": sent_back, "same": same}


@dataclass(frozen=True)
class _Tensor:
    """What a tensor argument held before the call."""

    data: Tensor
    requires_grad: bool
    grad: Tensor | None


@dataclass(frozen=True)
class _Tensors:
    """What a tuple or list of tensor arguments held before the call."""

    kind: type
    items: list[Tensor]
    each: list[_Tensor | None]


# Bound when the zygote imports this, before any submission: one that rebinds torch.equal
# or Tensor.clone does not change what the comparison below means. (A hostile one can make
# the child say anything, as it always could by sending the inputs back untouched.)
_equal, _clone, _detach = torch.equal, torch.Tensor.clone, torch.Tensor.detach


def _snapshot(value: Any) -> _Tensor | _Tensors | None:
    """What a tensor argument (or a tuple or list of them) holds, to compare afterwards; None
    for anything else, which is always sent back."""
    if type(value) is torch.Tensor and value.is_leaf:
        grad = None if value.grad is None else _clone(_detach(value.grad))
        return _Tensor(_clone(_detach(value)), value.requires_grad, grad)
    if type(value) in (tuple, list) and all(type(v) is torch.Tensor for v in value):
        return _Tensors(type(value), list(value), [_snapshot(v) for v in value])  # type: ignore[misc]
    return None


def _unchanged(snapshot: _Tensor | _Tensors | None, value: Any) -> bool:
    """True only if ``value`` holds exactly what ``snapshot`` recorded: the same items, values
    (a NaN counts as a change), dtype, shape, requires_grad and .grad."""
    if isinstance(snapshot, _Tensors):
        return (
            type(value) is snapshot.kind
            and len(value) == len(snapshot.items)
            and all(a is b for a, b in zip(value, snapshot.items, strict=True))
            and all(_unchanged(s, v) for s, v in zip(snapshot.each, value, strict=True))
        )
    if snapshot is None or not (type(value) is torch.Tensor and value.is_leaf):
        return False
    grad = value.grad
    return (
        value.requires_grad == snapshot.requires_grad
        and (grad is None) == (snapshot.grad is None)
        and _same_tensor(snapshot.data, _detach(value))
        and (grad is None or _same_tensor(snapshot.grad, _detach(grad)))
    )


def _same_tensor(before: Tensor, now: Tensor) -> bool:
    return before.dtype == now.dtype and before.shape == now.shape and _equal(before, now)


@probe(defaults=dict)
def parameter_defaults(module: Any, function: str) -> dict[str, Any]:
    """The default of each parameter of a function, as Python evaluated it (so ``lr=LR`` with
    ``LR = 0.1`` is 0.1): numbers, strings and None as they are, anything else as its repr."""
    defaults: dict[str, Any] = {}
    for name, parameter in inspect.signature(function_of(module, function)).parameters.items():
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


@probe(value=object, args=list, same=list, global_rng_changed=bool)
def call_watching_rng(
    module: Any, function: str, args: list[Any], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Like ``call``, and say whether the global torch random state changed."""
    state = torch.get_rng_state()
    report = call(module, function, args, kwargs)
    report["global_rng_changed"] = not torch.equal(state, torch.get_rng_state())
    return report


@probe(value=object, grads=list)
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
    value = function_of(module, function)(*args, **kwargs)
    grads: list[Any] = [None] * len(wrt)
    if isinstance(value, Tensor) and value.requires_grad and value.shape == grad_output.shape:
        with watch.paused():
            grads = list(
                torch.autograd.grad(
                    value, [args[i] for i in wrt], grad_output.to(value.dtype), allow_unused=True
                )
            )
    return {"value": value, "grads": grads}


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
