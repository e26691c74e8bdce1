"""Grading on a Dask cluster. This module is the workers' preload, and names their tasks:

    GRADER_COURSE=/path/to/course dask worker tls://scheduler:8786 --nthreads 1 \
        --preload grader.cluster

starts a grading worker: at start it loads the course and starts a warm sandbox zygote
once (tasks.py), and keeps both for every submission it grades. The client side is
client.py (the cluster and whether to trust it) and run.py (``grader batch --cluster``,
``grader grade --cluster``). Only plain data crosses Dask's wire: the grader's own job
dicts in, results.json text out. The tasks below are what a client submits: light here
(Dask sends them by name), so that a client never imports PyTorch for them.
"""

from __future__ import annotations

import os
import sys
from typing import Any

if "distributed.worker" in sys.modules:  # imported by `dask worker --preload`, before the
    # worker reads its settings: its sampling profiler walks the grading thread's deep
    # stacks every 10 ms, ~15% of a grading's time (benchmarks/cluster.py).
    import dask

    dask.config.set({"distributed.worker.profile.enabled": False})


def dask_setup(worker: Any) -> None:
    """Called by ``dask worker --preload grader.cluster`` before the worker connects."""
    from grader.cluster import tasks

    threads = getattr(worker.state, "nthreads", None) or getattr(worker, "nthreads", 1)
    if threads != 1:
        raise RuntimeError(
            f"a grading worker grades one submission at a time, but this one has {threads} "
            "threads: start it with --nthreads 1 (and one worker per core, --nworkers N)"
        )
    tasks.start(os.environ.get("GRADER_COURSE") or None)


def dask_teardown(worker: Any) -> None:
    from grader.cluster import tasks

    tasks.stop()


def grade(job: dict[str, Any]) -> dict[str, Any]:
    """The task: grade one submission on this worker (tasks.grade)."""
    from grader.cluster import tasks

    return tasks.grade(job)


def describe() -> dict[str, Any]:
    """What a client checks of each worker before it sends work (tasks.describe)."""
    from grader.cluster import tasks

    return tasks.describe()
