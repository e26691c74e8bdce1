"""How fast is grading, and what does the sandbox cost? Prints figures from one run.

    .venv/bin/python benchmarks/grading_speed.py [--submissions 40] [--fresh 3]

Grades the same class three ways, side by side on this machine:

1. ``grader batch`` (the product: sandboxed, every core);
2. the same hidden checks in this one process with the student code imported here,
   no isolation at all (what the checks' computations cost by themselves);
3. ``grader grade`` once per submission (a fresh interpreter and zygote each time).

The class cycles through the reference solutions and a few broken variants from
samples/mistakes.py. Times are wall clock; "core-seconds" multiply by the cores used.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from grader.course import load_course  # noqa: E402
from grader.grading.plugin import GradingSession, run_checks  # noqa: E402
from grader.grading.submission import Submission, load_submission  # noqa: E402
from grader.sandbox.host.client import Reply, StudentError  # noqa: E402
from grader.sandbox.inside import probes, watch  # noqa: E402
from grader.sandbox.inside.child import _stand_in as bind_stand_ins  # noqa: E402
from grader.sandbox.inside.zygote import prepare  # noqa: E402
from grader.sandbox.wire import protocol  # noqa: E402
from samples.make_class import write_submission  # noqa: E402
from samples.mistakes import MISTAKES  # noqa: E402

VARIANTS = (None, "sigmoid_naive", "backward_no_mean", "module_no_relu", "train_no_zero_grad")


def make_class(folder: Path, count: int) -> list[Path]:
    course = load_course()
    mistakes = {m.student: m for m in MISTAKES}
    paths = []
    for index in range(count):
        variant = VARIANTS[index % len(VARIANTS)]
        path = folder / f"student{index:03d}_{variant or 'reference'}"
        write_submission(path, course, mistakes.get(variant))
        paths.append(path)
    return paths


class _PeakMemory:
    """Peak total resident memory of a process tree, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.running = pid, 0, True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()

    def _sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, sum(_rss(p) for p in _tree(self.pid)))
            time.sleep(0.05)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return self.peak


def _tree(root: int) -> list[int]:
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        for task in _listdir(f"/proc/{parent}/task"):
            try:
                children = [
                    int(p) for p in Path(f"/proc/{parent}/task/{task}/children").read_text().split()
                ]
            except OSError:
                continue
            found += children
            frontier += children
    return found


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_batch(folder: Path, out: Path) -> tuple[float, int]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "--seed", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    memory = _PeakMemory(process.pid)
    if process.wait() != 0:
        raise SystemExit("grader batch failed")
    return time.perf_counter() - started, memory.stop()


class _InProcess:
    """Stands in for the sandbox: imports the student's code into this process. Never
    use this to grade: it is here only to measure what isolation costs."""

    def __init__(self, submission: Submission) -> None:
        self.sources = submission.sources
        self.modules: dict[tuple[str, ...], Any] = {}
        self.layers: list[dict[str, Any]] = []

    def run(
        self,
        exercise: str,
        probe: str,
        inputs: dict[str, Any],
        limits: Any,
        no_grad: bool = False,
        shared: bool = False,
        stand_ins: dict[str, str] | None = None,
    ) -> Reply:
        key = (exercise, *sorted(stand_ins or {}))  # a module per set of stand-ins, as there
        if key not in self.modules:
            spec = importlib.util.spec_from_loader(exercise, loader=None)
            module = importlib.util.module_from_spec(spec)
            exec(compile(self.sources[exercise], f"{exercise}.py", "exec"), module.__dict__)
            bind_stand_ins(module, stand_ins or {})
            self.modules[key] = module
        watch.reset()
        try:
            with torch.no_grad() if no_grad else torch.enable_grad():
                result = probes.PROBES[probe].run(self.modules[key], **_copied(inputs))
        except Exception as error:
            raise StudentError("exception", type(error).__name__, str(error)) from None
        return Reply(_copied(result), watch.events(), "")

    def run_each(
        self,
        exercise: str,
        probe: str,
        each: list[dict[str, Any]],
        limits: Any,
        no_grad: bool = False,
        stand_ins: dict[str, str] | None = None,
    ) -> Iterator[Any]:
        for inputs in each:
            try:
                yield self.run(exercise, probe, inputs, limits, no_grad, False, stand_ins)
            except StudentError as error:
                yield error
                return

    def close(self) -> None:
        pass


