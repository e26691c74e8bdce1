"""A confined child must fail at every attack below, and still do course work.

Each test forks a child from this (torch-warmed) process, confines it with a fresh scratch
directory and uid 64123, runs one function in it and gets a small JSON result back over a pipe.
"""

import os
import platform
import sys

# Before torch is imported: a forked child deadlocks in OpenMP otherwise.
os.environ.setdefault("OMP_THREAD_LIMIT", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import contextlib
import ctypes
import errno
import io
import json
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from grader.sandbox.confine import seccomp
from grader.sandbox.confine.apply import (
    Confinement,
    Prepared,
    confine,
    host_layers,
    prepare,
    readable_paths,
)

torch.set_num_threads(1)  # before any tensor operation, or forked children deadlock

UID = 64123
PROJECT_FILE = Path(__file__).resolve().parents[1] / "pyproject.toml"
HOST = {layer.name: layer for layer in host_layers(want_uid=True)}
DROP_UID = HOST["uid"].active
READABLE = readable_paths()
PREPARED = prepare()  # as the zygote does, once for all its children
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
# Orphaned grandchildren (the child's own children) are reparented to this process, not to an
# init that may never reap them: unreaped zombies of UID would count against RLIMIT_NPROC.
_PR_SET_CHILD_SUBREAPER = 36
_libc.prctl(_PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), *[ctypes.c_ulong(0)] * 3)
# Something for the child to try to read out of this process's memory.
_SECRET = ctypes.create_string_buffer(b"parent-only secret")


def _train_step() -> list[float]:
    """A tiny deterministic training step: matmul, backward, one Adam step."""
    torch.manual_seed(0)
    x = torch.randn(16, 3)
    y = x @ torch.tensor([[1.0], [2.0], [-1.0]]) + 0.5
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _numpy_work() -> list[float]:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 20)) + 20 * np.eye(20)
    return [float(np.linalg.det(a)), float(np.linalg.inv(a).sum()), float(np.fft.fft(a[0]).real[1])]


def _warm() -> None:
    """Do once here what the children will do: lazy imports happen before the fork (speed)."""
    _train_step()
    _numpy_work()
    "localhost".encode("idna")  # socket.create_connection() imports this codec lazily
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    ax.set_title("warm")
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


_warm()


@pytest.fixture(params=["compiled once", "built in the child"])
def filter_from(request: pytest.FixtureRequest) -> Prepared | None:
    """The seccomp filter as the zygote's children get it, and as built by the child itself."""
    return PREPARED if request.param == "compiled once" else None


def need(*layers: str) -> pytest.MarkDecorator:
    """Skip unless the host offers every named layer."""
    missing = [f"{n}: {HOST[n].detail}" for n in layers if not HOST[n].active]
    return pytest.mark.skipif(bool(missing), reason="host lacks " + "; ".join(missing))


@dataclass
class Run:
    layers: dict[str, bool]  # what confine() reported
    details: dict[str, str]  # and how it described each layer
    result: Any  # the attack's return value (JSON), None if it raised
    error: str | None  # the exception type the attack raised
    os_errno: int | None  # its errno, for an OSError
    message: str | None  # and its message
    status: int  # the child's wait status
    timed_out: bool

    def assert_active(self, *names: str) -> None:
        for name in names:
            assert self.layers.get(name), f"layer {name} not active in the child: {self.layers}"

    @property
    def exited_cleanly(self) -> bool:
        return os.WIFEXITED(self.status) and os.WEXITSTATUS(self.status) == 0


