"""The zygote: a warm, clean process that forks one confined child per request.

Started by the grader as ``python -m grader.sandbox.inside.zygote FD`` with a control socket.
It imports and warms torch, numpy and matplotlib once, so that a child costs a fork
(~20 ms) instead of a fresh interpreter (~1.5 s). A forked child can read all of its
parent's memory, so the zygote never holds anything secret: no reference solutions, no
hidden checks, no expected values, no other student's code (the child receives its
submission's source over its own socket, after the fork).

Control messages are JSON datagrams; the answer to ``spawn`` carries the grader's end of
the child's socket (SCM_RIGHTS), so the grader then talks to the child directly.
"""

from __future__ import annotations

import os

# Before torch is imported: OpenMP threads in a parent deadlock forked children.
os.environ.update(OMP_THREAD_LIMIT="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg")

import contextlib
import ctypes
import gc
import json
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from grader.sandbox.confine import apply as isolation
from grader.sandbox.inside import child, deferred_imports, huge_pages, probes, watch
from grader.sandbox.inside.scratch import make_scratch_root

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# A zygote that has forked this many children (two submissions' worth) is serving a batch:
# its memory is then collapsed into huge pages, which pays for itself within ~30 forks.
HUGE_PAGES_AFTER_SPAWNS = 8
# Imported once here so that every child inherits them ready (speed). Any other module of the
# interpreter still imports in the child; only on a host that can drop the uid but has no mount
# namespace to reveal an interpreter the uid cannot reach (pyenv under /root) is this the list.
PRELOADED = (
    # the standard library a course exercise may reasonably use
    "abc", "array", "bisect", "collections", "copy", "dataclasses", "decimal", "enum",
    "fractions", "functools", "heapq", "itertools", "json", "math", "numbers", "operator",
    "random", "re", "statistics", "string", "textwrap", "time", "typing", "warnings",
    # and the scientific stack
    "numpy", "numpy.linalg", "numpy.random", "matplotlib", "matplotlib.pyplot",
    "matplotlib.figure", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.optim",
    "torch.utils.data", "torch.func", "torch.autograd.functional",
)  # fmt: skip


