"""The zygote hands out confined children; ending one never touches another."""

import os

from grader.grading.session import sandbox


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