def _send(fd: int, payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    while data:
        data = data[os.write(fd, data) :]


def _child(conf: Confinement, prepared: Prepared | None, attack: Callable[[], Any], w: int) -> None:
    """Runs in the forked child; never returns."""
    code = 4
    try:
        try:
            layers = confine(conf, prepared)
        except BaseException as exc:
            _send(w, {"confine_error": f"{type(exc).__name__}: {exc}"})
            code = 3
            return
        payload: dict[str, Any] = {
            "layers": {layer.name: layer.active for layer in layers},
            "details": {layer.name: layer.detail for layer in layers},
        }
        try:
            payload["result"] = attack()
        except BaseException as exc:
            payload["error"] = type(exc).__name__
            payload["errno"] = getattr(exc, "errno", None)
            payload["message"] = str(exc)[:500]
        _send(w, payload)
        code = 0
    finally:
        os._exit(code)


def _reap_group(pgid: int) -> None:
    """Kill whatever the child left in its process group and reap it (we are the subreaper)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for _ in range(10_000):
        try:
            os.waitpid(-pgid, 0)
        except ChildProcessError:
            return


def run_confined(
    attack: Callable[[], Any],
    scratch: Path,
    timeout: float = 10.0,
    prepared: Prepared | None = PREPARED,
    **limits: int,
) -> Run:
    """Fork, confine the child with `limits`, run `attack` in it, always kill and reap it.
    ``prepared``: as a zygote's children are (None: the child works everything out itself)."""
    settings = {
        "memory_bytes": 512 << 20,
        "cpu_seconds": 10,
        "max_processes": 16,
        "max_file_bytes": 16 << 20,
        "max_open_files": 64,
        **limits,
    }
    conf = Confinement(scratch=scratch, readable=READABLE, uid=UID, **settings)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child(conf, prepared, attack, w)
    os.close(w)
    status, timed_out = None, False
    try:
        deadline = time.monotonic() + timeout
        while status is None:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status = st
            elif time.monotonic() > deadline:
                timed_out = True
                break
            else:
                time.sleep(0.002)
    finally:
        if status is None:  # still running (timeout or an error here): kill, then reap
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        _reap_group(pid)  # setsid() made the child's pid its process group id
    # The payload is far below a pipe's capacity: the child wrote it all before exiting.
    os.set_blocking(r, False)
    data = b""
    with contextlib.suppress(BlockingIOError):
        while chunk := os.read(r, 1 << 16):
            data += chunk
    os.close(r)
    payload = json.loads(data) if data else {}
    if "confine_error" in payload:
        pytest.fail(f"confine() failed in the child: {payload['confine_error']}")
    return Run(
        layers=payload.get("layers", {}),
        details=payload.get("details", {}),
        result=payload.get("result"),
        error=payload.get("error"),
        os_errno=payload.get("errno"),
        message=payload.get("message"),
        status=status,
        timed_out=timed_out,
    )


def _fresh_dir(mode: int) -> Path:
    # Straight in /tmp, not in tmp_path: pytest's base temp dir is 0700 root, which the dropped
    # uid could not even traverse, so a scratch beneath it would be unusable by absolute path.
    path = Path(tempfile.mkdtemp(prefix="test-isolation-", dir="/tmp"))
    path.chmod(mode)
    return path


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = _fresh_dir(0o700)
    if DROP_UID:
        os.chown(path, UID, UID)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def outside() -> Iterator[Path]:
    """Another tmp dir that file permissions leave wide open: only the sandbox can stop access."""
    path = _fresh_dir(0o777)
    secret = path / "secret.txt"
    secret.write_text("another student's answer")
    secret.chmod(0o666)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# --- what the child must not be able to do ------------------------------------------------------


@need("landlock")
def test_cannot_read_project_folder(scratch: Path) -> None:
    assert PROJECT_FILE.is_file() and PROJECT_FILE.stat().st_mode & stat.S_IROTH
    run = run_confined(lambda: PROJECT_FILE.read_text()[:20], scratch)
    assert run.error == "PermissionError", run
    run.assert_active("landlock")


@need("landlock")
def test_cannot_list_project_folder(scratch: Path) -> None:
    run = run_confined(lambda: os.listdir(PROJECT_FILE.parent), scratch)
    assert run.error == "PermissionError", run
    run.assert_active("landlock")


@need("landlock")
def test_cannot_read_another_tmp_dir(scratch: Path, outside: Path) -> None:
    run = run_confined(lambda: (outside / "secret.txt").read_text(), scratch)
    assert run.error == "PermissionError", run
    run.assert_active("landlock")


@need("landlock")
def test_cannot_write_outside_scratch(scratch: Path, outside: Path) -> None:
    in_tmp = Path("/tmp") / f"planted-{outside.name}"  # /tmp itself is world-writable
    targets = (outside / "planted.txt", outside / "secret.txt", in_tmp)

    def attack() -> dict[str, str]:
        outcome = {}
        for target in targets:
            try:
                target.write_text("planted")
                outcome[str(target)] = "written"
            except OSError as exc:
                outcome[str(target)] = type(exc).__name__
        return outcome

    try:
        run = run_confined(attack, scratch)
        assert not (outside / "planted.txt").exists() and not in_tmp.exists()
    finally:
        in_tmp.unlink(missing_ok=True)
    assert run.result == dict.fromkeys(map(str, targets), "PermissionError"), run
    assert (outside / "secret.txt").read_text() == "another student's answer"
    run.assert_active("landlock")


@need("seccomp")
def test_cannot_connect_to_loopback(scratch: Path, filter_from: Prepared | None) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def attack() -> dict[str, str]:
            outcome = {}
            for address in ("127.0.0.1", "::1"):
                try:
                    socket.create_connection((address, port), timeout=1).close()
                    outcome[address] = "connected"
                except OSError as exc:
                    outcome[address] = type(exc).__name__
            return outcome

        run = run_confined(attack, scratch, prepared=filter_from)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody came
    assert run.error is None, run
    assert set(run.result.values()) == {"PermissionError"}, run
    run.assert_active("seccomp", *(n for n in ("netns", "landlock") if HOST[n].active))


@need("seccomp")
def test_cannot_signal_parent(scratch: Path, filter_from: Prepared | None) -> None:
    received: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    parent = os.getpid()
    import pyseccomp  # here, not at the top: a host without libseccomp only skips this test

    sys_tgkill = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, "tgkill")

    def attack() -> dict[str, str]:
        outcome = {}
        for name, send in (
            ("kill", lambda: os.kill(parent, signal.SIGUSR1)),
            # Signal 0 only probes: were it let through, SIGUSR1 would hit the whole test group.
            ("killpg", lambda: os.killpg(os.getpgid(parent), 0)),
            ("probe", lambda: os.kill(parent, 0)),
            ("itself", lambda: os.kill(os.getpid(), 0)),  # the one pid it may signal
        ):
            try:
                send()
                outcome[name] = "sent"
            except OSError as exc:
                outcome[name] = type(exc).__name__
        args = (sys_tgkill, parent, parent, signal.SIGUSR1)
        res = _libc.syscall(*map(ctypes.c_long, args))
        outcome["tgkill"] = "sent" if res == 0 else errno.errorcode[ctypes.get_errno()]
        return outcome

    try:
        run = run_confined(attack, scratch, prepared=filter_from)
        time.sleep(0.01)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert run.result == {
        "kill": "PermissionError",
        "killpg": "PermissionError",
        "probe": "PermissionError",
        "itself": "sent",
        "tgkill": "EPERM",
    }, run
    assert not received
    run.assert_active("seccomp")