def _copied(value: Any) -> Any:
    """A copy as the sandbox's wire would give it: plain data, no autograd graph."""
    return protocol.decode(*protocol.encode(value))


class _InProcessSession(GradingSession):
    def sandbox_for(self, submission: Submission, seed: int) -> Any:
        return _InProcess(submission)

    def zygote_died(self) -> bool:
        return False  # there is none


def run_in_process(paths: list[Path]) -> float:
    course = load_course()
    ids = [e.id for e in course.exercises]
    submissions = [load_submission(path, ids) for path in paths]
    prepare()
    watch.install()
    grades: list[Any] = []
    session = _InProcessSession(
        course=course,
        submissions=[(submission, 1) for submission in submissions],
        exercises=ids,
        zygote=None,  # type: ignore[arg-type]
        uid=None,
        on_grade=grades.append,
        host_layers=[],
    )
    started = time.perf_counter()
    run_checks(session)
    elapsed = time.perf_counter() - started
    broken = [c.check for grade in grades for c in grade.checks if c.status == "error"]
    assert len(grades) == len(submissions) and not broken, broken  # no internal error
    return elapsed


def run_fresh(paths: list[Path], out: Path) -> float:
    started = time.perf_counter()
    for path in paths:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "grader",
                "grade",
                str(path),
                "--results",
                str(out / f"{path.name}.json"),
                "--seed",
                "1",
            ],
            cwd=ROOT,
            capture_output=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"grader grade failed: {done.stderr.decode()[-500:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument(
        "--fresh", type=int, default=3, help="submissions graded one `grader grade` each"
    )
    args = parser.parse_args()
    cores, n, small = os.cpu_count() or 1, args.submissions, 4
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        paths = make_class(folder / "class", n)
        make_class(folder / "small", small)
        # Two class sizes separate the fixed start-up from the cost of each submission.
        small_seconds, _ = run_batch(folder / "small", folder / "small-out")
        batch_seconds, batch_memory = run_batch(folder / "class", folder / "out")
        fresh_seconds = run_fresh(paths[: args.fresh], folder)
        inline_seconds = run_in_process(paths)
    marginal = (batch_seconds - small_seconds) / (n - small)
    startup = small_seconds - small * marginal
    fresh_each, inline_each = fresh_seconds / args.fresh, inline_seconds / n
    rows = [
        ("grader batch (sandboxed, all cores)", batch_seconds, marginal, marginal * cores),
        ("same checks in-process, no isolation", inline_seconds, inline_each, inline_each),
        ("grader grade, a fresh process each", fresh_seconds, fresh_each, fresh_each),
    ]
    print(
        f"machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}"
    )
    print(f"class: {n} submissions ({', '.join(v or 'reference' for v in VARIANTS)}, in turn)")
    print(f"\n{'':40} {'wall s':>8} {'s/submission':>13} {'core-s/sub':>11}")
    for name, wall, each, core_seconds in rows:
        print(f"{name:40} {wall:8.1f} {each:13.3f} {core_seconds:11.3f}")
    print(f"\nbatch start-up (workers and zygotes warming up): {startup:.1f} s")
    print(f"submissions per second once started: {1 / marginal:.2f}")
    print(f"peak memory of the batch (all its processes): {batch_memory / 2**20:.0f} MiB")
    print(f"sandboxed vs in-process, per core-second: {marginal * cores / inline_each:.2f}x")
    print(f"fresh process per submission vs batch: {fresh_each / marginal:.1f}x slower")
    print(f"a class of 200, extrapolated: {startup + 200 * marginal:.0f} s")


if __name__ == "__main__":
    main()
