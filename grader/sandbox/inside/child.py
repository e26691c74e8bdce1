"""Inside the sandboxed child: import the submission's modules and run probes on request.

Everything here runs in the confined process next to untrusted code, so nothing here
decides a verdict: it runs what the grader asks and sends back plain data.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import io
import linecache
import os
import re
import socket
import sys
import traceback
from contextlib import nullcontext
from types import ModuleType
from typing import Any

import torch

from grader.sandbox.inside import probes, watch
from grader.sandbox.wire import protocol

_UNFINISHED = re.compile(r"^(ex\w+): ([\w.]+)$")


class _SubmissionFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the submission's files from memory: they are never on the child's disk."""

    def __init__(self, sources: dict[str, str]) -> None:
        self.sources = sources

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name not in self.sources:
            return None
        return importlib.util.spec_from_loader(name, self, origin=f"{name}.py")

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        filename = f"{module.__name__}.py"
        source = self.sources[module.__name__]
        # Registered so that tracebacks can quote the student's own lines.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        module.__file__ = filename
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)


class _BoundedOutput(io.TextIOBase):
    """Keeps the first ``limit`` characters printed and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = max(self.limit - self.kept, 0)
        self.parts.append(text[:room])
        self.kept += min(len(text), room)
        self.dropped += max(len(text) - room, 0)
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += f"\n[… {self.dropped} more characters not kept]"
        self.parts, self.kept, self.dropped = [], 0, 0
        return text


def serve(sock: socket.socket, layers: list[dict[str, Any]]) -> None:
    """Answer requests until the grader closes the connection."""
    server = os.getpid()
    protocol.send(sock, {"ready": True, "layers": layers})
    sources: dict[str, str] = {}
    response: dict[str, Any]
    failed_imports: dict[str, dict[str, Any]] = {}
    output = _BoundedOutput(limit=64 * 1024)
    sys.stdout = sys.stderr = output
    while True:
        try:
            request = protocol.receive(sock)
        except EOFError:
            return
        if request["op"] == "load":  # a child's first request: the submission, then its import
            sources = request["sources"]
            sys.meta_path.insert(0, _SubmissionFinder(sources))
            _seed_everything(request["seed"])
        if request["op"] == "run_each":  # several runs, each answered as it finishes
            output.limit = request["output_limit"]
            for index, run in enumerate(request["runs"]):
                run = {**run, "op": "run", "exercise": request["exercise"]}
                response = _run(run, sources, failed_imports)
                response["output"] = output.take()
                response["index"] = index
                _answer(sock, request, response, sources, server)
                if not response["ok"]:
                    break  # as separate calls would: nothing after a failure runs
            continue
        output.limit = request["output_limit"]
        response = _run(request, sources, failed_imports)
        response["output"] = output.take()
        _answer(sock, request, response, sources, server)


def _answer(
    sock: socket.socket,
    request: dict[str, Any],
    response: dict[str, Any],
    sources: dict[str, str],
    server: int,
) -> None:
    """Send the answer to ``request``; one whose result cannot be encoded says so instead."""
    if os.getpid() != server:
        os._exit(0)  # a fork made by the submission came back here: only the child answers
    response["id"] = request["id"]  # so the grader can drop answers to other requests
    try:
        protocol.send(sock, response)
    except Exception as error:  # the result could not be encoded
        response.pop("result", None)
        response.update(ok=False, error=_describe(error, sources, kind="unencodable"))
        protocol.send(sock, response)


def _seed_everything(seed: int) -> None:
    """The same grading seed gives a submission the same random numbers, whatever it uses."""
    import random

    import numpy

    random.seed(seed)
    numpy.random.seed(seed % 2**32)
    # Not torch.manual_seed: it also queues the seed for CUDA, XPU and MTIA, recording a
    # stack trace for each (3 ms a child), and a sandboxed child computes on the CPU only.
    torch.default_generator.manual_seed(seed)


def _run(
    request: dict[str, Any], sources: dict[str, str], failed_imports: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    exercise = request["exercise"]
    if exercise in failed_imports:
        return {"ok": False, "error": failed_imports[exercise], "events": watch.events()}
    watch.reset()
    try:
        module = importlib.import_module(exercise)
    except BaseException as error:
        failed_imports[exercise] = _describe(error, sources, kind="import")
        return {"ok": False, "error": failed_imports[exercise], "events": watch.events()}
    if request["op"] == "load":
        _stand_in(module, request.get("stand_ins") or {})
        return {"ok": True, "events": watch.events()}
    watch.reset()
    probe = probes.PROBES[request["probe"]].run
    try:
        with torch.no_grad() if request["no_grad"] else nullcontext():
            result = probe(module, **request["inputs"])
        response = {"ok": True, "result": result}
    except BaseException as error:  # SystemExit and KeyboardInterrupt included
        response = {"ok": False, "error": _describe(error, sources)}
    response["events"] = watch.events()
    return response


def _stand_in(module: ModuleType, stand_ins: dict[str, str]) -> None:
    """Bind correct functions (source from the grader) in place of the submission's, under
    every module-level name the submission gave its own (``act = sigmoid`` included)."""
    for name, source in stand_ins.items():
        namespace: dict[str, Any] = {}
        exec(compile(source, f"<correct {name}>", "exec", dont_inherit=True), namespace)
        own = module.__dict__.get(name)
        for key, value in list(module.__dict__.items()):
            if own is not None and value is own:
                module.__dict__[key] = namespace[name]
        module.__dict__[name] = namespace[name]


def _describe(
    error: BaseException, sources: dict[str, str], kind: str | None = None
) -> dict[str, Any]:
    """Plain facts about an exception, with the submission's own traceback lines only."""
    message = str(error) or type(error).__name__
    if kind is None:
        if type(error) is NotImplementedError and not str(error):
            # nbgrader's released stubs raise a bare NotImplementedError(): name the
            # function as our stubs do.
            message = _raised_in(error, sources) or message
        kind = _kind(error, message)
    if isinstance(error, SyntaxError) and error.filename in {f"{name}.py" for name in sources}:
        kind = "syntax"
        lines = [
            f'  File "{error.filename}", line {error.lineno}',
            f"    {(error.text or '').strip()}",
        ]
    else:
        frames = [
            frame
            for frame in traceback.extract_tb(error.__traceback__)
            if frame.filename.removesuffix(".py") in sources
        ]
        lines = traceback.format_list(frames)
    return {
        "kind": kind,
        "type": type(error).__name__,
        "message": message[:2000],
        "traceback": "".join(lines)[-4000:],
    }


def _raised_in(error: BaseException, sources: dict[str, str]) -> str | None:
    """``exercise: function`` of the submission's innermost frame in ``error``'s traceback."""
    codes = [
        frame.f_code
        for frame, _ in traceback.walk_tb(error.__traceback__)
        if frame.f_code.co_filename.removesuffix(".py") in sources
    ]
    if not codes:
        return None
    return f"{codes[-1].co_filename.removesuffix('.py')}: {codes[-1].co_qualname}"


def _kind(error: BaseException, message: str) -> str:
    if isinstance(error, NotImplementedError) and _UNFINISHED.match(message):
        return "not_implemented"
    if isinstance(error, probes.MissingFunction):
        return "missing_function"
    if isinstance(error, probes.ProbeError):
        return "probe"
    if isinstance(error, SystemExit | KeyboardInterrupt):
        return "exit"
    if isinstance(error, MemoryError) or "can't allocate memory" in message:
        return "memory"
    if isinstance(error, RecursionError):
        return "recursion"
    return "exception"