@need("seccomp")
def test_cannot_ptrace_or_read_parent_memory(scratch: Path, filter_from: Prepared | None) -> None:
    parent = os.getpid()
    ptrace_attach = 16

    class IOVec(ctypes.Structure):
        _fields_ = (("base", ctypes.c_void_p), ("len", ctypes.c_size_t))

    def attack() -> dict[str, Any]:
        res = _libc.ptrace(ctypes.c_long(ptrace_attach), ctypes.c_long(parent), None, None)
        outcome: dict[str, Any] = {"ptrace": [res, ctypes.get_errno()]}
        buf = ctypes.create_string_buffer(len(_SECRET))
        local = IOVec(ctypes.addressof(buf), len(buf))
        remote = IOVec(ctypes.addressof(_SECRET), len(_SECRET))  # same address in the parent
        one, no_flags = ctypes.c_ulong(1), ctypes.c_ulong(0)
        res = _libc.process_vm_readv(
            ctypes.c_int(parent), ctypes.byref(local), one, ctypes.byref(remote), one, no_flags
        )
        outcome["process_vm_readv"] = [res, ctypes.get_errno()]
        return outcome

    run = run_confined(attack, scratch, prepared=filter_from)
    assert run.result == {
        "ptrace": [-1, errno.EPERM],
        "process_vm_readv": [-1, errno.EPERM],
    }, run
    run.assert_active("seccomp")


