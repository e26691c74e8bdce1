"""The course's feedback figures, as data gathered from the sandbox (drawn by drawing.py).

``collect`` runs the submission's own functions (in its sandbox) on fixed inputs made
for showing, not the hidden checks' inputs, and keeps what came back as plain numbers.
A figure whose data the submission could not produce carries the reason instead, in words.
The grader calls ``collect`` by name (grader.course.course_module); it is trusted code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import torch

from grader.checks.inputs import neuron_inputs
from grader.course import Course
from grader.grading.expect import describe_value
from grader.sandbox.host.client import SandboxFailure, StudentError, SubmissionSandbox

FIGURE_SEED = 42  # the inputs of the figures: fixed, and not those of any check


_Collector = Callable[[Callable[..., dict], ModuleType], list[dict[str, Any]]]
COLLECTORS: dict[str, list[_Collector]] = {}


def collects(exercise: str) -> Callable[[_Collector], _Collector]:
    """Register a collector of ``exercise``'s figures: (run, reference) -> [figure, ...]."""

    def register(collector: _Collector) -> _Collector:
        COLLECTORS.setdefault(exercise, []).append(collector)
        return collector

    return register


class Missing(Exception):
    """The submission did not give what a figure needs; the message says why."""


def collect(
    sandbox: SubmissionSandbox,
    course: Course,
    reference: Callable[[str], ModuleType],
    exercises: list[str],
) -> dict[str, list[dict[str, Any]]]:
    """Plain data for each exercise's figures: ``{exercise: [figure, ...]}``."""
    figures: dict[str, list[dict[str, Any]]] = {}
    for exercise in exercises:
        limits = course.exercise(exercise).limits
        run = runner(sandbox, exercise, limits)
        for make in COLLECTORS.get(exercise, []):
            figures.setdefault(exercise, []).extend(make(run, reference(exercise)))
    return figures


def runner(sandbox: SubmissionSandbox, exercise: str, limits: Any) -> Callable[..., dict]:
    def run(probe: str, inputs: dict[str, Any], function: str) -> dict[str, Any]:
        try:
            return sandbox.run(exercise, probe, inputs, limits).result
        except StudentError as error:
            raise Missing(f"{function} raised {error.type}: {error.message[:200]}") from None
        except SandboxFailure as failure:
            raise Missing(f"{function} {failure}") from None

    return run


