"""``grader batch DIR --out OUT``: grade a whole class on every core.

Each sub-folder or .zip of DIR is one student (its name is the student id). Workers
(grader/grading/worker.py, one per core by default, each with its own sandbox zygote and
pytest session) take students one at a time from a queue, so a slow or hostile submission
delays only itself and the workers finish together. Results go to
OUT/<student>/results.json as they come; OUT/grades.csv is written from all results at the
end. Students with results are skipped unless --force.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from grader.course import Course, load_course
from grader.errors import UsageError, WorkerFailed
from grader.escaping import terminal_text
from grader.grading.submission import student_id
from grader.reports.writers import grades_csv, read_results_json
from grader.results import Grade
from grader.sandbox.confine.apply import host_layers, reduced_isolation
from grader.sandbox.host.launch import refuse_without_isolation, zygote_environment
from grader.seeds import new_seed


@dataclass
class _Worker:
    process: subprocess.Popen[str]
    cpu: int | None  # the CPU it is pinned to, if any
    ready: bool = False
    unread: bytes = b""  # a partial message line
    chunk: list[Path] = field(default_factory=list)
    graded: set[str] = field(default_factory=set)


def find_submissions(folder: Path) -> tuple[list[Path], list[str]]:
    """One path per student, and a warning for each entry that cannot be one."""
    by_student: dict[str, list[Path]] = {}
    warnings = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir() or entry.suffix.lower() == ".zip":
            by_student.setdefault(student_id(entry), []).append(entry)
        else:
            warnings.append(f"skipped {entry.name}: a submission is a folder or a .zip file")
    paths = []
    for student, entries in by_student.items():
        if len(entries) > 1:
            names = " and ".join(e.name for e in entries)
            warnings.append(f"skipped {student}: {names} both claim this student id; keep one")
        else:
            paths.append(entries[0])
    return paths, warnings


@dataclass(frozen=True)
class Batch:
    """What is to be graded, as the grading pool or a cluster (grader/cluster/run.py) needs it."""

    course: Course
    todo: list[Path]
    out: Path
    seed: int
    exercises: list[str]
    feedback: bool
    require_isolation: bool


# Grades a batch's submissions elsewhere (on a cluster), writing each result as it comes;
# returns the submissions it could not grade.
Elsewhere = Callable[[Batch, "Progress"], list[Path]]


def main(
    submissions: Path,
    out: Path,
    jobs: int | None = None,
    force: bool = False,
    seed: int | None = None,
    exercises: list[str] | None = None,
    course_root: Path | None = None,
    require_isolation: bool = False,
    feedback: bool = False,
    elsewhere: Elsewhere | None = None,
) -> int:
    course = load_course(course_root)
    exercises = course.select(exercises)
    if not submissions.is_dir():
        raise UsageError(f"{submissions}: not a folder of submissions")
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs {jobs}: give at least 1")
    paths, warnings = find_submissions(submissions)
    for warning in warnings:
        print(terminal_text(f"warning: {warning}"), file=sys.stderr)
    todo = [p for p in paths if force or not (out / student_id(p) / "results.json").is_file()]
    seed = new_seed() if seed is None else seed
    jobs = max(1, min(jobs or usable_cores(), len(todo)))
    where = "on the Dask cluster" if elsewhere else f"with {jobs} worker(s)"
    print(
        f"{len(paths)} submissions, {len(paths) - len(todo)} already graded, {len(todo)} to grade "
        f"{where}, seed {seed} (rerun with --seed {seed} --force to reproduce)"
    )
    if elsewhere is None:
        layers = [layer.__dict__ for layer in host_layers(want_uid=True)]  # the workers' zygotes'
        refuse_without_isolation(require_isolation, layers)
        if notice := reduced_isolation(layers):
            print(terminal_text(f"grader: {notice}"), file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    failed: list[Path] = []
    if todo and elsewhere is not None:
        batch = Batch(course, todo, out, seed, exercises, feedback, require_isolation)
        failed = elsewhere(batch, Progress(len(todo)))
    elif todo:
        settings = {
            "course": str(course.root),
            "out": str(out),
            "seed": seed,
            "exercises": exercises,
            "require_isolation": require_isolation,
            "feedback": feedback,
            "probe_modules": list(course.probe_modules),
        }
        failed = _run_workers(todo, jobs, settings, Progress(len(todo)))
        for path in failed:
            warnings.append(
                f"{student_id(path)}: the grader failed on this submission; see the log above"
            )
    graded = []
    for path in paths:
        grade = _read(out / student_id(path) / "results.json")
        if grade is not None:
            graded.append(grade)
        elif path not in failed:
            warnings.append(
                f"{student_id(path)}: its results.json cannot be read, so it is not in "
                "grades.csv; grade it again with --force"
            )
    (out / "grades.csv").write_text(grades_csv(course, graded), encoding="utf-8")
    elapsed = time.perf_counter() - started
    rate = f", {elapsed / len(todo):.2f} s per submission" if todo else ""
    print(f"graded {len(todo)} in {elapsed:.1f} s{rate}; grades in {out / 'grades.csv'}")
    for warning in warnings:
        print(terminal_text(f"warning: {warning}"))
    return 0


def usable_cores(cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The cores this process may run on: its CPU affinity (taskset, cpusets), capped by a
    cgroup CPU quota (a container given half a vCPU gets 1). Two workers on one core would
    only start up twice as slowly."""
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = cpu_max.read_text().split()
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 quota readable here: the affinity is the limit
    return cores