def test_memory_budget_raises_instead_of_killing(scratch: Path) -> None:
    def attack() -> dict[str, Any]:
        small = torch.ones(8 << 20)  # 32 MiB of float32: within budget
        try:
            torch.empty(1 << 30, dtype=torch.uint8)  # 1 GiB: over it
            big = "allocated"
        except RuntimeError as exc:
            big = type(exc).__name__
        return {"small": float(small.sum()), "big": big, "after": float(torch.ones(4).sum())}

    run = run_confined(attack, scratch, memory_bytes=256 << 20)
    assert run.exited_cleanly, run
    assert run.result == {"small": 8 << 20, "big": "RuntimeError", "after": 4.0}, run
    run.assert_active("rlimits")


def test_cpu_budget_kills_the_child(scratch: Path) -> None:
    def attack() -> None:
        while True:
            pass

    started = time.monotonic()
    run = run_confined(attack, scratch, timeout=8.0, cpu_seconds=1)
    assert not run.timed_out, "the CPU limit did not stop the child; the test had to kill it"
    assert os.WIFSIGNALED(run.status), run
    assert os.WTERMSIG(run.status) in (signal.SIGXCPU, signal.SIGKILL), run
    assert time.monotonic() - started < 4


@need("uid")
def test_thread_budget(scratch: Path) -> None:
    limit = 4

    def attack() -> dict[str, Any]:
        release = threading.Event()
        threads, outcome = [], {"started": 0, "error": None}
        for _ in range(3 * limit):
            thread = threading.Thread(target=release.wait)
            try:
                thread.start()
            except RuntimeError as exc:  # "can't start new thread": EAGAIN from clone
                outcome["error"] = str(exc)
                break
            threads.append(thread)
        outcome["started"] = len(threads)
        release.set()
        for thread in threads:
            thread.join()
        return outcome

    run = run_confined(attack, scratch, max_processes=limit)
    assert run.result["error"] == "can't start new thread", run
    assert 0 < run.result["started"] < limit, run  # the main thread counts too
    run.assert_active("rlimits", "uid")


# The raw fork and vfork syscalls (glibc's fork() uses clone), where this test knows them.
_RAW_FORKS = {"x86_64": {"fork": 57, "vfork": 58}}.get(platform.machine(), {})


@need("seccomp")
def test_no_new_processes(scratch: Path, filter_from: Prepared | None) -> None:
    def raw(number: int) -> Callable[[], int]:
        def call() -> int:
            pid = _libc.syscall(number)
            if pid < 0:
                raise OSError(ctypes.get_errno(), "raw syscall refused")
            return pid

        return call

    starts: dict[str, Callable[[], Any]] = {
        "os.fork": os.fork,
        "subprocess": lambda: subprocess.run(["/bin/true"], check=False),
        "posix_spawn": lambda: os.posix_spawn("/bin/true", ["true"], {}),
        **{name: raw(number) for name, number in _RAW_FORKS.items()},
    }

    def attack() -> dict[str, Any]:
        outcome: dict[str, Any] = {}
        for name, start in starts.items():
            try:
                pid = start()
                outcome[name] = "started"
                if pid == 0:
                    os._exit(0)
            except OSError as exc:
                outcome[name] = errno.errorcode.get(exc.errno or 0, str(exc))
        return outcome

    run = run_confined(attack, scratch, prepared=filter_from)
    # EPERM is seccomp's answer; Landlock refusing to execute /bin/true would be EACCES.
    assert run.result == dict.fromkeys(starts, "EPERM"), run
    run.assert_active("seccomp")


