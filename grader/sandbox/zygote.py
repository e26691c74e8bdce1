"""The zygote: a warm, clean process that forks one confined child per request.

Started by the grader as ``python -m grader.sandbox.zygote FD`` with a control socket.
It imports and warms torch, numpy and matplotlib once, so that a child costs a fork
(~20 ms) instead of a fresh interpreter (~1.5 s). A forked child can read all of its
parent's memory, so the zygote never holds anything secret: no reference solutions, no
hidden checks, no expected values, no other student's code (the child receives its
submission's source over its own socket, after the fork).

Control messages are JSON datagrams; ``spawn`` carries the child's end of a socketpair
(SCM_RIGHTS), so the grader talks to the child directly.
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
from pathlib import Path
from typing import Any

import torch

from grader.sandbox import child, isolation, watch

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
# Modules a submission may reasonably import. A child that dropped to another uid may be
# unable to read the interpreter's files (pyenv lives under /root, mode 0700), so what it
# can import is what the zygote imported.
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


def warm() -> None:
    """Import and exercise what a child will need, so the child inherits it ready."""
    import importlib

    torch.set_num_threads(1)
    for name in PRELOADED:
        importlib.import_module(name)
    import matplotlib.pyplot as plt

    model = torch.nn.Sequential(torch.nn.Linear(1, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)  # ~1 s of lazy imports
    optimizer.zero_grad()
    torch.nn.MSELoss()(model(torch.randn(4, 1)), torch.randn(4, 1)).backward()
    optimizer.step()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    figure, axes = plt.subplots()
    axes.scatter([0.0, 1.0], [1.0, 0.0], label="a")
    axes.plot([0.0, 1.0], [0.0, 1.0], label="b")
    axes.set_title("warm")
    axes.legend()
    figure.canvas.draw()  # loads fonts
    plt.close(figure)
    watch.install()
    # Children share the zygote's memory copy-on-write; the garbage collector would walk
    # (and so copy) every inherited object. Frozen objects are left out of collections.
    gc.collect()
    gc.freeze()


def main(control_fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # die with the grader
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of children become ours to kill
    control = socket.socket(fileno=control_fd)
    warm()
    host = [layer.__dict__ for layer in isolation.host_layers(want_uid=True)]
    control.send(json.dumps({"ready": True, "host_layers": host}).encode())
    scratch_dirs: dict[int, Path] = {}
    readable = isolation.readable_paths()
    scratch_root = Path(tempfile.mkdtemp(prefix="grader-sandbox-"))
    os.chmod(scratch_root, 0o711)  # children under other uids must reach their own folder
    try:
        while True:
            message, fds, _, _ = socket.recv_fds(control, 65536, 1)
            if not message:
                return
            request = json.loads(message)
            if request["op"] == "spawn":
                pid, scratch = _spawn(request, fds[0], control, scratch_root, readable)
                scratch_dirs[pid] = scratch
                control.send(json.dumps({"pid": pid}).encode())
            elif request["op"] == "kill":
                status = _kill(request["pid"])
                shutil.rmtree(scratch_dirs.pop(request["pid"]), ignore_errors=True)
                control.send(json.dumps(status).encode())
    finally:
        for pid in _descendants():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(scratch_root, ignore_errors=True)


def _spawn(
    request: dict[str, Any],
    fd: int,
    control: socket.socket,
    scratch_root: Path,
    readable: tuple[Path, ...],
) -> tuple[int, Path]:
    uid = request["uid"]
    scratch = Path(tempfile.mkdtemp(dir=scratch_root))
    if uid is not None and os.geteuid() == 0:
        os.chown(scratch, uid, uid)
    confinement = isolation.Confinement(
        scratch=scratch,
        readable=readable,
        uid=uid,
        memory_bytes=request["memory_bytes"],
        cpu_seconds=request["cpu_seconds"],
        max_processes=request["max_processes"],
        max_file_bytes=request["max_file_bytes"],
        max_open_files=request["max_open_files"],
    )
    pid = os.fork()
    if pid == 0:
        code = 70
        try:
            control.close()
            _become_child(fd, confinement)
            code = 0
        finally:
            os._exit(code)
    os.close(fd)
    return pid, scratch


def _become_child(fd: int, confinement: isolation.Confinement) -> None:
    """In the forked child: keep only its socket, confine, then serve the grader."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(devnull, std)  # C-level output is dropped; Python's is captured per call
    os.closerange(3, fd)
    os.closerange(fd + 1, 1 << 16)
    sock = socket.socket(fileno=fd)
    layers = isolation.confine(confinement)
    child.serve(sock, [layer.__dict__ for layer in layers])


def _kill(pid: int) -> dict[str, Any]:
    """Kill a child and everything it started; return once all of it is reaped.

    The zygote is a child subreaper, so whatever the child started and orphaned is
    reparented here: kill and reap until no process below the zygote is left.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    status = None
    while True:
        remaining = _descendants()
        for other in remaining:
            with contextlib.suppress(ProcessLookupError):
                os.kill(other, signal.SIGKILL)
        while True:
            try:
                reaped, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if reaped == 0:
                break
            if reaped == pid:
                status = code
        if not remaining and status is not None:
            break
        time.sleep(0.001)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return {"exit_code": os.WEXITSTATUS(status)}


def _descendants() -> list[int]:
    """Every live process below this one, orphans reparented to us included."""
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
            found += pids
            frontier += pids
    return found


if __name__ == "__main__":
    main(int(sys.argv[1]))
    os._exit(0)  # skip interpreter teardown (about 1 s with torch loaded): nothing is left to flush