def worker_cpus(jobs: int, cpus: set[int] | None = None) -> list[int | None]:
    """The CPU each of ``jobs`` workers is pinned to, or None. When every CPU this process may
    run on (``cpus``, its affinity) gets a worker, each worker keeps its grader, zygote and
    children on one CPU: a request and its answer then run where the other's caches are warm
    (a class took 0.96x the time here). With fewer workers than CPUs none is pinned, so that a
    zygote can fork its next child on an idle one."""
    ordered = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    if jobs < len(ordered):
        return [None] * jobs
    return [ordered[i % len(ordered)] for i in range(jobs)]


def _run_workers(
    todo: list[Path], jobs: int, settings: dict[str, Any], progress: Progress
) -> list[Path]:
    """Grade ``todo`` on ``jobs`` workers; return the submissions no worker could grade."""
    queue = deque([path] for path in todo)  # one student a message: they spread out evenly
    retried: set[Path] = set()
    failed: list[Path] = []
    selector = selectors.DefaultSelector()

    def start(cpu: int | None) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "grader.grading.worker", json.dumps(settings | {"cpu": cpu})],
            env=zygote_environment(),  # the worker forks the zygote: no secret of ours in it
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        selector.register(process.stdout, selectors.EVENT_READ, _Worker(process, cpu))

    def feed(worker: _Worker) -> None:
        worker.chunk, worker.graded = (queue.popleft() if queue else []), set()
        if worker.chunk:
            worker.process.stdin.write(json.dumps({"paths": [str(p) for p in worker.chunk]}) + "\n")
        else:
            worker.process.stdin.close()

    for cpu in worker_cpus(jobs):
        start(cpu)
    while selector.get_map():
        for key, _ in selector.select():
            worker: _Worker = key.data
            # Raw reads: a buffered readline() could keep a second message in its buffer,
            # where the selector cannot see it.
            data = os.read(key.fd, 65536)
            if not data:  # the worker ended: normally, or it crashed mid-chunk
                selector.unregister(key.fileobj)
                code = worker.process.wait()
                if not worker.ready:
                    raise WorkerFailed(
                        f"a grading worker stopped before it was ready (exit code {code}); "
                        "see its message above"
                    )
                left = [p for p in worker.chunk if student_id(p) not in worker.graded]
                if code != 0 or left:
                    for path in left:
                        if path in retried:  # alone, in a fresh worker, it failed again
                            failed.append(path)
                        else:
                            retried.add(path)
                            queue.append([path])
                    if queue:
                        start(worker.cpu)  # in its place
                continue
            *lines, worker.unread = (worker.unread + data).split(b"\n")
            for line in lines:
                message = json.loads(line)
                if "graded" in message:
                    worker.graded.add(message["graded"])
                    progress.update(message)
                if "ready" in message or "done" in message:
                    worker.ready = True
                    feed(worker)
    progress.finish()
    return failed


class Progress:
    """A progress bar on stderr (one line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, stream: IO[str] = sys.stderr) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.started = time.perf_counter()
        self.tty = stream.isatty()

    def update(self, message: dict[str, Any]) -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.started
        left = elapsed / self.done * (self.total - self.done)
        bar = "#" * (30 * self.done // self.total)
        student = terminal_text(str(message["graded"]))
        text = (
            f"[{bar:<30}] {self.done}/{self.total}  {elapsed:.0f} s, ~{left:.0f} s left  "
            f"{student}: {message['score']:g}/{message['max_score']:g}"
        )
        if self.tty:
            self.stream.write("\r" + text[:120].ljust(120))
        elif self.done * 10 // self.total != (self.done - 1) * 10 // self.total:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _read(path: Path) -> Grade | None:
    try:
        return read_results_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
