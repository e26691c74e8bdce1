"""The grader's side of the sandbox: start the zygote, run a submission's code in a child.

``Zygote`` owns the zygote process. ``SubmissionSandbox`` runs one submission: it keeps a
confined child with the submission's sources, sends it requests with a deadline, and
replaces it after a crash or a timeout, so that one bad call costs one check. Long, but one
job: every way a child can fail (timeout, CPU, crash, exit, malformed reply) is handled here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from grader.course import Limits
from grader.sandbox.host.launch import ZygoteProcess
from grader.sandbox.inside.probes import PROBES
from grader.sandbox.inside.probes import load as load_probes
from grader.sandbox.wire import protocol

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_POLL_SECONDS = 0.2
_MAX_OUTPUT_CHARS = 1024 * 1024
# A child serves many calls, each with its own CPU budget checked from outside; its
# RLIMIT_CPU is only a backstop (and the same for every exercise, so spares fit all).
_LIFETIME_CPU_SECONDS = 600


class SandboxFailure(Exception):
    """The child did not answer normally; ``kind`` says how, the message says it in words."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # timeout | cpu | crash | exit | malformed


@dataclass(frozen=True)
class StudentError(Exception):
    """The submission's code raised, or lacks what a check calls (facts from the child)."""

    kind: str  # not_implemented | missing_function | exception | exit | memory | recursion |
    #            import | syntax | probe | unencodable | missing_file
    type: str
    message: str
    traceback: str = ""
    output: str = ""  # what the submission printed before it failed

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"


@dataclass(frozen=True)
class Reply:
    """What a probe reported, with what the submission printed and called meanwhile."""

    result: dict[str, Any]
    events: dict[str, Any]
    output: str