def prepare() -> None:
    """Import and exercise what a child will need, so the child inherits it ready. Also run
    by a process that forks the zygote (grader/sandbox/host/launch.py), which then pays
    this once for both."""
    import importlib

    deferred_imports.install()  # before an optimizer step or an explicit gradient imports them
    torch.set_num_threads(1)
    for name in PRELOADED:
        importlib.import_module(name)
    import matplotlib.pyplot as plt

    model = torch.nn.Sequential(torch.nn.Linear(1, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    torch.nn.MSELoss()(model(torch.randn(4, 1)), torch.randn(4, 1)).backward()
    model(torch.randn(4, 1)).backward(torch.ones(4, 1))  # an explicit gradient imports sympy
    optimizer.step()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    figure, axes = plt.subplots()
    axes.scatter([0.0, 1.0], [1.0, 0.0], label="a")
    axes.plot([0.0, 1.0], [0.0, 1.0], label="b")
    axes.set_title("warm")
    axes.legend()
    figure.canvas.draw()  # loads fonts
    plt.close(figure)
    _freeze()


def _freeze() -> None:
    # What is loaded by now (about 260,000 objects of torch, numpy and matplotlib) lives as
    # long as the process: frozen objects are left out of collections, so neither this
    # process (a grader collects dozens of times a second while it checks) nor a child forked from
    # it walks them again. In a child, walking them would also copy every page they share
    # with the zygote.
    gc.collect()
    gc.freeze()


def warm() -> None:
    """Everything ready for the children: prepared, the run-time watch installed, memory
    frozen for copy-on-write."""
    prepare()
    watch.install()
    _freeze()


def main(control_fd: int, probe_modules: tuple[str, ...]) -> None:
    """Serve the grader: ``spawn`` hands over a confined child, ``kill`` and ``release``
    end one (``kill`` answers with how it ended). One spare child is forked ahead of
    time, while the grader runs checks, so that a spawn costs no waiting; the grader
    spawns a submission's next child before it releases the last one, so that the spawn
    does not wait for the last one to be reaped either."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the grader
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of children become ours to kill
    control = socket.socket(fileno=control_fd)
    probes.load(probe_modules)  # the course's probes: trusted code that holds nothing secret
    warm()
    host = [layer.__dict__ for layer in isolation.host_layers(want_uid=True)]
    control.send(json.dumps({"ready": True, "host_layers": host}).encode())
    # also removes the scratch roots of zygotes that were killed
    once = _Once(make_scratch_root(), isolation.readable_paths(), isolation.prepare())
    scratch_dirs: dict[int, Path] = {}
    spare: _Spare | None = None
    handed_over: set[int] = set()  # children the grader holds and has not ended yet
    settings: dict[str, Any] | None = None  # of the last spawn: the spare is made alike
    spawns = 0
    try:
        while True:
            message = control.recv(65536)
            if not message:
                return
            request = json.loads(message)
            if request["op"] == "spawn":
                settings = request["settings"]
                if spare is not None and spare.settings != settings:
                    _end(spare.pid, scratch_dirs, keep=handed_over)
                    spare = None
                spare = spare or _fork_child(settings, control, once, scratch_dirs)
                socket.send_fds(
                    control, [json.dumps({"pid": spare.pid}).encode()], [spare.socket.fileno()]
                )
                spare.socket.close()
                handed_over.add(spare.pid)
                spare = None
                spawns += 1
                if spawns == HUGE_PAGES_AFTER_SPAWNS:  # while the grader works with that child
                    huge_pages.collapse()
            else:  # kill (answer how it ended) or release (no answer)
                handed_over.discard(request["pid"])
                keep = handed_over | ({spare.pid} if spare else set())
                status = _end(request["pid"], scratch_dirs, keep)
                if request["op"] == "kill":
                    control.send(json.dumps(status).encode())
            if spare is None and settings is not None:
                spare = _fork_child(settings, control, once, scratch_dirs)
    finally:
        _kill_all()
        shutil.rmtree(once.scratch_root, ignore_errors=True)


@dataclass(frozen=True)
class _Once:
    """What the zygote works out once for all the children it forks."""

    scratch_root: Path  # each child's scratch folder is made in it
    readable: tuple[Path, ...]
    prepared: isolation.Prepared


@dataclass
class _Spare:
    pid: int
    socket: socket.socket  # the grader's end of the child's socket
    settings: dict[str, Any]


def _fork_child(
    settings: dict[str, Any], control: socket.socket, once: _Once, scratch_dirs: dict[int, Path]
) -> _Spare:
    """Fork a confined child that waits on its socket for the grader."""
    uid = settings["uid"]
    scratch = Path(tempfile.mkdtemp(dir=once.scratch_root))
    if uid is not None and os.geteuid() == 0:
        os.chown(scratch, uid, uid)
    confinement = isolation.Confinement(
        scratch=scratch,
        readable=once.readable,
        uid=uid,
        memory_bytes=settings["memory_bytes"],
        cpu_seconds=settings["cpu_seconds"],
        max_processes=settings["max_processes"],
        max_file_bytes=settings["max_file_bytes"],
        max_open_files=settings["max_open_files"],
    )
    grader_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            control.close()
            grader_end.close()
            _become_child(child_end.detach(), confinement, once.prepared)
            code = 0
        finally:
            os._exit(code)
    child_end.close()
    scratch_dirs[pid] = scratch
    return _Spare(pid, grader_end, settings)


def _end(pid: int, scratch_dirs: dict[int, Path], keep: Set[int]) -> dict[str, Any]:
    status = _kill(pid, keep)
    shutil.rmtree(scratch_dirs.pop(pid, ""), ignore_errors=True)
    return status


def _become_child(
    fd: int, confinement: isolation.Confinement, prepared: isolation.Prepared
) -> None:
    """In the forked child: keep only its socket, confine, then serve the grader."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)  # C-level output is dropped; Python's is captured per call
    os.closerange(3, fd)
    os.closerange(fd + 1, 1 << 16)
    sock = socket.socket(fileno=fd)
    layers = isolation.confine(confinement, prepared)
    child.serve(sock, [layer.__dict__ for layer in layers])


_exit_statuses: dict[int, int] = {}  # reaped children by pid, until asked for


def _kill(pid: int, keep: Set[int]) -> dict[str, Any]:
    """Kill a child and everything it started; return once all of it is reaped.

    The zygote is a child subreaper, so whatever the child started and orphaned is
    reparented here: kill and reap until no process below the zygote is left but the
    children in ``keep`` (the spare, and those the grader holds) and what they started.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    _kill_all(keep, until=lambda: pid in _exit_statuses)
    status = _exit_statuses.pop(pid)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit_code": os.WEXITSTATUS(status)}


def _kill_all(keep: Set[int] = frozenset(), until: Callable[[], bool] = lambda: True) -> None:
    """Kill every process below this one but ``keep`` and theirs; reap them, until ``until()``."""
    while True:
        remaining = _descendants(skip=keep)
        for pid in remaining:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        while True:
            try:
                reaped, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if reaped == 0:
                break
            _exit_statuses[reaped] = code  # any child's, perhaps the spare's: kept for later
        if not remaining and until():
            return
        time.sleep(0.001)


def _descendants(skip: Set[int] = frozenset()) -> list[int]:
    """Every live process below this one, orphans reparented to us included, but those
    in ``skip`` and below them."""
    found: list[int] = []
    frontier = [os.getpid()]
    while frontier:
        parent = frontier.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue  # gone already
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as children:
                    pids = [int(pid) for pid in children.read().split()]
            except OSError:
                continue
            pids = [pid for pid in pids if pid not in skip]
            found += pids
            frontier += pids
    return found


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError, ConnectionError):  # the grader went away
        main(int(sys.argv[1]), tuple(sys.argv[2:]))
    os._exit(0)  # skip interpreter teardown (about 1 s with torch loaded): nothing is left to flush
