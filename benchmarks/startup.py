"""What a cold `grader grade` costs against PyTorch's own start-up. Prints figures of one run.

    .venv/bin/python benchmarks/startup.py [--repeat 3] [--grader-root DIR]

The yardstick is a bare interpreter that imports torch and takes one Adam step (what any
PyTorch program pays before it does anything); absolute times vary from machine to machine,
so the figure that matters is the ratio, measured side by side: a cold `grader grade` of
the reference solutions, pinned to one core (``taskset -c 0``, as on Gradescope's half
vCPU) and on every core. ``--grader-root`` grades with another checkout too (an older
commit, say), in the same run, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
YARDSTICK = (
    "import torch\n"
    "model = torch.nn.Linear(1, 1)\n"
    "optimizer = torch.optim.Adam(model.parameters())\n"
    "model(torch.ones(1, 1)).sum().backward()\n"
    "optimizer.step()\n"
)


def _seconds(command: list[str], cwd: Path, repeat: int) -> float:
    """Median wall-clock seconds of ``command`` over ``repeat`` runs (it must succeed)."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grader-root", type=Path, action="append", default=[])
    args = parser.parse_args()
    pinned = ["taskset", "-c", "0"] if shutil.which("taskset") else None
    out = Path(tempfile.mkdtemp(prefix="startup-"))
    try:
        rows = []
        for cores, prefix in (("1 core", pinned), (f"{os.cpu_count()} cores", [])):
            if prefix is None:
                continue
            yardstick = _seconds([*prefix, sys.executable, "-c", YARDSTICK], ROOT, args.repeat)
            rows.append((cores, "python: import torch + one Adam step", yardstick, 1.0))
            for root in (ROOT, *args.grader_root):
                grade = [*prefix, sys.executable, "-m", "grader", "grade", "solutions",
                         "--results", str(out / "results.json"), "--seed", "1"]  # fmt: skip
                seconds = _seconds(grade, root.resolve(), args.repeat)
                label = "grader grade solutions" + ("" if root == ROOT else f" ({root})")
                rows.append((cores, label, seconds, seconds / yardstick))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    print(f"median of {args.repeat} runs, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for cores, label, seconds, ratio in rows:
        print(f"{cores:>8}  {label:<60} {seconds:6.2f} s  {ratio:5.2f}x")


if __name__ == "__main__":
    main()
