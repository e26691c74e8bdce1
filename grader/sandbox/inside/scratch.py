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
    for entry in temp.glob(f"{PREFIX}*"):
        parts = entry.name.removeprefix(PREFIX).split("-")
        try:
            owner = entry.lstat()
            namespace, pid, started = int(parts[0]), int(parts[1]), int(parts[2])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not named by us (an older version's): leave it
        if not entry.is_dir() or entry.is_symlink() or owner.st_uid != os.geteuid():
            continue
        if namespace != here or _identity(pid) == (namespace, pid, started):
            continue  # another pid namespace's, or its zygote is alive
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _identity(pid: int) -> tuple[int, int, int]:
    """(pid namespace inode, pid, start time in clock ticks) of a live process, else zeros."""
    try:
        namespace = os.stat(f"/proc/{pid}/ns/pid").st_ino
        with open(f"/proc/{pid}/stat", "rb") as stat:
            started = int(stat.read().rsplit(b")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return (0, 0, 0)
    return (namespace, pid, started)
