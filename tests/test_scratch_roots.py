"""A killed zygote's scratch root is removed by the next zygote, and nothing else is."""

import os
import signal
import subprocess
import sys

from grader.sandbox.inside.scratch import PREFIX, _identity, make_scratch_root, remove_stale_roots


def _root(temp, namespace, pid, started):
    root = temp / f"{PREFIX}{namespace}-{pid}-{started}-abc123"
    (root / "child").mkdir(parents=True)
    (root / "child" / "left.txt").write_text("a child's file\n")
    return root


def test_the_roots_of_ended_zygotes_go_and_the_rest_stay(tmp_path):
    namespace, pid, started = _identity(os.getpid())
    ended = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = _identity(ended.pid)
    ended.send_signal(signal.SIGKILL)  # as a killed zygote: no chance to clean up
    ended.wait()
    stale = _root(tmp_path, *gone)
    reused = _root(tmp_path, namespace, pid, started + 1)  # this pid, but another process's
    alive = _root(tmp_path, namespace, pid, started)
    foreign = _root(tmp_path, namespace + 1, gone[1], gone[2])  # another pid namespace's
    older = tmp_path / f"{PREFIX}q8x_2k"  # an older version's name: not ours to judge
    older.mkdir()
    (tmp_path / f"{PREFIX}{namespace}-1-2-file").write_text("not a folder\n")
    link = tmp_path / f"{PREFIX}{namespace}-{gone[1]}-{gone[2]}-link"
    link.symlink_to(alive, target_is_directory=True)

    assert sorted(remove_stale_roots(tmp_path)) == sorted([stale, reused])
    assert not stale.exists() and not reused.exists()
    assert alive.is_dir() and foreign.is_dir() and older.is_dir() and link.is_symlink()
    assert (alive / "child" / "left.txt").exists()  # nothing followed through the link


def test_a_new_root_is_named_after_its_process_and_reachable_by_children(tmp_path):
    root = make_scratch_root(tmp_path)
    namespace, pid, started = _identity(os.getpid())
    assert root.name.startswith(f"{PREFIX}{namespace}-{pid}-{started}-")
    assert root.stat().st_mode & 0o777 == 0o711
    assert remove_stale_roots(tmp_path) == []  # its process is this one, alive
