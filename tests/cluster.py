"""A real Dask cluster for the tests: a scheduler and grading workers on 127.0.0.1 only,
stopped (process group and all) whatever happens. Also used by benchmarks/cluster.py."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")


@dataclass
class Cluster:
    address: str
    scheduler_file: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    logs: Path = Path()

    def add_worker(self, course: Path | None = None, wait: bool = True) -> subprocess.Popen:
        """A grading worker (no nanny: a SIGKILL ends it for good), ready when this returns."""
        env = dict(os.environ, GRADER_COURSE=str(course)) if course else dict(os.environ)
        env.pop("GRADER_COURSE", None) if course is None else None
        log = open(self.logs / f"worker-{len(self.workers)}.log", "w")  # noqa: SIM115
        worker = subprocess.Popen(
            [DASK, "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
             "--host", "127.0.0.1", "--preload", "grader.cluster"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        self.workers.append(worker)
        if wait:
            self.wait_for(len([w for w in self.workers if w.poll() is None]))
        return worker

    def wait_for(self, count: int, timeout: float = 120) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=timeout)

    def stop(self) -> None:
        for process in [*self.workers, self.scheduler]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def local_cluster(folder: Path, workers: int = 2, course: Path | None = None) -> Iterator[Cluster]:
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)  # a stale one would name a dead scheduler
    log = open(folder / "scheduler.log", "w")  # noqa: SIM115
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    cluster = Cluster("", scheduler_file, scheduler, logs=folder)
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.is_file():
            if time.monotonic() > deadline or scheduler.poll() is not None:
                raise RuntimeError(f"the scheduler did not start: {folder / 'scheduler.log'}")
            time.sleep(0.1)
        cluster.address = json.loads(scheduler_file.read_text())["address"]
        assert cluster.address.startswith("tcp://127.0.0.1:"), cluster.address
        for _ in range(workers):
            cluster.add_worker(course, wait=False)
        cluster.wait_for(workers)
        yield cluster
    finally:
        cluster.stop()
