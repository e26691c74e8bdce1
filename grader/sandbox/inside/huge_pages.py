"""Back the zygote's warm memory with transparent huge pages, so that a fork costs less.

A fork copies one page-table entry for every 4 KiB page of the parent's private memory, and
each child's exit drops them again: with torch, numpy and matplotlib warm, about 180 MiB,
that is ~15 ms of kernel time per sandboxed child, as much as a small check. Collapsed into
2 MiB pages (``MADV_COLLAPSE``, Linux 6.1), the same memory is one entry per 2 MiB: a fork
and an exit cost less than half as much. A page a child writes to is split back and copied
4 KiB at a time, as before.

Collapsing costs about a quarter of a second once, so the zygote does it when it has shown
itself long-lived (a batch or cluster worker, nbgrader's autograde), not for one grading.
On a kernel without it, or where huge pages are switched off, nothing changes.
"""

from __future__ import annotations

import ctypes
import re

_MADV_COLLAPSE = 25
_HUGE = 2 * 1024 * 1024
# start-end perms offset device inode [path]: private anonymous memory is writable with no
# path, or the [heap]. Bytes: a mapped file's path may be in any encoding.
_ANONYMOUS = re.compile(rb"^([0-9a-f]+)-([0-9a-f]+) rw\S* \S+ \S+ \S+ *(\[heap\])?$", re.M)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_libc.madvise.restype = ctypes.c_int


def collapse() -> int:
    """Collapse this process's private anonymous memory into huge pages where the kernel
    can; return how many bytes it could. Never raises: it is only an optimisation."""
    try:
        with open("/proc/self/maps", "rb") as maps:
            listing = maps.read()
    except OSError:
        return 0
    collapsed = 0
    for match in _ANONYMOUS.finditer(listing):
        start = -(-int(match[1], 16) // _HUGE) * _HUGE  # whole 2 MiB pages only
        end = int(match[2], 16) // _HUGE * _HUGE
        if end > start and _libc.madvise(start, end - start, _MADV_COLLAPSE) == 0:
            collapsed += end - start
    return collapsed
