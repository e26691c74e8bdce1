"""The zygote hands out confined children; ending one never touches another."""

import os
import subprocess
import sys
from pathlib import Path

from grader.grading.session import sandbox
from grader.sandbox.host.client import SubmissionSandbox
from grader.sandbox.inside.zygote import HUGE_PAGES_AFTER_SPAWNS
from tests.helpers import ROOT


def _answers(child, limits) -> bool:
    request = {"op": "load", "sources": {"ex": "x = 1"}, "seed": 0, "exercise": "ex"}
    return child.request(dict(request, output_limit=1024), limits)["ok"] is True


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as status:
            return "\nState:\tZ" not in status.read()
    except FileNotFoundError:
        return False


def test_ending_one_child_leaves_the_others_running(course):
    limits = course.exercise("ex1_forward").limits
    uid = 200_000 + os.getpid() if os.geteuid() == 0 else None
    with sandbox(course) as zygote:
        first, second = zygote.spawn(limits, uid), zygote.spawn(limits, uid)
        assert _answers(first, limits) and _answers(second, limits)
        first.release()  # no answer: the kill below is handled after it
        third = zygote.spawn(limits, uid)
        assert zygote.kill(third.pid) == {"signal": 9}  # it was alive until killed
        assert not _alive(first.pid) and not _alive(third.pid)
        assert _answers(second, limits)  # held by the grader, so spared by both sweeps
        second.kill()
        assert not _alive(second.pid)


def _huge_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        line = next(line for line in rollup if line.startswith("AnonHugePages:"))
    return int(line.split()[1])


def test_a_zygote_serving_a_batch_forks_from_huge_pages(course):
    limits = course.exercise("ex1_forward").limits
    with sandbox(course) as zygote:
        spawned = []
        for _ in range(HUGE_PAGES_AFTER_SPAWNS - 1):
            spawned.append(zygote.spawn(limits, None))
        before = _huge_kib(zygote.process.pid)  # one grading's worth: not worth collapsing
        spawned.append(zygote.spawn(limits, None))  # collapses while this one is used
        spawned.append(zygote.spawn(limits, None))  # answered once the collapse is done
        assert _answers(spawned[-1], limits)  # forked from huge pages, and it works
        after = _huge_kib(zygote.process.pid)
        for child in spawned:
            child.release()
    assert before == 0
    if Path("/sys/kernel/mm/transparent_hugepage/enabled").exists():  # a kernel with THP
        assert after > 64 * 1024  # most of the ~180 MiB it holds


_DRAWS = """
import random, numpy, torch
def draw():
    return [torch.randn(3), float(numpy.random.rand()), random.random()]
"""


def test_the_same_grading_seed_gives_a_submission_the_same_random_numbers(course):
    limits = course.exercise("ex1_forward").limits
    inputs = {"function": "draw", "args": [], "kwargs": {}}
    with sandbox(course) as zygote:
        draws = []
        for seed in (5, 5, 6):
            submission = SubmissionSandbox(zygote, {"ex1_forward": _DRAWS}, None, seed=seed)
            draws.append(submission.run("ex1_forward", "call", inputs, limits).result["value"])
            submission.close()
    (first, same, other) = ([t.tolist(), *rest] for t, *rest in draws)
    assert first == same  # torch, numpy and random alike
    assert all(a != b for a, b in zip(first, other, strict=True))


_MAPS_WITH_A_NAME = """
import mmap, sys
from grader.sandbox.inside import huge_pages
with open(sys.argv[1], "rb") as mapped:
    view = mmap.mmap(mapped.fileno(), 0, prot=mmap.PROT_READ)
    print(huge_pages.collapse() >= 0)
"""


def test_huge_pages_read_any_mapped_file_name(tmp_path):
    """A venv under /home/josé/ maps files whose paths are not ASCII."""
    mapped = tmp_path / "josé-naïve.so"
    mapped.write_bytes(b"\0" * 8192)
    done = subprocess.run(
        [sys.executable, "-c", _MAPS_WITH_A_NAME, str(mapped)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.split() == ["True"]
