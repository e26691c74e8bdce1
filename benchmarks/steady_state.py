"""A class of correct submissions graded by `grader batch` on every core, start-up included,
against a bare ``python -c "import torch"``, and where one submission's CPU goes. Prints
figures of one run.

    .venv/bin/python benchmarks/steady_state.py [--students 100] [--pairs 3] [--grader-root DIR]

The batch and the yardstick run in turn, ``--pairs`` times; each pair gives a ratio, and the
median ratio is the figure (this machine's speed drifts by a third within an hour: a ratio
of two commands run side by side drifts far less). ``--grader-root`` times another checkout's
batch in the same pairs, for a before/after comparison. Then one worker grades the class in
this process, the way a batch worker does, and the CPU of each part is read from the
kernel's accounting: the grader (pytest, the checks, the wire), the zygote (forking) and the
children it reaped (the student's code, the probes, confinement, exits); and what a child
that runs nothing costs, the price of each exercise's child of its own.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.course import load_course  # noqa: E402
from grader.grading.batch import usable_cores  # noqa: E402
from samples.make_class import write_submission  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")


def _seconds(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def _batch(root: Path, students: Path, out: Path) -> float:
    command = [sys.executable, "-m", "grader", "batch", str(students), "--out", str(out)]
    return _seconds([*command, "--seed", "1", "--force"], root)


def _children_cpu(pid: int) -> tuple[float, float, float, float]:
    """user, system of a process; user, system of the children it reaped (seconds)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return tuple(int(value) / _TICKS for value in fields[11:15])  # type: ignore[return-value]


def breakdown(students: Path) -> tuple[dict[str, float], dict[str, float]]:
    """CPU milliseconds a submission, by part, for one worker grading ``students``; and
    those of a child that runs nothing."""
    from grader.sandbox.host.launch import fork_zygote

    started = fork_zygote(tuple(load_course().probe_modules))  # as a batch worker does
    from grader.grading.session import grade_submissions, sandbox
    from grader.grading.submission import load_submission
    from grader.sandbox.host.client import Child

    course = load_course()
    ids = [exercise.id for exercise in course.exercises]
    submissions = [load_submission(path, ids) for path in sorted(students.iterdir())]
    requests = [0]
    send = Child.send

    def counting(self: Child, message: dict, limits: object) -> int:
        requests[0] += 1
        return send(self, message, limits)

    Child.send = counting  # type: ignore[method-assign]
    with sandbox(course, started=started) as zygote:
        grade_submissions(course, submissions[:2], 1, zygote)  # warm: caches, huge pages
        grader, zygote_before, requests[0] = os.times(), _children_cpu(zygote.process.pid), 0
        grades = grade_submissions(course, submissions, 1, zygote)
        after, zygote_after = os.times(), _children_cpu(zygote.process.pid)
        empty = _empty_child(zygote, course.exercises[0].limits)
    assert all(grade.score == grade.max_score for grade in grades), "not all correct"
    n = len(submissions) / 1000
    spent = [(b - a) / n for a, b in zip(zygote_before, zygote_after, strict=True)]
    parts = {
        "grader (pytest, checks, wire)": (after.user - grader.user + after.system - grader.system)
        / n,
        "zygote (forking)": spent[0] + spent[1],
        "children, user (student code, probes, wire)": spent[2],
        "children, system (confinement, page copies, exits)": spent[3],
        "requests to the sandbox": requests[0] / len(submissions),
    }
    return parts, {"zygote (fork, scratch folder, reaping)": empty[0], "child": empty[1]}


def _empty_child(zygote: Any, limits: Any, count: int = 40) -> tuple[float, float]:
    """CPU milliseconds of the zygote and of the child for a child that runs nothing: what
    isolating each exercise in a child of its own costs before any check runs."""
    from grader.grading.session import sandbox_uid

    before = _children_cpu(zygote.process.pid)
    for _ in range(count):
        zygote.spawn(limits, sandbox_uid()).release()
    spent = [
        (b - a) * 1000 / count
        for a, b in zip(before, _children_cpu(zygote.process.pid), strict=True)
    ]
    return spent[0] + spent[1], spent[2] + spent[3]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--grader-root", type=Path, help="another checkout, timed alongside")
    args = parser.parse_args()
    course = load_course()
    work = Path(tempfile.mkdtemp(prefix="bench-steady-"))
    try:
        for index in range(args.students):
            write_submission(work / "class" / f"s{index:03}", course)
        rows = []
        for _ in range(args.pairs):
            torch = _seconds([sys.executable, "-c", "import torch"], ROOT)
            ours = _batch(ROOT, work / "class", work / "out")
            other = (
                _batch(args.grader_root, work / "class", work / "other") if args.grader_root else 0
            )
            rows.append((torch, ours, other))
            print(f"import torch {torch:5.2f} s   batch {ours:6.2f} s = {ours / torch:5.1f}x"
                  + (f"   --grader-root {other:6.2f} s = {other / torch:5.1f}x" if other else ""),
                  flush=True)  # fmt: skip
        ratio = statistics.median(ours / torch for torch, ours, _ in rows)
        print(f"\n{args.students} correct submissions, {usable_cores()} workers, start-up "
              f"included: median {ratio:.1f}x a bare `import torch`")  # fmt: skip
        if args.grader_root:
            before = statistics.median(other / torch for torch, _, other in rows)
            change = statistics.median(ours / other for _, ours, other in rows)
            print(
                f"--grader-root: median {before:.1f}x; this checkout takes {change:.2f}x its time"
            )
        parts, empty = breakdown(work / "class")
        print("\nwhere one submission's CPU goes (one worker, ms a submission):")
        for part, value in parts.items():
            print(f"  {part:52s} {value:7.1f}")
        print("a child that runs nothing, spawned, confined and released (ms):")
        for part, value in empty.items():
            print(f"  {part:52s} {value:7.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
