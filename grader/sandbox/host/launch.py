"""Start the zygote process, and judge the host's layers.

Two ways, one zygote. ``fork_zygote``: a fresh process started with the minimal
environment, that holds nothing secret yet, imports and warms PyTorch once and forks the
zygote from itself, then goes on to load the references and hidden checks: one PyTorch
start-up per grading instead of two (``grader grade`` and batch workers). ``start_zygote``:
a new interpreter with the minimal environment, for a process that already holds secrets
(nbgrader's, a test's); it warms up while the caller imports torch itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import IsolationMissing
from grader.sandbox.confine.apply import missing_layers


class ForkedProcess:
    """A zygote forked from this process: the part of Popen's interface the client uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired("zygote", timeout or 0)
            time.sleep(0.005)
        return self.returncode or 0

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


@dataclass(frozen=True)
class ZygoteProcess:
    process: subprocess.Popen[bytes] | ForkedProcess
    control: socket.socket  # SOCK_SEQPACKET: one JSON message per datagram
    probe_modules: tuple[str, ...]  # the course's probes, imported by the zygote before it forks


def zygote_environment() -> dict[str, str]:
    """A minimal environment: the children inherit it, and the grader's own may hold
    secrets (tokens, passwords) that a submission could otherwise print into feedback."""
    package_parent = str(Path(__file__).resolve().parents[3])  # so `-m grader...` resolves
    return {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        "PYTHONPATH": package_parent,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_THREAD_LIMIT": "1",  # before torch is imported: OpenMP and fork() do not mix
    }


def start_zygote(probe_modules: tuple[str, ...]) -> ZygoteProcess:
    """Start a zygote that imports the course's ``probe_modules`` (trusted, nothing secret)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader.sandbox.inside.zygote",
            str(theirs.fileno()),
            *probe_modules,
        ],
        pass_fds=[theirs.fileno()],
        env=zygote_environment(),
        stdin=subprocess.DEVNULL,
    )
    theirs.close()
    return ZygoteProcess(process, ours, probe_modules)


def fork_zygote(probe_modules: tuple[str, ...]) -> ZygoteProcess:
    """Warm PyTorch here and fork the zygote from this process.

    Only from a process that holds nothing secret yet (started with ``zygote_environment()``,
    before it loads references, hidden checks or expected values: the zygote's children can
    read all of its memory) and that has started no thread.
    """
    from grader.sandbox.inside import zygote

    if threading.active_count() != 1:
        raise RuntimeError("fork_zygote() needs a single-threaded process")
    zygote.prepare()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # the zygote: serve until the grader goes away, never return into its code
        code = 70
        try:
            ours.close()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            with contextlib.suppress(BrokenPipeError, ConnectionError):
                zygote.main(theirs.detach(), probe_modules)
            code = 0
        finally:
            os._exit(code)
    theirs.close()
    return ZygoteProcess(ForkedProcess(pid), ours, probe_modules)


def refuse_without_isolation(require: bool, layers: list[dict[str, Any]]) -> None:
    """--require-isolation: stop before any student code runs if a layer is missing."""
    if require and missing_layers(layers):
        raise IsolationMissing(f"refusing to grade (--require-isolation): {missing_layers(layers)}")