def figure(identifier: str, title: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return {"id": identifier, "title": title, "data": build()}
    except Missing as missing:
        return {"id": identifier, "title": title, "missing": str(missing)}
    except Exception as error:  # whatever came back could not be used: say so, go on
        reason = f"what your code returned could not be used ({type(error).__name__})"
        return {"id": identifier, "title": title, "missing": reason}


def _floats(value: Any, what: str, length: int | None = None) -> list[float | None]:
    """A tensor or list as JSON-safe floats (None where not finite)."""
    if isinstance(value, list) and all(isinstance(v, int | float) for v in value):
        value = torch.tensor(value, dtype=torch.float64)
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise Missing(f"{what} is {describe_value(value)}, not a tensor of numbers")
    flat = value.detach().double().flatten()
    if length is not None and flat.numel() != length:
        raise Missing(f"{what} has {flat.numel()} values, not {length}")
    return [v if math.isfinite(v) else None for v in flat.tolist()]


@collects("ex1_forward")
def _sigmoid_curve(run: Callable[..., dict], reference: ModuleType) -> list[dict[str, Any]]:
    z = torch.linspace(-10, 10, 401, dtype=torch.float64)
    far = torch.logspace(1, 4, 31, dtype=torch.float64)
    far = torch.cat([-far.flip(0), far]).float()  # ±10 … ±1e4 in float32, where exp overflows first

    def build() -> dict[str, Any]:
        value = run("call", {"function": "sigmoid", "args": [z], "kwargs": {}}, "sigmoid")["value"]
        outside = run("call", {"function": "sigmoid", "args": [far], "kwargs": {}}, "sigmoid")
        beyond = _floats(outside["value"], "sigmoid(z)", far.numel())
        return {
            "z": z.tolist(),
            "yours": _floats(value, "sigmoid(z)", 401),
            "true": torch.sigmoid(z).tolist(),
            "not_finite_at": [x for x, y in zip(far.tolist(), beyond, strict=True) if y is None],
        }

    return [figure("sigmoid_curve", "Your sigmoid on [−10, 10] and the true curve", build)]


@collects("ex2_backward")
def _gradients_and_fit(run: Callable[..., dict], reference: ModuleType) -> list[dict[str, Any]]:
    def build() -> dict[str, Any]:
        generator = torch.Generator().manual_seed(FIGURE_SEED)
        yours, autograd = [], []
        for _ in range(20):
            args = neuron_inputs(generator, 10, torch.float64, weight_scale=0.7)
            got = run("call", {"function": "backward", "args": args, "kwargs": {}}, "backward")[
                "value"
            ]
            if not isinstance(got, tuple | list) or len(got) != 3:
                raise Missing(f"backward returned {describe_value(got)}, not three gradients")
            leaves = [w.clone().requires_grad_(True) for w in args[2:5]]
            reference.mse_loss(reference.forward(args[0], args[1], *leaves), args[5]).backward()
            for gradient, leaf in zip(got, leaves, strict=True):
                yours += _floats(gradient, "a gradient")[:1]
                autograd.append(leaf.grad.item())
        return {"autograd": autograd, "yours": yours}

    def build_fit() -> dict[str, Any]:
        x1, x2, *weights, target = neuron_inputs(
            torch.Generator().manual_seed(FIGURE_SEED + 1), 20, torch.float64
        )
        weights = [torch.zeros((), dtype=torch.float64)] * 3
        settings = {"lr": 0.5, "n_steps": 60}
        inputs = {
            "function": "fit_by_hand",
            "args": [x1, x2, target, tuple(weights)],
            "kwargs": settings,
        }
        got = run("call", inputs, "fit_by_hand")["value"]
        if not isinstance(got, tuple | list) or len(got) != 2:
            raise Missing(f"fit_by_hand returned {describe_value(got)}, not (weights, losses)")
        _, expected = reference.fit_by_hand(x1, x2, target, tuple(weights), **settings)
        return {"yours": _floats(got[1], "the losses", 60), "reference": expected}

    return [
        figure("gradients_scatter", "Your backward against autograd, 60 gradients", build),
        figure("fit_curve", "fit_by_hand: your losses and the reference's", build_fit),
    ]


@collects("ex3_module")
def _module_curve(run: Callable[..., dict], reference: ModuleType) -> list[dict[str, Any]]:
    def build() -> dict[str, Any]:
        torch.manual_seed(FIGURE_SEED)
        network = reference.OurFirstNeuralNetwork()
        state = {name: value.detach().clone() for name, value in network.state_dict().items()}
        x = torch.linspace(-3, 3, 121).reshape(-1, 1)
        inputs = {"state": state, "x": x, "grad_output": torch.ones(121, 1)}
        value = run("network_forward_backward", inputs, "OurFirstNeuralNetwork.forward")["value"]
        with torch.no_grad():
            expected = network(x)
        return {
            "x": x.flatten().tolist(),
            "yours": _floats(value, "model(x)", 121),
            "reference": expected.flatten().tolist(),
        }

    return [
        figure(
            "module_curve", "Your network's output on [−3, 3], same weights as the reference", build
        )
    ]


@collects("ex4_training")
def _training(run: Callable[..., dict], reference: ModuleType) -> list[dict[str, Any]]:
    x, y = reference.make_data(100, FIGURE_SEED)
    x_train, y_train, x_test, y_test = reference.train_test_split(x, y, 0.7, FIGURE_SEED)
    torch.manual_seed(FIGURE_SEED)
    state = {k: v.detach().clone() for k, v in reference.make_model().state_dict().items()}
    trained: dict[str, Any] = {}

    def build_losses() -> dict[str, Any]:
        inputs = {"state": state, "x": x_train, "y": y_train, "n_epochs": 100, "lr": 0.1}
        result = run("train", inputs, "train")
        trained.update(result.get("state", {}))
        network = reference.make_model()
        network.load_state_dict(state)
        expected = reference.train(network, x_train, y_train, n_epochs=100, lr=0.1)
        return {"yours": _floats(result["value"], "the losses", 100), "reference": expected}

    def build_split() -> dict[str, Any]:
        data = run(
            "call",
            {"function": "make_data", "args": [], "kwargs": {"n": 100, "seed": 1}},
            "make_data",
        )["value"]
        if not isinstance(data, tuple | list) or len(data) != 2:
            raise Missing(f"make_data returned {describe_value(data)}, not (x, y)")
        inputs = {"function": "train_test_split", "args": list(data), "kwargs": {"seed": 1}}
        parts = run("call", inputs, "train_test_split")["value"]
        if not isinstance(parts, tuple | list) or len(parts) != 4:
            raise Missing(f"train_test_split returned {describe_value(parts)}, not four tensors")
        names = ("x_train", "y_train", "x_test", "y_test")
        return {name: _floats(part, name) for name, part in zip(names, parts, strict=True)}

    def build_predictions() -> dict[str, Any]:
        if not trained:
            raise Missing("train did not return a trained model (see the loss figure)")
        network = reference.make_model()
        try:
            network.load_state_dict(trained)
        except (RuntimeError, TypeError) as error:
            raise Missing(f"the trained weights could not be read: {error}") from None
        with torch.no_grad():
            predictions = network.eval()(x_test)
        return {
            "x": x_test.flatten().tolist(),
            "expected": y_test.flatten().tolist(),
            "predicted": _floats(predictions, "the predictions"),
        }

    return [
        figure(
            "training_losses", "Training loss per epoch: yours and the reference's", build_losses
        ),
        figure("split", "Your data and your train/test split", build_split),
        figure(
            "predictions",
            "Predictions of the model you trained against expected values",
            build_predictions,
        ),
    ]
