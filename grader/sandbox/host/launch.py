"""Start the zygote process, without importing torch here, and judge the host's layers.

Kept apart from client.py so that a command can start the zygote warming up (about
5 s: torch, its lazy imports, matplotlib) before it imports torch itself.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import IsolationMissing
from grader.sandbox.confine.apply import missing_layers


@dataclass(frozen=True)
class ZygoteProcess:
    process: subprocess.Popen[bytes]
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


def refuse_without_isolation(require: bool, layers: list[dict[str, Any]]) -> None:
    """--require-isolation: stop before any student code runs if a layer is missing."""
    if require and missing_layers(layers):
        raise IsolationMissing(f"refusing to grade (--require-isolation): {missing_layers(layers)}")
