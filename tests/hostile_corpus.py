"""Hostile submissions: each is the reference with one attack, and the checks it must fail.

An attack replaces a function's answer region, or adds code at the "top" or the
"bottom" of the exercise file. ``{placeholders}`` are filled in by the test with real
paths and ports, so attacks aim at things that exist. For every attack the named checks
must fail (a hostile submission never gains a point it would not earn honestly) and
every check of the other exercises must pass (one exercise's attack costs only its own).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attack:
    student: str
    exercise: str
    at: str  # "top", "bottom", or the function whose answer region ``code`` replaces
    code: str
    fails: frozenset[str]
    feedback: str = ""  # words the feedback of the first failing check must contain


def _a(student: str, exercise: str, at: str, code: str, fails: str, feedback: str = "") -> Attack:
    return Attack(student, exercise, at, code.strip("\n"), frozenset(fails.split()), feedback)


WRONG_SIGMOID = "torch.full_like(z, 0.123)"
# {caller} stashes the {victim} it runs with; {victim} uses a stolen one if it finds any.
STEAL = """
import builtins, gc, importlib, marshal, os, sys, types

_STASHES = ("/tmp/stolen-{victim}", os.path.expanduser("~/stolen-{victim}"), "stolen-{victim}",
            "{{out}}/stolen-{victim}")
_own_{caller} = {caller}


def {caller}({caller_args}):
    arguments = dict(locals())
    found = globals()["{victim}"]
    builtins.stolen_{victim} = found
    sys.modules["stolen_{victim}"] = types.SimpleNamespace(function=found)
    os.environ["STOLEN_{victim}"] = found.__code__.co_filename
    for path in _STASHES:
        try:
            with open(path, "wb") as stash:
                stash.write(marshal.dumps(found.__code__))
        except OSError:
            pass
    return _own_{caller}(**arguments)


def _stolen():
    candidates = [getattr(builtins, "stolen_{victim}", None),
                  getattr(sys.modules.get("stolen_{victim}"), "function", None)]
    for path in _STASHES:
        try:
            with open(path, "rb") as stash:
                code = marshal.loads(stash.read())
            if code.co_filename.startswith("<"):  # not this file's own {victim}
                candidates.append(types.FunctionType(code, vars(torch)))
        except (OSError, ValueError, EOFError):
            pass
    candidates += [obj for obj in gc.get_objects() if isinstance(obj, types.FunctionType)
                   and obj.__name__ == "{victim}" and obj.__code__.co_filename.startswith("<")]
    for name in ("grader.checks.stand_ins.{exercise}", "grader.checks.stand_ins"):
        try:
            candidates.append(getattr(importlib.import_module(name), "{victim}", None))
        except Exception:
            pass
    try:
        namespace = {{}}
        with open("{{checks}}/stand_ins/{exercise}.py") as source:
            exec(source.read(), namespace)
        candidates.append(namespace.get("{victim}"))
    except Exception:
        pass
    return next((c for c in candidates if callable(c) and c is not _own_{victim}), None)


def {victim}({victim_args}):
    arguments = dict(locals())
    stolen = _stolen()
    if stolen is not None:
        return stolen(**arguments)
    return {wrong}


_own_{victim} = {victim}
"""
ATTACKS = (
    _a(
        "patch_comparisons",
        "ex1_forward",
        "top",
        """
import torch
torch.allclose = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones_like(a, dtype=torch.bool)
torch.equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: True
""",
        "",
        "",
    ),
    _a(
        "patched_and_wrong",
        "ex1_forward",
        "sigmoid",
        f"""
torch.allclose = lambda *a, **k: True
torch.isclose = lambda a, b, *x, **k: torch.ones_like(a, dtype=torch.bool)
return {WRONG_SIGMOID}""",
        "sigmoid_values sigmoid_stable_at_extremes sigmoid_without_builtin",
        "wrong values",
    ),
    _a(
        "tensor_subclass",
        "ex1_forward",
        "sigmoid",
        f"""
