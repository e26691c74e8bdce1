"""What a cold `grader grade` costs against PyTorch's own start-up. Prints figures of one run.

    .venv/bin/python benchmarks/startup.py [--repeat 3] [--grader-root DIR]

The yardstick is a bare interpreter that imports torch and takes one Adam step (what any
PyTorch program pays before it does anything); absolute times vary from machine to machine,
so the figure that matters is the ratio, measured side by side: a cold `grader grade` of
the reference solutions, and how long `grader batch` takes to write its first result (its
start-up: workers, their zygotes, a first submission), each pinned to one core
(``taskset -c 0``, as on Gradescope's half vCPU) and on every core. ``--grader-root``
measures another checkout too (an older commit, say), in the same run, for a before/after
comparison.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.course import load_course  # noqa: E402
from samples.make_class import write_submission  # noqa: E402

YARDSTICK_LABEL = "python: import torch + one Adam step"
YARDSTICK = (
    "import torch\n"
    "model = torch.nn.Linear(1, 1)\n"
    "optimizer = torch.optim.Adam(model.parameters())\n"
    "model(torch.ones(1, 1)).sum().backward()\n"
    "optimizer.step()\n"
)


def _seconds(command: list[str], cwd: Path) -> float:
    """Wall-clock seconds of ``command`` (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _first_result(command: list[str], cwd: Path, out: Path) -> float:
    """Seconds from starting ``command`` (a ``grader batch``) to its first results.json."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = None
    while first is None and process.poll() is None:
        if next(out.glob("*/results.json"), None) is not None:
            first = time.perf_counter() - started
        time.sleep(0.005)
    ended = time.perf_counter() - started  # an upper bound, if it ended between two looks
    _, stderr = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"grader batch failed: {stderr.decode()[-2000:]}")
    return ended if first is None else first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grader-root", type=Path, action="append", default=[])
    args = parser.parse_args()
    pinned = ["taskset", "-c", "0"] if shutil.which("taskset") else None
    work = Path(tempfile.mkdtemp(prefix="startup-"))
    try:
        course = load_course()
        for index in range(4):
            write_submission(work / "class" / f"s{index}", course)
        runs: list[tuple[str, str, Callable[[], float]]] = []  # (cores, label, measure)
        for cores, prefix in (("1 core", pinned), (f"{os.cpu_count()} cores", [])):
            if prefix is None:
                continue
            yardstick = [*prefix, sys.executable, "-c", YARDSTICK]
            runs.append((cores, YARDSTICK_LABEL, functools.partial(_seconds, yardstick, ROOT)))
            for root in (ROOT, *args.grader_root):
                where = "" if root == ROOT else f" ({root})"
                grade = [*prefix, sys.executable, "-m", "grader", "grade", "solutions",
                         "--results", str(work / "results.json"), "--seed", "1"]  # fmt: skip
                batch = [*prefix, sys.executable, "-m", "grader", "batch", str(work / "class"),
                         "--out", str(work / "out"), "--seed", "1", "--force"]  # fmt: skip
                runs.append(
                    (cores, "grader grade solutions" + where,
                     functools.partial(_seconds, grade, root.resolve()))
                )  # fmt: skip
                runs.append(
                    (cores, "grader batch: its first result" + where,
                     functools.partial(_first_result, batch, root.resolve(), work / "out"))
                )  # fmt: skip
        # Interleaved, one round after another, so that a slow spell of this shared machine
        # weighs on every command alike.
        times: dict[tuple[str, str], list[float]] = {(c, label): [] for c, label, _ in runs}
        for _ in range(args.repeat):
            for cores, label, measure in runs:
                times[cores, label].append(measure())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"median of {args.repeat} interleaved runs, {os.cpu_count()} cores, "
          f"Python {sys.version.split()[0]}")  # fmt: skip
    for (cores, label), seconds in times.items():
        median = statistics.median(seconds)
        ratio = median / statistics.median(times[cores, YARDSTICK_LABEL])
        print(f"{cores:>8}  {label:<60} {median:6.2f} s  {ratio:5.2f}x")


if __name__ == "__main__":
    main()
