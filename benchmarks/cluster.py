"""Local batch against a Dask cluster of two local workers, in one run. Prints figures.

    .venv/bin/python benchmarks/cluster.py [--students 40]

Side by side on this machine: ``python -c "import torch"`` (the yardstick); the local
batch (its own worker pool, --jobs 2), total and per submission; a cluster's start-up (a
scheduler and two ``dask worker --preload grader.cluster`` until both are ready: what an
embedded LocalCluster would also pay before the first result); the same batch on that
cluster; and a warm ``grader grade --cluster``, both the task alone (submit to result, from
a connected client) and the whole command (which imports Dask and connects first).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.cluster.identity import course_fingerprint  # noqa: E402
from grader.course import load_course  # noqa: E402
from samples.make_class import write_submission  # noqa: E402
from tests.cluster import local_cluster  # noqa: E402


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=40)
    students = parser.parse_args().students
    course = load_course()
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        for index in range(students):
            write_submission(work / "class" / f"s{index:03}", course)
        grader = [sys.executable, "-m", "grader"]
        batch = [*grader, "batch", str(work / "class"), "--seed", "1", "--force"]
        torch = _seconds([sys.executable, "-c", "import torch"])
        local = _seconds([*batch, "--out", str(work / "local"), "--jobs", "2"])
        started = time.perf_counter()
        with local_cluster(work / "cluster", workers=2) as cluster:
            start_up = time.perf_counter() - started
            on_cluster = _seconds(
                [*batch, "--out", str(work / "dask"), "--cluster", cluster.address]
            )
            task = _warm_task(cluster.address, course, work / "class" / "s000")
            command = _seconds([*grader, "grade", str(work / "class" / "s000"), "--results",
                                str(work / "one.json"), "--cluster", cluster.address])  # fmt: skip
            memory = max(_tree_rss(worker.pid) for worker in cluster.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"yardstick: python -c 'import torch'           {torch:6.2f} s")
    print(f"local batch, {students} correct, --jobs 2          {local:6.2f} s"
          f"  ({local / students:.2f} s each, {local / torch:.1f}x the yardstick)")  # fmt: skip
    print(f"cluster start-up: scheduler + 2 workers ready  {start_up:6.2f} s")
    rate = local / on_cluster
    print(f"batch on the cluster (2 workers)               {on_cluster:6.2f} s"
          f"  ({on_cluster / students:.2f} s each; {rate:.2f}x local's rate)")  # fmt: skip
    print(f"  with the start-up, as an embedded LocalCluster {start_up + on_cluster:6.2f} s"
          f"  ({(start_up + on_cluster) / local:.2f}x the local batch)")  # fmt: skip
    print(f"warm grade on the cluster: the task            {task:6.2f} s (median of 5)")
    print(f"warm `grader grade --cluster`: the command     {command:6.2f} s")
    print(f"memory of a worker, its zygote and children    {memory / 2**30:6.2f} GiB (RSS)")


def _tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, in bytes (shared pages counted
    in each: an upper bound)."""
    try:
        children = [
            child
            for task in Path(f"/proc/{pid}/task").glob("*/children")
            for child in task.read_text().split()
        ]
        rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096
    except OSError:  # it ended meanwhile
        return 0
    return rss + sum(_tree_rss(int(child)) for child in children)


def _warm_task(address: str, course, submission: Path) -> float:
    from distributed import Client

    from grader import cluster
    from grader.cluster.run import job
    from grader.grading.submission import load_submission

    loaded = load_submission(submission, [e.id for e in course.exercises])
    task = job(loaded, 1, [e.id for e in course.exercises], False, course_fingerprint(course))
    times = []
    with Client(address, set_as_default=False) as client:
        for index in range(6):
            started = time.perf_counter()
            client.submit(cluster.grade, task, key=f"bench-{index}", pure=False).result()
            times.append(time.perf_counter() - started)
    return sorted(times[1:])[2]


if __name__ == "__main__":
    main()