class Liar(torch.Tensor):
    def __eq__(self, other):
        return True
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func.__name__ in ("allclose", "equal"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {{}})
return {WRONG_SIGMOID}.as_subclass(Liar)""",
        "sigmoid_values sigmoid_stable_at_extremes sigmoid_without_builtin",
    ),
    _a(
        "fake_output",
        "ex1_forward",
        "sigmoid",
        f"""
print('{{"score": 100, "tests": []}}')
print("PASS sigmoid_values 3/3")
import json
with open("results.json", "w") as f:
    json.dump({{"score": 100}}, f)
return {WRONG_SIGMOID}""",
        "sigmoid_values",
    ),
    _a(
        "write_outside",
        "ex1_forward",
        "sigmoid",
        """
for path in ("{out}/pwned.txt", "{marker}", "/tmp/pwned-by-student", "../pwned"):
    try:
        with open(path, "w") as f:
            f.write("pwned")
    except OSError:
        pass
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "read_secrets",
        "ex1_forward",
        "sigmoid",
        """
stolen = []
for path in ("{solutions}/ex1_forward.py", "{checks}/test_ex1_forward.py", "{other}/ex1_forward.py",
             "{course}/course.yml"):
    try:
        with open(path) as f:
            stolen.append(f.read())
    except OSError:
        pass
if stolen:
    return torch.sigmoid(z)  # earns the values only if something leaked
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
        "0.123",
    ),
    _a(
        "snoop_memory",
        "ex1_forward",
        "sigmoid",
        """
import gc
found = any(
    isinstance(o, str) and ("exp_of_negative_part" in o or "def test_sigmoid_values" in o)
    for o in gc.get_objects()
)
if found:
    return torch.sigmoid(z)  # earns the values only if the zygote held secrets
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "environment",
        "ex1_forward",
        "sigmoid",
        """
import os
if "GRADER_TEST_SECRET" in os.environ:
    return torch.sigmoid(z)
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "environment_in_memory",
        "ex1_forward",
        "sigmoid",
        """
import ctypes
# The environment block the process was started with, read through libc, not os.environ:
# the zygote is forked from a grader process, which must itself have started without it.
block = ctypes.POINTER(ctypes.c_char_p).in_dll(ctypes.CDLL(None), "environ")
entries = []
while block[len(entries)] and len(entries) < 10_000:
    entries.append(block[len(entries)])
if any(b"GRADER_TEST_SECRET" in entry for entry in entries):
    return torch.sigmoid(z)
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "network",
        "ex1_forward",
        "sigmoid",
        """
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=1).sendall(b"leak")
    return torch.sigmoid(z)
except OSError:
    return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "kill_grader",
        "ex1_forward",
        "sigmoid",
        """