class Zygote:
    """The process that forks sandboxed children; see grader/sandbox/inside/zygote.py."""

    def __init__(self, started: ZygoteProcess) -> None:
        load_probes(started.probe_modules)  # to know what their replies hold
        self.process, self.control = started.process, started.control
        self._host_layers: list[dict[str, Any]] | None = None

    @property
    def host_layers(self) -> list[dict[str, Any]]:
        """The protections this host offers; waits until the zygote is warm."""
        return self._ready()

    def _ready(self) -> list[dict[str, Any]]:
        if self._host_layers is None:
            self._host_layers = self._answer(timeout=180)["host_layers"]
        return self._host_layers

    def spawn(self, limits: Limits, uid: int | None) -> Child:
        """A confined child, ready for requests (the zygote forked it ahead of time)."""
        self._ready()
        settings = {
            "uid": uid,
            "memory_bytes": limits.memory_mib * 1024 * 1024,
            "cpu_seconds": _LIFETIME_CPU_SECONDS,
            "max_processes": limits.processes,
            "max_file_bytes": 64 * 1024 * 1024,
            "max_open_files": 64,
        }
        self.control.send(json.dumps({"op": "spawn", "settings": settings}).encode())
        self.control.settimeout(30)
        message, fds, _, _ = socket.recv_fds(self.control, 65536, 1)
        if not message or len(fds) != 1:
            raise RuntimeError("the sandbox zygote did not hand over a child")
        child = Child(self, json.loads(message)["pid"], socket.socket(fileno=fds[0]))
        try:
            hello = protocol.receive(child.sock, deadline=time.monotonic() + 30)
        except (EOFError, TimeoutError, protocol.ProtocolError) as error:
            status = child.kill()
            raise RuntimeError(f"a sandbox child failed to start ({status}): {error}") from None
        child.layers = hello["layers"]
        return child

    def kill(self, pid: int) -> dict[str, int]:
        """End a child and say how it ended (it may have died on its own)."""
        self.control.send(json.dumps({"op": "kill", "pid": pid}).encode())
        return self._answer(timeout=30)

    def release(self, pid: int) -> None:
        """End a child that is no longer needed, without waiting for it."""
        with contextlib.suppress(OSError):  # a zygote that died took its children with it
            self.control.send(json.dumps({"op": "release", "pid": pid}).encode())

    def _answer(self, timeout: float) -> dict[str, Any]:
        self.control.settimeout(timeout)
        try:
            message = self.control.recv(65536)
        except TimeoutError:
            message = b""
        if not message:
            code = self.process.poll()
            raise RuntimeError(f"the sandbox zygote stopped answering (exit code {code})")
        return json.loads(message)

    def close(self) -> None:
        self.control.close()  # the zygote kills its children and exits on EOF
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Child:
    """One confined process; the grader talks to it directly over ``sock``."""

    zygote: Zygote
    pid: int
    sock: socket.socket
    layers: list[dict[str, Any]] = field(default_factory=list)
    alive: bool = True
    # Answers still owed to a request of several runs: (request id, index of the next
    # answer, how many runs it has); None when nothing is owed.
    owed: tuple[int, int, int] | None = None
    # /proc/<pid>/stat, kept open: read at every request, opening it each time cost ~50 µs.
    stat_fd: int | None = None

    def request(self, message: dict[str, Any], limits: Limits) -> dict[str, Any]:
        """Send a request; wait for its answer within the wall-clock and CPU budget."""
        return self.answer(self.send(message, limits), limits)

    def send(self, message: dict[str, Any], limits: Limits) -> int:
        """Send a request; return its id. Each request carries a fresh random id that its
        answers must echo: an answer to another request (a stale duplicate from a fork of
        the child, or one left unread) is dropped."""
        ident = secrets.randbits(62)
        try:
            self.sock.settimeout(limits.wall_seconds)
            protocol.send(self.sock, dict(message, id=ident))
        except TimeoutError:
            self._fail("timeout", f"did not finish within {limits.wall_seconds:g} s")
        except (ConnectionError, BrokenPipeError):
            self._ended(limits)
        return ident

    def answer(self, ident: int, limits: Limits, index: int | None = None) -> dict[str, Any]:
        """Wait for an answer to request ``ident`` (its ``index``-th, for a request of
        several runs) within the wall-clock and CPU budget of one call, counted from now."""
        deadline = time.monotonic() + limits.wall_seconds
        cpu_start = self._cpu_seconds()
        try:
            while True:
                self._wait_readable(deadline, cpu_start, limits)
                answer = protocol.receive(self.sock, deadline=deadline)
                if not (isinstance(answer, dict) and type(answer.get("id")) is int):
                    continue
                if answer["id"] != ident:
                    continue
                if answer.get("index") != index:
                    self._fail("malformed", "sent back answers out of turn")
                return answer
        except TimeoutError:
            self._fail("timeout", f"did not finish within {limits.wall_seconds:g} s")
        except (EOFError, ConnectionError, BrokenPipeError):
            self._ended(limits)
        except protocol.ProtocolError as error:
            self._fail("malformed", f"sent back malformed data ({error})")

    def send_each(self, message: dict[str, Any], count: int, limits: Limits) -> int:
        """Send a request of ``count`` runs, each answered on its own; return its id."""
        ident = self.send(message, limits)
        self.owed = (ident, 0, count)
        return ident

    def owed_answer(self, limits: Limits) -> dict[str, Any]:
        """The next answer owed to the request of several runs."""
        assert self.owed is not None
        ident, index, count = self.owed
        answer = self.answer(ident, limits, index)
        failed = not (isinstance(answer, dict) and answer.get("ok") is True)
        done = failed or index + 1 == count  # nothing runs after a failure
        self.owed = None if done else (ident, index + 1, count)
        return answer

    def settle(self, limits: Limits) -> None:
        """Read and drop the answers still owed to an earlier request of several runs (its
        check stopped reading at a failure): the child runs them anyway, so the next request
        waits for them, each within one call's budget. What they do is nobody's verdict."""
        while self.owed is not None:
            self.owed_answer(limits)

    def _ended(self, limits: Limits) -> NoReturn:
        """The child went away: say how."""
        status = self.kill()
        if "signal" in status:
            self._fail_with_status(status, limits)
        raise SandboxFailure(
            "exit",
            f"ended the Python process (exit status {status.get('exit_code')}); "
            "do not call os._exit or exit the interpreter in an exercise",
        ) from None

    def _wait_readable(self, deadline: float, cpu_start: float, limits: Limits) -> None:
        """Wait for data, checking the child's CPU time every _POLL_SECONDS."""
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise TimeoutError
            self.sock.settimeout(min(_POLL_SECONDS, deadline - now))
            try:
                if not self.sock.recv(1, socket.MSG_PEEK):
                    raise EOFError
                return
            except TimeoutError:
                if self._cpu_seconds() - cpu_start > limits.cpu_seconds:
                    self._fail("cpu", f"used more than {limits.cpu_seconds:g} s of CPU time")

    def _fail(self, kind: str, message: str) -> NoReturn:
        self.kill()
        raise SandboxFailure(kind, message)

    def _fail_with_status(self, status: dict[str, int], limits: Limits) -> NoReturn:
        number = status["signal"]
        if number == signal.SIGXCPU:
            raise SandboxFailure("cpu", "used more than its CPU time budget (SIGXCPU)")
        if number == signal.SIGSEGV:
            raise SandboxFailure(
                "crash",
                "crashed the Python interpreter (segmentation fault); unbounded "
                "recursion is the usual cause",
            )
        if number == signal.SIGKILL:
            raise SandboxFailure(
                "crash",
                f"was killed (SIGKILL), most likely for using more than "
                f"{limits.memory_mib} MiB of memory",
            )
        name = signal.Signals(number).name if number in signal.Signals else str(number)
        raise SandboxFailure("crash", f"crashed the Python interpreter (signal {name})")

    def _cpu_seconds(self) -> float:
        try:
            if self.stat_fd is None:  # the zygote reaps the child only once asked to
                self.stat_fd = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            fields = os.pread(self.stat_fd, 4096, 0).rsplit(b")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        except (OSError, IndexError, ValueError):
            return 0.0

    def kill(self) -> dict[str, int]:
        """End the child and everything it started; say how the child ended."""
        if not self.alive:
            return {}
        self._close()
        return self.zygote.kill(self.pid)

    def release(self) -> None:
        """End the child when it is no longer needed; the zygote does it in the background."""
        if self.alive:
            self._close()
            self.zygote.release(self.pid)

    def _close(self) -> None:
        self.alive = False
        self.sock.close()
        if self.stat_fd is not None:
            os.close(self.stat_fd)
            self.stat_fd = None


class SubmissionSandbox:
    """Runs one submission's code: each exercise in a child of its own.

    A fresh child per exercise means that what one exercise's code does to its process
    (global state, patched modules, processes it leaves) cannot touch another exercise's
    checks. A child that dies or hangs is replaced for the next check. Calls that run with
    correct stand-ins for some functions (error carried forward) get a child of their own
    per set of stand-ins: what the submission does with a stand-in stays in that child,
    where the function it stands in for is never judged.
    """

    def __init__(
        self,
        zygote: Zygote,
        sources: dict[str, str],
        uid: int | None,
        missing: dict[str, str] | None = None,
        seed: int = 0,
    ) -> None:
        self.zygote = zygote
        self.sources = sources
        self.uid = uid
        self.seed = seed  # seeds random, numpy and torch in each child, for reproducible runs
        self.missing = missing or {}  # exercise id -> why the submission has no source for it
        # (exercise, names stood in for) -> a child that imported that exercise's module
        self.children: dict[tuple[str, tuple[str, ...]], Child] = {}
        self.broken: dict[str, Exception] = {}  # exercises whose import failed, for good
        self.timed_out: set[tuple[str, str]] = set()  # (exercise, function) that hung once
        self.layers: list[dict[str, Any]] = []
        # Checks that need the same run (a training run, say) ask for it with the same
        # inputs; the submission runs it once.
        self.replies: dict[tuple[Any, ...], Reply] = {}

    def run(
        self,
        exercise: str,
        probe: str,
        inputs: dict[str, Any],
        limits: Limits,
        no_grad: bool = False,
        shared: bool = False,
        stand_ins: dict[str, str] | None = None,
    ) -> Reply:
        """Run a probe on ``exercise``'s module; raise StudentError or SandboxFailure.

        With ``shared``, the reply is kept and reused for the same request: for a run that
        several checks inspect (a training run, say). Other requests always run again,
        so a check that calls twice sees two calls. ``stand_ins`` (name -> source of a
        correct function) replace the submission's functions of those names for this run.
        """
        function = inputs.get("function", probe)
        self._refuse_timed_out(exercise, function)
        stand_ins = stand_ins or {}
        key = (
            (exercise, probe, no_grad, *sorted(stand_ins), *_fingerprint(inputs))
            if shared
            else None
        )
        if key in self.replies:
            return self.replies[key]
        child = self._child(exercise, limits, stand_ins)
        request = {
            "op": "run",
            "exercise": exercise,
            "probe": probe,
            "inputs": inputs,
            "no_grad": no_grad,
            "output_limit": limits.output_kib * 1024,
        }
        try:
            reply = self._reply(child.request(request, limits), PROBES[probe].reply)
        except SandboxFailure as failure:
            if failure.kind in ("timeout", "cpu"):
                self.timed_out.add((exercise, function))
            raise
        if shared:
            self.replies[key] = reply
        return reply

    def run_each(
        self,
        exercise: str,
        probe: str,
        each: list[dict[str, Any]],
        limits: Limits,
        no_grad: bool = False,
        stand_ins: dict[str, str] | None = None,
    ) -> Iterator[Reply | StudentError]:
        """``run`` for each inputs of ``each``, in order, sent to the child in one request.

        The child answers each run as it finishes, and each answer is awaited within one
        call's budget: a run that hangs or crashes raises SandboxFailure in its turn, after
        the runs before it were yielded. As with separate runs, nothing after the first that
        raises runs: its StudentError is yielded last. A caller that stops reading early
        leaves the other answers owed; the child's next request reads them first.
        """
        if not each:
            return
        functions = [inputs.get("function", probe) for inputs in each]
        for function in functions:
            self._refuse_timed_out(exercise, function)
        child = self._child(exercise, limits, stand_ins or {})
        request = {
            "op": "run_each",
            "exercise": exercise,
            "runs": [{"probe": probe, "inputs": inputs, "no_grad": no_grad} for inputs in each],
            "output_limit": limits.output_kib * 1024,
        }
        ident = child.send_each(request, len(each), limits)
        for index, function in enumerate(functions):
            if child.owed is None or child.owed[:2] != (ident, index):
                raise RuntimeError("another request went to this child between two answers")
            try:
                answer = child.owed_answer(limits)
            except SandboxFailure as failure:
                if failure.kind in ("timeout", "cpu"):
                    self.timed_out.add((exercise, function))
                raise
            try:
                reply = self._reply(answer, PROBES[probe].reply)
            except StudentError as error:
                yield error  # the child ran nothing after it
                return
            yield reply

    def _refuse_timed_out(self, exercise: str, function: str) -> None:
        if (exercise, function) in self.timed_out:
            raise SandboxFailure(
                "timeout", f"was not run again: {function} did not finish in time earlier"
            )

    def _child(self, exercise: str, limits: Limits, stand_ins: dict[str, str]) -> Child:
        """A live child that has imported ``exercise``'s module (with ``stand_ins`` bound)."""
        if exercise in self.broken:
            raise self.broken[exercise]
        if exercise not in self.sources:
            reason = self.missing.get(exercise, f"no {exercise}.py in the submission")
            raise StudentError("missing_file", "FileNotFoundError", reason)
        key = (exercise, tuple(sorted(stand_ins)))
        if key in self.children and self.children[key].alive:
            child = self.children[key]
            with contextlib.suppress(SandboxFailure):  # it is then killed, and replaced below
                child.settle(limits)
            if child.alive:
                return child
        # The new child first: the zygote then reaps the old ones while this one works. For
        # those few milliseconds the children share the uid's process limit (old, new and
        # the spare), which threads the old ones left running count against too.
        fresh = self.zygote.spawn(limits, self.uid)
        self._release(lambda other: other[0] != exercise or other == key)
        self.children[key] = fresh
        self.layers = fresh.layers
        try:
            request = {
                "op": "load",
                "sources": self.sources,
                "seed": self.seed,
                "exercise": exercise,
                "output_limit": limits.output_kib * 1024,
                "stand_ins": stand_ins,
            }
            self._reply(fresh.request(request, limits), {})
        except SandboxFailure as failure:
            self.broken[exercise] = SandboxFailure(failure.kind, f"while being imported, {failure}")
            raise self.broken[exercise] from None
        except StudentError as error:
            self.broken[exercise] = error
            raise
        return fresh

    def _reply(self, answer: Any, result_types: dict[str, type]) -> Reply:
        """Check an answer's shape (the child controls it) and unpack it."""
        if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
            raise SandboxFailure("malformed", "sent back an answer without a status")
        if not answer["ok"]:
            error = answer.get("error")
            if not isinstance(error, dict) or not all(
                isinstance(error.get(key), str) for key in ("kind", "type", "message", "traceback")
            ):
                raise SandboxFailure("malformed", "sent back an error without a description")
            output = answer.get("output") if isinstance(answer.get("output"), str) else ""
            raise StudentError(
                error["kind"], error["type"], error["message"], error["traceback"], output[:4000]
            )
        result = answer.get("result", {})
        if not isinstance(result, dict) or any(
            not isinstance(result.get(key), kind) for key, kind in result_types.items()
        ):
            raise SandboxFailure("malformed", "sent back a result of the wrong shape")
        events = answer.get("events")
        if not (
            isinstance(events, dict)
            and isinstance(events.get("counts"), dict)
            and all(isinstance(v, int) for v in events["counts"].values())
            and isinstance(events.get("notes"), list)
            and all(isinstance(note, str) for note in events["notes"])
        ):
            raise SandboxFailure("malformed", "sent back a malformed record of its calls")
        output = answer.get("output") if isinstance(answer.get("output"), str) else ""
        return Reply(result=result, events=events, output=output[:_MAX_OUTPUT_CHARS])

    def close(self) -> None:
        self._release(lambda key: True)

    def _release(self, which: Callable[[tuple[str, tuple[str, ...]]], bool]) -> None:
        for key in [key for key in self.children if which(key)]:
            self.children.pop(key).release()


def _fingerprint(inputs: dict[str, Any]) -> tuple[str, bytes]:
    header, payload = protocol.encode(inputs)
    return json.dumps(header, sort_keys=True), payload
