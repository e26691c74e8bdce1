"""The zygote's scratch root: one folder in the temp dir holding each child's scratch folder.

A zygote removes its root when it ends, but a zygote that is SIGKILLed (with a Dask worker
that is killed, or a grader killed mid-batch) cannot. So each root is named after the
process that made it (pid namespace, pid and start time: one process, never another that
reuses the pid), and a new zygote first removes the roots of its own user whose process is
gone. Roots made in another pid namespace (another container sharing the temp dir) are
left alone: from here their process cannot be seen, alive or not.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

PREFIX = "grader-sandbox-"


def make_scratch_root(temp: Path | None = None) -> Path:
    """A new scratch root for this process, after removing roots whose zygote is gone."""
    temp = Path(temp or tempfile.gettempdir())
    remove_stale_roots(temp)
    namespace, pid, started = _identity(os.getpid())
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{namespace}-{pid}-{started}-", dir=temp))
    os.chmod(root, 0o711)  # children under other uids must reach their own folder
    return root


def remove_stale_roots(temp: Path) -> list[Path]:
    """Remove this user's scratch roots in ``temp`` whose process has ended; return them."""
    here = _identity(os.getpid())[0]
    removed = []
    try:
        entries = list(temp.glob(f"{PREFIX}*"))
    except OSError:
        return removed  # a temp dir we cannot list: nothing to tidy, nothing lost
    for entry in entries:
        parts = entry.name.removeprefix(PREFIX).split("-")
        try:
            found = entry.lstat()  # the entry itself: a symlink is never followed
            namespace, pid, started = int(parts[0]), int(parts[1]), int(parts[2])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not named by us (an older version's): leave it
        if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.geteuid():
            continue  # a file, a symlink, or another user's
        if namespace != here or not _ended(namespace, pid, started):
            continue  # another pid namespace's, or its zygote is alive (or cannot be told)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _ended(namespace: int, pid: int, started: int) -> bool:
    """The process is gone: no such pid, or the pid is another process's now."""
    try:
        return _identity(pid) != (namespace, pid, started)
    except FileNotFoundError:
        return True
    except (OSError, ValueError, IndexError):
        return False  # it exists but cannot be read: assume it is alive


def _identity(pid: int) -> tuple[int, int, int]:
    """(pid namespace inode, pid, start time in clock ticks) of a live process; raises
    FileNotFoundError when there is no such process, another OSError when it cannot be read."""
    namespace = os.stat(f"/proc/{pid}/ns/pid").st_ino
    with open(f"/proc/{pid}/stat", "rb") as status:
        started = int(status.read().rsplit(b")", 1)[1].split()[19])
    return (namespace, pid, started)
