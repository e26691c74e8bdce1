"""``grader batch`` starts one worker per core it may use, not per core the machine has."""

import os

import pytest

from grader.grading.batch import usable_cores


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