def test_file_size_budget(scratch: Path) -> None:
    limit = 1 << 20

    def attack() -> dict[str, Any]:
        target = scratch / "big.bin"
        outcome: dict[str, Any] = {"error": None}
        try:
            with open(target, "wb", buffering=0) as f:
                for _ in range(32):
                    f.write(b"x" * (64 << 10))  # 2 MiB in all
        except OSError as exc:
            outcome["error"] = errno.errorcode.get(exc.errno or 0, str(exc))
        outcome["size"] = target.stat().st_size
        return outcome

    run = run_confined(attack, scratch, max_file_bytes=limit)
    assert run.exited_cleanly, run  # SIGXFSZ is ignored: the write fails instead
    assert run.result == {"error": "EFBIG", "size": limit}, run
    run.assert_active("rlimits")


@need("seccomp")
def test_cannot_leave_process_group(scratch: Path, filter_from: Prepared | None) -> None:
    def try_leave() -> dict[str, str]:
        outcome = {}
        for name, call in (("setsid", os.setsid), ("setpgid", lambda: os.setpgid(0, 0))):
            try:
                call()
                outcome[name] = "left"
            except OSError as exc:
                outcome[name] = type(exc).__name__
        return outcome

    def attack() -> dict[str, Any]:
        return {"leads_own_group": os.getpgrp() == os.getpid(), "child": try_leave()}

    run = run_confined(attack, scratch, prepared=filter_from)
    blocked = {"setsid": "PermissionError", "setpgid": "PermissionError"}
    assert run.result == {"leads_own_group": True, "child": blocked}, run
    run.assert_active("process", "seccomp")


@need("uid")
def test_cannot_regain_root(scratch: Path) -> None:
    def attack() -> dict[str, Any]:
        outcome: dict[str, Any] = {"ids": [*os.getresuid(), *os.getresgid()]}
        for name, call in (("setuid", os.setuid), ("setgid", os.setgid)):
            try:
                call(0)
                outcome[name] = "root"
            except OSError as exc:
                outcome[name] = type(exc).__name__
        return outcome

    run = run_confined(attack, scratch)
    assert run.result == {
        "ids": [UID] * 6,
        "setuid": "PermissionError",
        "setgid": "PermissionError",
    }, run
    run.assert_active("uid", "no_new_privs")


# --- what the child must still be able to do ---------------------------------------------------


def test_every_offered_layer_is_applied(scratch: Path) -> None:
    run = run_confined(lambda: None, scratch)
    assert run.exited_cleanly, run
    assert run.layers == {name: layer.active for name, layer in HOST.items()}
    # One description per layer: the host's probe and the child tell the same story.
    assert run.details == {name: layer.detail for name, layer in HOST.items()}


def test_torch_training_step_works(scratch: Path) -> None:
    run = run_confined(_train_step, scratch)
    assert run.error is None, run
    assert run.result == _train_step()


def test_numpy_works(scratch: Path) -> None:
    run = run_confined(_numpy_work, scratch)
    assert run.error is None, run
    assert run.result == _numpy_work()


def test_matplotlib_figure_saved_in_scratch(scratch: Path) -> None:
    def attack() -> int:
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 3, 2], color="orange", label="prediction")
        ax.set_title("predictions")
        ax.legend()
        fig.savefig(scratch / "plot.png")
        plt.close(fig)
        png = scratch / "plot.png"
        return [png.read_bytes()[:4].hex(), png.stat().st_size, png.stat().st_uid]

    run = run_confined(attack, scratch)
    assert run.error is None, run
    magic, size, owner = run.result
    assert magic == b"\x89PNG".hex() and size > 1000, run
    if DROP_UID:
        assert owner == UID
    if HOST["scratch"].active:  # a tmpfs in the child's own mount namespace: gone with it
        assert not (scratch / "plot.png").exists()


