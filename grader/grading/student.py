"""The submission as a hidden check sees it: ``Student`` runs the student's code in the
sandbox and gets plain data back; any problem becomes ``CheckFailure`` with a ``Feedback``
meant for the student (what was tested, on what kind of input, what came back, a hint).
Expectations about what came back are in expect.py, generic inputs in inputs.py.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from grader.course import Check, Exercise
from grader.grading.carry_forward import stand_ins_for
from grader.results import Feedback
from grader.sandbox.host.client import Reply, SandboxFailure, StudentError, SubmissionSandbox


class CheckFailure(Exception):
    """A check failed; ``feedback`` says why, in words for the student."""

    def __init__(self, feedback: Feedback) -> None:
        super().__init__(feedback.summary)
        self.feedback = feedback


@dataclass(frozen=True)
class Inputs:
    """The inputs of one call, and how the student is told about them."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)
    about: str = ""


@dataclass(frozen=True)
class Call:
    """One call of a student function: its value and the arguments afterwards."""

    value: Any
    args: tuple[Any, ...]
    events: dict[str, Any]


class Student:
    """One exercise of one submission, as a check sees it."""

    def __init__(
        self,
        sandbox: SubmissionSandbox,
        exercise: Exercise,
        check: Check,
        source: str | None,
        proven: frozenset[str] = frozenset(),
    ) -> None:
        self.sandbox = sandbox
        self.exercise = exercise
        self.check = check  # the check that is running: it decides what is carried forward
        self.source = source
        # The submission's functions that passed all their own checks: used as they are where a
        # stand-in would otherwise replace them (grader/grading/carry_forward.py).
        self.proven = proven
        # What this check's calls really ran with: function -> the stand-ins it was given,
        # and whether one of the submission's proven functions was used in place of one.
        self.stood_in: dict[str, tuple[str, ...]] = {}
        self.used_proven = False
        # A hidden check's inputs must not come back to the student, not even inside the
        # student's own exception messages or printed output.
        self.visible = check.visibility == "visible"

    def without_proven(self) -> Student:
        """The same, but every call carried forward runs with stand-ins: for a check that
        failed with the submission's own proven functions, run again."""
        return Student(self.sandbox, self.exercise, self.check, self.source)

    def call(
        self,
        function: str,
        *args: Any,
        kwargs: dict[str, Any] | None = None,
        about: str = "",
        no_grad: bool = False,
    ) -> Call:
        """Call ``function(*args, **kwargs)`` in the sandbox; ``about`` describes the inputs."""
        inputs = {"function": function, "args": list(args), "kwargs": kwargs or {}}
        reply = self.probe("call", inputs, function=function, about=about, no_grad=no_grad)
        return self._as_call(reply, args, function, about)

    def call_each(
        self, function: str, calls: list[Inputs], no_grad: bool = False
    ) -> Iterator[Call]:
        """``call`` for each of ``calls``, all sent to the sandbox in one request: see
        ``probe_each``."""
        each = [{"function": function, "args": list(c.args), "kwargs": c.kwargs} for c in calls]
        abouts = [c.about for c in calls]
        replies = self.probe_each("call", each, function=function, abouts=abouts, no_grad=no_grad)
        for inputs, reply in zip(calls, replies, strict=False):
            yield self._as_call(reply, inputs.args, function, inputs.about)

    def probe_each(
        self,
        probe: str,
        each: list[dict[str, Any]],
        *,
        function: str,
        abouts: list[str],
        no_grad: bool = False,
    ) -> Iterator[Reply]:
        """``probe`` for each inputs of ``each`` (described by ``abouts``), all sent to the
        sandbox in one request (a round trip costs about as much as a small call). Yields
        each reply as it comes, in order; a run that failed raises its CheckFailure in its
        turn, with its own inputs, after what came before was judged: exactly as with
        separate probes, each within one call's budget. Consume the replies before asking
        the student anything else."""
        stand_ins = self._stand_ins(function)
        replies = self.sandbox.run_each(
            self.exercise.id, probe, each, self.exercise.limits, no_grad, stand_ins
        )
        for about in abouts:
            try:
                reply = next(replies)
            except (StudentError, SandboxFailure) as error:
                raise self._failure(error, function, about) from None
            if isinstance(reply, StudentError):
                raise self._failure(reply, function, about)
            yield reply

    def probe(
        self,
        probe: str,
        inputs: dict[str, Any],
        *,
        function: str,
        about: str = "",
        no_grad: bool = False,
        shared: bool = False,
    ) -> Reply:
        """Run a named probe (grader/sandbox/inside/probes.py) on the student's module.

        ``function`` is the student's function the probe runs: when it calls other graded
        functions, they are made right for the run unless the check is end to end.
        ``shared``: several checks inspect this same run; the submission runs it once.
        """
        stand_ins = self._stand_ins(function)
        limits = self.exercise.limits
        try:
            return self.sandbox.run(
                self.exercise.id, probe, inputs, limits, no_grad, shared, stand_ins
            )
        except (StudentError, SandboxFailure) as error:
            raise self._failure(error, function, about) from None

    def _as_call(self, reply: Reply, sent: tuple[Any, ...], function: str, about: str) -> Call:
        """The call's value, and its arguments as they are afterwards: the child sends back
        only those that changed, and says which (``same``); the others are ``sent``, the
        check's own objects (which checks read and never change)."""
        back, same = reply.result["args"], reply.result["same"]
        if not len(back) == len(same) == len(sent) or any(type(s) is not bool for s in same):
            malformed = SandboxFailure("malformed", "sent back a malformed record of its arguments")
            raise self._failure(malformed, function, about)
        args = tuple(arg if kept else new for arg, new, kept in zip(sent, back, same, strict=True))
        return Call(value=reply.result["value"], args=args, events=reply.events)

    def _stand_ins(self, function: str) -> dict[str, str]:
        """The correct functions this check runs ``function`` with, recorded."""
        stand_ins = stand_ins_for(self.exercise, self.check, function, self.proven)
        if stand_ins:
            self.stood_in[function] = tuple(stand_ins)
        self.used_proven |= bool(
            self.proven & set(self.exercise.carried_forward(self.check, function))
        )
        return stand_ins

    def _failure(
        self, error: StudentError | SandboxFailure, function: str, about: str
    ) -> CheckFailure:
        """What the student is told when their code raised or the sandbox stopped it."""
        if isinstance(error, SandboxFailure):
            return CheckFailure(
                Feedback(
                    summary=f"{function} {error}",
                    inputs=about,
                    hint=_FAILURE_HINTS[error.kind],
                    error=error.kind,
                )
            )
        if not self.visible and error.kind in ("exception", "exit"):  # may quote the inputs
            error = dataclasses.replace(error, message="(not shown for a hidden check)", output="")
        feedback = _student_error_feedback(error, self.exercise, function, about)
        return CheckFailure(dataclasses.replace(feedback, error=error.type, output=error.output))

    def defaults(self, function: str) -> dict[str, Any]:
        """``function``'s parameter defaults as Python evaluated them (read in the sandbox)."""
        about = f"the signature of {function}"
        reply = self.probe(
            "parameter_defaults", {"function": function}, function=function, about=about
        )
        return reply.result["defaults"]

    def syntax_tree(self) -> ast.Module | None:
        if self.source is None:
            return None
        try:
            return ast.parse(self.source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return None


_FAILURE_HINTS = {
    "timeout": "look for a loop that never ends, or work that grows much faster than the input",
    "cpu": "look for a loop that never ends, or threads that keep computing",
    "crash": "unbounded recursion or a huge allocation are the usual causes",
    "exit": "return a value instead of exiting; the grader needs the process to keep running",
    "malformed": "return plain tensors, numbers, lists or tuples",
}


def _student_error_feedback(
    error: StudentError, exercise: Exercise, function: str, about: str
) -> Feedback:
    file = exercise.file
    if error.kind == "not_implemented":
        return Feedback(
            summary=f"{error.message.split(': ', 1)[-1]} is not implemented yet",
            hint="replace `raise NotImplementedError(...)` under `# YOUR CODE HERE` with your code",
        )
    if error.kind == "missing_file":
        return Feedback(summary=error.message, hint=f"hand in a file named exactly {file}")
    if error.kind == "missing_function":
        return Feedback(
            summary=error.message,
            hint="keep the names and signatures of the exercise: the grader calls them by name",
        )
    if error.kind == "syntax":
        return Feedback(
            summary=f"{file} has a syntax error ({error.message}), so none of its code could run",
            traceback=error.traceback,
            hint=f"run `python {file}` to see the error and where it is",
        )
    if error.kind == "import":
        return Feedback(
            summary=f"importing {file} raised {error.type}: {error.message}",
            traceback=error.traceback,
            hint=_import_hint(error),
        )
    if error.kind == "probe":
        return Feedback(
            summary=error.message,
            inputs=about,
            hint="keep the names, signatures and types the exercise asks for: "
            "the grader relies on them",
        )
    summaries = {
        "exit": f"{function} tried to end the program ({error.type})",
        "memory": f"{function} ran out of memory (limit {exercise.limits.memory_mib} MiB)",
        "recursion": f"{function} recursed too deeply (RecursionError)",
        "unencodable": f"{function} returned what the grader cannot read back: {error.message}",
    }
    hints = {
        "exit": "return a value instead of calling sys.exit() or exit()",
        "memory": "avoid building huge tensors; work with the shapes you are given",
        "recursion": "use a loop or tensor operations instead of recursion",
        "unencodable": "return torch tensors, Python numbers, lists or tuples",
    }
    return Feedback(
        summary=summaries.get(error.kind, f"{function} raised {error.type}: {error.message}"),
        inputs=about,
        traceback=error.traceback,
        hint=hints.get(
            error.kind, "read your traceback from the bottom up: the last line is where it failed"
        ),
    )


def _import_hint(error: StudentError) -> str:
    if error.type == "ModuleNotFoundError":
        return (
            "only torch, numpy, matplotlib and common standard-library modules are available "
            "while grading; an exercise file must not import other files"
        )
    return (
        "code at the top level runs on import: keep experiments under `if __name__ == '__main__':`"
    )
