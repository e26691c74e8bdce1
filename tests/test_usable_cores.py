"""``grader batch`` starts one worker per core it may use, not per core the machine has, and
pins them to CPUs only when every CPU has one."""

import os

import pytest

from grader.grading.batch import usable_cores, worker_cpus


@pytest.mark.parametrize(
    ("affinity", "cpu_max", "cores"),
    [
        ({0, 1}, "max 100000", 2),
        ({0, 1}, "50000 100000", 1),  # Gradescope's half vCPU
        ({0, 1, 2, 3}, "150000 100000", 2),
        ({0}, "max 100000", 1),  # taskset -c 0
        ({0, 1}, "nonsense", 2),
        ({0, 1}, None, 2),  # no cgroup v2 file
    ],
)
def test_workers_follow_affinity_and_quota(monkeypatch, tmp_path, affinity, cpu_max, cores):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: affinity)
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max + "\n")
    assert usable_cores(path) == cores


@pytest.mark.parametrize(
    ("jobs", "cpus", "pinned"),
    [
        (2, {0, 1}, [0, 1]),  # a worker per CPU: each keeps its processes on its own
        (3, {2, 5}, [2, 5, 2]),  # more workers than CPUs (--jobs): shared in turn
        (2, {3}, [3, 3]),  # taskset -c 3
        (1, {0, 1}, [None]),  # a CPU to spare: the zygote may fork on it
        (2, {0, 1, 2, 3}, [None, None]),  # a cgroup quota of 2 on 4 CPUs
    ],
)
def test_workers_are_pinned_only_when_every_cpu_has_one(jobs, cpus, pinned):
    assert worker_cpus(jobs, cpus) == pinned