def test_python_thread_works(scratch: Path) -> None:
    def attack() -> list[float]:
        out: list[float] = []
        worker = threading.Thread(target=lambda: out.append(float(torch.arange(10.0).sum())))
        worker.start()
        worker.join(timeout=5)
        return out

    run = run_confined(attack, scratch)
    assert run.result == [45.0], run


def test_scratch_read_write_works(scratch: Path) -> None:
    def attack() -> dict[str, Any]:
        (scratch / "notes.txt").write_text("hello")
        os.mkdir("sub")  # the working directory is scratch
        os.rename(scratch / "notes.txt", "sub/notes.txt")
        with tempfile.NamedTemporaryFile(suffix=".pt") as tmp:  # lands in scratch too
            torch.save(torch.arange(3), tmp.name)
            loaded = torch.load(tmp.name, weights_only=True).tolist()
            in_scratch = Path(tmp.name).parent == scratch
        with open(os.devnull, "w") as null:
            null.write("discarded")
        return {
            "read": Path("sub/notes.txt").read_text(),
            "listing": sorted(os.listdir(scratch)),
            "cwd": os.getcwd(),
            "tensor": loaded,
            "tempfile_in_scratch": in_scratch,
        }

    run = run_confined(attack, scratch)
    assert run.result == {
        "read": "hello",
        "listing": ["sub"],
        "cwd": str(scratch),
        "tensor": [0, 1, 2],
        "tempfile_in_scratch": True,
    }, run


def test_readable_paths_leave_out_the_project_and_homes() -> None:
    project = PROJECT_FILE.parent
    for path in READABLE:
        assert path not in (Path("/"), Path("/tmp"), Path("/home"), Path("/root"), project)
        assert not (path == project or path in project.parents), path
        if project in path.parents:  # only the project's own virtualenv may be granted
            assert path == project / ".venv" or (project / ".venv") in path.parents, path
    venv = Path(sys.prefix).resolve()  # the interpreter's own tree may be anywhere, /tmp too
    outside_venv = [p for p in READABLE if p != venv and venv not in p.parents]
    assert not any(p == Path("/tmp") or Path("/tmp") in p.parents for p in outside_venv)


# What a fresh interpreter of the grader's own can import: the standard library, and numpy,
# matplotlib and torch with every submodule. `antigravity` is left out: importing it opens a web
# browser (a new process), on the host too. Run in a subprocess so this module stays unpolluted.
_HOST_IMPORTABLE = r"""
import importlib, json, pkgutil, sys, warnings
warnings.simplefilter("ignore")
names = sorted(sys.stdlib_module_names - {"antigravity"})
for package in ("numpy", "matplotlib", "torch"):
    root = importlib.import_module(package)
    names += sorted(
        info.name for info in pkgutil.walk_packages(root.__path__, package + ".", onerror=id)
    )
importable = []
for name in names:
    try:
        importlib.import_module(name)
    except BaseException:
        continue
    importable.append(name)
print(json.dumps(importable))
"""


@pytest.fixture(scope="module")
def host_importable() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _HOST_IMPORTABLE], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = json.loads(done.stdout.splitlines()[-1])
    assert {"pdb", "doctest", "sqlite3", "tracemalloc", "torch.nn", "numpy.linalg"} <= set(names)
    return names