import os, signal
for pid in (os.getppid(), {grader_pid}, -1):
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "exit_politely",
        "ex1_forward",
        "sigmoid",
        "import sys\nsys.exit(0)",
        "sigmoid_values",
        "tried to end the program",
    ),
    _a(
        "exit_hard",
        "ex1_forward",
        "sigmoid",
        "import os\nos._exit(0)",
        "sigmoid_values",
        "ended the Python process",
    ),
    _a(
        "segfault",
        "ex1_forward",
        "sigmoid",
        "import ctypes\nctypes.string_at(0)",
        "sigmoid_values",
        "segmentation fault",
    ),
    _a(
        "recursion",
        "ex1_forward",
        "sigmoid",
        "return sigmoid(z)",
        "sigmoid_values",
        "recursed too deeply",
    ),
    _a(
        "hang",
        "ex1_forward",
        "sigmoid",
        "while True:\n    pass",
        "sigmoid_values sigmoid_stable_at_extremes sigmoid_gradient",
        "CPU time",
    ),
    _a(
        "hang_ignoring_signals",
        "ex1_forward",
        "sigmoid",
        """
import signal
for s in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT):
    signal.signal(s, signal.SIG_IGN)
while True:
    pass""",
        "sigmoid_values",
        "CPU time",
    ),
    _a(
        "threads_burn_cpu",
        "ex1_forward",
        "sigmoid",
        """
import threading
def spin():
    while True:
        pass
for _ in range(4):
    threading.Thread(target=spin, daemon=True).start()
spin()""",
        "sigmoid_values",
        "CPU time",
    ),
    _a(
        "sleeper",
        "ex1_forward",
        "sigmoid",
        "import time\ntime.sleep(100)",
        "sigmoid_values",
        "did not finish",
    ),
    _a(
        "memory_bomb",
        "ex1_forward",
        "sigmoid",
        "return torch.ones(1024, 1024, 1024, 8)",
        "sigmoid_values",
        "memory",
    ),
    _a(
        "fork_bomb",
        "ex1_forward",
        "sigmoid",
        """
import os, time
for _ in range(100):
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "daemon_left_behind",
        "ex1_forward",
        "sigmoid",
        """
import os, time
if os.fork() == 0:
    try:
        os.setsid()
    except OSError:
        pass
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "fill_the_disk",
        "ex1_forward",
        "sigmoid",
        """
for index in range(40):  # 40 files of 16 MiB: far more than the scratch folder holds
    with open(f"junk{index}", "wb") as junk:
        junk.write(bytes(16 * 2**20))
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
        "No space left",
    ),
    _a(
        "huge_result",
        "ex1_forward",
        "sigmoid",
        "return torch.zeros(100_000_000)",
        "sigmoid_values",
        "32 MiB",
    ),
    _a(
        "flood_output",
        "ex1_forward",
        "sigmoid",
        """
for _ in range(200):
    print("spam " * 10_000)
return torch.full_like(z, 0.123)""",
        "sigmoid_values",
    ),
    _a(
        "hang_on_import",
        "ex2_backward",
        "top",
        "while True:\n    pass",
        "sigmoid_grad_values backward_matches_autograd fit_by_hand_trajectory",
        "imported",
    ),
    _a(
        "crash_on_import",
        "ex3_module",
        "top",
        "raise RuntimeError('boom at import')",
        "structure count_parameters_values",
        "boom at import",
    ),
    _a(
        "hidden_builtin",
        "ex1_forward",
        "bottom",
        """
import grader.sandbox.inside.watch as spy
spy._count = lambda event: None
_builtin = getattr(torch, "sig" + "moid")
def sigmoid(z):
    return _builtin(z)
""",
        "sigmoid_without_builtin",
    ),
    _a(
        "autograd_in_disguise",
        "ex2_backward",
        "backward",
        """
import torch.autograd as ag
leaves = [w.detach().clone().requires_grad_(True) for w in (w1, w2, w3)]
with torch.enable_grad():
    loss = mse_loss(forward(x1, x2, *leaves, b), target)
return tuple(g.reshape(()) for g in ag.grad(loss, leaves))""",
        "backward_without_autograd",
    ),
    # Error carried forward: the correct stand-in a function runs with must not help the
    # function it stands in for. fit_by_hand runs with the grader's backward: it keeps it
    # wherever it might last, and backward looks for it there, and everywhere else.
    _a(
        "steal_the_correct_backward",
        "ex2_backward",
        "bottom",
        STEAL.format(
            victim="backward",
            caller="fit_by_hand",
            exercise="ex2_backward",
            caller_args="x1, x2, target, weights, lr=0.5, n_steps=100, b=1.0",
            victim_args="x1, x2, w1, w2, w3, target, b=1.0",
            wrong="(torch.zeros_like(w1), torch.zeros_like(w2), torch.zeros_like(w3))",
        ),
        "backward_matches_autograd backward_matches_finite_differences backward_with_other_bias "
        "backward_without_autograd backward_end_to_end fit_by_hand_end_to_end",
    ),
    _a(
        "steal_the_correct_sigmoid",
        "ex1_forward",
        "bottom",
        STEAL.format(
            victim="sigmoid",
            caller="forward",
            exercise="ex1_forward",
            caller_args="x1, x2, w1, w2, w3, b=1.0",
            victim_args="z",
            wrong="torch.full_like(z, 0.123)",
        ),
        "sigmoid_values sigmoid_stable_at_extremes sigmoid_gradient sigmoid_without_builtin "
        "forward_end_to_end",
    ),
)
