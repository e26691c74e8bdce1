"""Expectations of a hidden check: ``Expect`` compares what the student's code gave with
what was expected, in the grader's process, and fails with feedback meant for the student.
For a hidden check the feedback describes differences without showing the inputs' values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any

import torch

from grader.course import Tolerance
from grader.grading.student import CheckFailure, Inputs, Student
from grader.results import Feedback
from grader.sandbox.wire.protocol import Opaque


class Expect:
    """Expectations of one check; failures become ``CheckFailure`` with readable feedback."""

    def __init__(self, visible: bool, tolerances: dict[str, Tolerance]) -> None:
        self.visible = visible
        self.tolerances = tolerances

    def true(
        self,
        condition: bool,
        *,
        summary: str,
        about: str = "",
        expected: str = "",
        got: str = "",
        hint: str = "",
    ) -> None:
        """Fail with the given feedback unless ``condition`` holds."""
        if not condition:
            raise CheckFailure(
                Feedback(summary=summary, inputs=about, expected=expected, got=got, hint=hint)
            )

    def tensor(
        self, got: Any, *, like: torch.Tensor, what: str, about: str, hint: str = ""
    ) -> torch.Tensor:
        """``got`` must be a tensor with the shape and dtype of ``like``."""
        if not isinstance(got, torch.Tensor):
            self.true(
                False,
                summary=f"{what} is {describe_value(got)}, not a torch.Tensor",
                about=about,
                expected=f"a torch.Tensor of shape {tuple(like.shape)}",
                hint=hint or "return a tensor built with torch operations",
            )
        self.true(
            got.shape == like.shape,
            summary=f"{what} has the wrong shape",
            about=about,
            expected=f"shape {tuple(like.shape)}",
            got=f"shape {tuple(got.shape)}",
            hint=hint or "check which dimensions you sum or broadcast over",
        )
        self.true(
            got.dtype == like.dtype,
            summary=f"{what} has the wrong dtype",
            about=about,
            expected=str(like.dtype),
            got=str(got.dtype),
            hint="keep the input's dtype: avoid torch.tensor(...) and Python floats in between",
        )
        return got

    def close(
        self,
        got: Any,
        expected: torch.Tensor,
        *,
        what: str,
        about: str,
        hint: str,
        tolerance: str | None = None,
    ) -> None:
        """``got`` must be a tensor like ``expected`` with values within the tolerance."""
        got = self.tensor(got, like=expected, what=what, about=about)
        rule = self.tolerances[tolerance or str(expected.dtype).removeprefix("torch.")]
        got_values, want = got.detach().double(), expected.detach().double()
        bad = ~torch.isclose(got_values, want, rtol=rule.rtol, atol=rule.atol)
        if not bool(bad.any()):
            return
        self.true(
            False,
            summary=f"{what} has wrong values",
            about=about,
            expected=self.values(want) + f" (within rtol={rule.rtol:g}, atol={rule.atol:g})",
            got=self.values(got_values) + f"; {describe_difference(got_values, want, bad)}",
            hint=hint,
        )

    def float_list(self, got: Any, length: int, *, what: str, about: str) -> list[float]:
        """``got`` must be a list of ``length`` Python floats."""
        self.true(
            isinstance(got, list) and len(got) == length,
            summary=f"the {what} are not a list with one entry per step",
            about=about,
            expected=f"a list of {length} floats",
            got=describe_value(got)
            + (f" of {len(got)} entries" if isinstance(got, list | tuple) else ""),
            hint="append one Python float per step",
        )
        self.true(
            all(type(value) is float for value in got),
            summary=f"the {what} are not all Python floats",
            about=about,
            expected=f"a list of {length} floats",
            got=f"a list of {', '.join(sorted({describe_value(v) for v in got}))}",
            hint="append loss.item(): a tensor would also keep its whole graph alive",
        )
        return got

    def trajectory(
        self,
        got: Any,
        expected: list[float],
        *,
        what: str,
        about: str,
        hint: str,
        tolerance: str,
    ) -> None:
        """A list of Python floats, one per step, each close to the expected one."""
        self.float_list(got, len(expected), what=what, about=about)
        rule = self.tolerances[tolerance]
        for step, (value, want) in enumerate(zip(got, expected, strict=True)):
            self.true(
                abs(value - want) <= rule.atol + rule.rtol * abs(want),
                summary=f"the {what} leave the expected trajectory at step {step}",
                about=about,
                expected=f"{what}[{step}] = {want:.7g} (within rtol={rule.rtol:g})"
                if self.visible
                else f"{what}[{step}] within rtol={rule.rtol:g} of the reference's",
                got=f"{what}[{step}] = {value:.7g}"
                if self.visible
                else f"off by {abs(value - want):.3g}",
                hint=hint,
            )

    def unchanged(
        self,
        sent: Sequence[Any],
        after: Sequence[Any],
        *,
        names: Sequence[str],
        what: str,
        about: str,
    ) -> None:
        """Tensors the check passed in must come back with the same values, flags and .grad."""
        for name, before, now in zip(names, sent, after, strict=True):
            if isinstance(before, torch.Tensor):
                change = tensor_change(before, now)
                self.true(
                    change is None,
                    summary=f"{what} modified its argument {name}: {change}",
                    about=about,
                    hint="work on new tensors: in-place operations (x += …, x[…] = …, "
                    "add_, mul_, requires_grad_ on an argument) change the caller's tensor",
                )

    def tensors(
        self, value: Any, count: int, *, what: str, about: str, hint: str = ""
    ) -> list[torch.Tensor]:
        """``value`` must be a tuple (or list) of ``count`` tensors."""
        shape = f"{describe_value(value)}" + (
            f" of {len(value)}" if isinstance(value, tuple | list) else ""
        )
        self.true(
            isinstance(value, tuple | list) and len(value) == count,
            summary=f"{what} is not a tuple of {count} tensors",
            about=about,
            expected=f"a tuple of {count} tensors",
            got=shape,
            hint=hint or f"return a tuple of {count} tensors",
        )
        for index, item in enumerate(value):
            self.true(
                isinstance(item, torch.Tensor),
                summary=f"item {index} of {what} is {describe_value(item)}, not a torch.Tensor",
                about=about,
                hint="return torch tensors, not lists or numpy arrays",
            )
        return list(value)

    def finite_and_close(
        self, got: Any, expected: torch.Tensor, *, what: str, about: str, hint: str
    ) -> None:
        """Like ``close``, but a nan or inf gets its own message first."""
        got = self.tensor(got, like=expected, what=what, about=about)
        self.true(
            bool(torch.isfinite(got).all()),
            summary=f"{what} is not finite for some inputs",
            about=about,
            expected=f"finite values like {self.values(expected)}",
            got=self.values(got),
            hint=hint,
        )
        self.close(got, expected, what=what, about=about, hint=hint)

    def values(self, tensor: torch.Tensor) -> str:
        """A tensor's values for a visible check; only its shape for a hidden one."""
        if not self.visible:
            return f"a tensor of shape {tuple(tensor.shape)}"
        return show(tensor)

    def describe(self, **inputs: Any) -> str:
        """Name the inputs: values for a visible check, dtype and shape for a hidden one."""
        parts = []
        for name, value in inputs.items():
            if isinstance(value, torch.Tensor):
                kind = f"{str(value.dtype).removeprefix('torch.')}, shape {tuple(value.shape)}"
                parts.append(
                    f"{name} = {show(value)} ({kind})" if self.visible else f"{name}: {kind}"
                )
            else:
                parts.append(f"{name} = {value!r}" if self.visible else f"{name} = (hidden)")
        return "; ".join(parts)