def test_every_module_the_host_imports_imports_in_the_child(
    scratch: Path, host_importable: list[str]
) -> None:
    """The interpreter may live where the dropped uid cannot look (pyenv under /root, 0700)."""
    import importlib

    def attack() -> dict[str, str]:
        import warnings

        warnings.simplefilter("ignore")
        failures = {}
        for name in host_importable:
            try:
                importlib.import_module(name)
            except BaseException as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"[:200]
        return failures

    run = run_confined(
        attack, scratch, timeout=300, cpu_seconds=240, memory_bytes=6 << 30, max_open_files=1024
    )
    assert run.error is None and not run.timed_out, run
    assert run.result == {}, f"{len(run.result)} of {len(host_importable)} fail: {run.result}"


def test_what_the_forbidden_modules_offer_still_fails(scratch: Path) -> None:
    """Importing subprocess or socket works; starting a process or opening a socket does not."""

    def attack() -> dict[str, str]:
        import importlib

        outcomes = {}
        for name, act in (
            ("subprocess", lambda m: m.run(["true"], check=False)),
            ("socket", lambda m: m.socket(m.AF_INET, m.SOCK_STREAM)),
            ("multiprocessing", lambda m: m.Process(target=print).start()),
        ):
            try:
                act(importlib.import_module(name))
                outcomes[name] = "allowed"
            except OSError as exc:
                outcomes[name] = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
        return outcomes

    run = run_confined(attack, scratch)
    assert run.error is None, run
    if HOST["seccomp"].active:
        assert run.result == {"subprocess": "EPERM", "socket": "EPERM", "multiprocessing": "EPERM"}


@need("uid", "scratch")
def test_revealing_the_interpreter_reveals_nothing_else_beside_it(scratch: Path) -> None:
    """Only the readable trees come back beneath a directory the uid could not traverse."""
    from grader.sandbox.confine.namespaces import unsearchable_ancestor

    tops = sorted({top for p in READABLE if (top := unsearchable_ancestor(p, UID)) is not None})
    if not tops:
        pytest.skip("every readable tree is already reachable by the sandbox uid")
    secrets = []
    for top in tops:
        secret = top / f".test-isolation-secret-{os.getpid()}"
        secret.write_text("the grader's own file")
        secret.chmod(0o644)  # file modes alone would let anyone who reaches it read it
        secrets.append(secret)
    try:

        def attack() -> dict[str, Any]:
            outcome: dict[str, Any] = {}
            for secret in secrets:
                try:
                    outcome[str(secret)] = secret.read_text()
                except OSError as exc:
                    outcome[str(secret)] = type(exc).__name__
                try:  # Landlock refuses the listing; without it, the tmpfs shows only the trees
                    outcome[f"listing {secret.parent}"] = sorted(os.listdir(secret.parent))
                except OSError as exc:
                    outcome[f"listing {secret.parent}"] = type(exc).__name__
            return outcome

        run = run_confined(attack, scratch)
    finally:
        for secret in secrets:
            secret.unlink()
    assert run.error is None, run
    for top, secret in zip(tops, secrets, strict=True):
        assert run.result[str(secret)] in ("FileNotFoundError", "PermissionError"), run
        listing = run.result[f"listing {secret.parent}"]
        if listing != "PermissionError":
            revealed = {p.relative_to(top).parts[0] for p in READABLE if top in p.parents}
            assert set(listing) <= revealed, listing


@need("seccomp")
def test_a_filter_that_cannot_be_compiled_once_is_built_by_each_child(monkeypatch) -> None:
    build, sc = seccomp.build_filter, seccomp.pyseccomp

    def differs_beyond_the_pid(pid: int):  # as another libseccomp might lay its code out
        filt, unknown = build(pid)
        if pid == seccomp._PLACEHOLDERS[1]:
            filt.add_rule(sc.ERRNO(1), "getpriority", sc.Arg(0, sc.EQ, 7))
        return filt, unknown

    def fails(pid: int):
        raise OSError(5, "libseccomp cannot export")

    assert seccomp.compile_program() is not None
    monkeypatch.setattr(seccomp, "build_filter", differs_beyond_the_pid)
    assert seccomp.compile_program() is None
    monkeypatch.setattr(seccomp, "build_filter", fails)
    assert seccomp.compile_program() is None