def tensor_change(before: torch.Tensor, after: Any) -> str | None:
    """How ``after`` differs from ``before`` in values, requires_grad or .grad, or None."""
    if not isinstance(after, torch.Tensor):
        return f"it became {describe_value(after)}"
    if after.shape != before.shape or after.dtype != before.dtype:
        return f"its shape or dtype changed to {tuple(after.shape)}, {after.dtype}"
    if not torch.equal(torch.nan_to_num(after.detach()), torch.nan_to_num(before.detach())):
        return "its values changed"
    if after.requires_grad != before.requires_grad:
        return f"requires_grad changed from {before.requires_grad} to {after.requires_grad}"
    if (before.grad is None) != (after.grad is None):
        return ".grad was filled in" if before.grad is None else ".grad was cleared"
    if before.grad is not None and not torch.equal(before.grad, after.grad):
        return "its .grad changed"
    return None


def agrees_elementwise(
    student: Student,
    reference: ModuleType,
    expect: Expect,
    function: str,
    inputs: Iterable[torch.Tensor],
    hint: str,
    finite: bool = False,
) -> None:
    """The student's ``function(z)`` equals the reference's for each z of ``inputs``; with
    ``finite``, a nan or inf gets its own message first."""
    compare = expect.finite_and_close if finite else expect.close
    cases = [Inputs((z,), about=expect.describe(z=z)) for z in inputs]
    for case, call in zip(cases, student.call_each(function, cases), strict=False):
        compare(
            call.value,
            getattr(reference, function)(*case.args),
            what=f"{function}(z)",
            about=case.about,
            hint=hint,
        )


def show(tensor: torch.Tensor, limit: int = 8) -> str:
    """A short, readable rendering of a tensor's values."""
    flat = tensor.detach().reshape(-1).double()
    shown = ", ".join(f"{v:.6g}" for v in flat[:limit].tolist())
    more = f", … ({flat.numel()} values)" if flat.numel() > limit else ""
    return f"[{shown}{more}]" if tensor.dim() else shown


def describe_difference(got: torch.Tensor, want: torch.Tensor, bad: torch.Tensor) -> str:
    """How far apart two tensors are, without their values."""
    parts = []
    nan = torch.isnan(got)
    if bool(nan.any()):
        parts.append(f"{int(nan.sum())} nan")
    infinite = torch.isinf(got)
    if bool(infinite.any()):
        parts.append(f"{int(infinite.sum())} infinite")
    finite = torch.isfinite(got) & torch.isfinite(want)
    if bool(finite.any()):
        gap = float((got - want).abs()[finite].max())
        parts.append(f"largest difference {gap:.3g}")
    parts.append(f"{int(bad.sum())} of {bad.numel()} values off")
    return ", ".join(parts)


def describe_value(value: Any) -> str:
    """A short description of a returned value's type, for messages."""
    if isinstance(value, Opaque):
        return f"a {value.type}"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"
