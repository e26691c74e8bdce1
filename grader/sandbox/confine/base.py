"""What every layer shares: the confinement asked for, a layer's report, and the kernel.

The sandbox's layers are one module each (namespaces, limits, privileges, landlock, seccomp),
and apply.py runs them in order. Each module says how its layer is detected on this host and
how it is applied, with one function describing it for both, so that the host's report and
the child's never tell different stories.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

SCRATCH_BYTES = 64 * 2**20
LAYER_NAMES = (
    "process", "netns", "scratch", "rlimits", "uid", "no_new_privs", "landlock", "seccomp"
)  # fmt: skip


@dataclass(frozen=True)
class Confinement:
    """What a confined child may touch and how much it may use."""

    scratch: Path  # the only writable directory (already exists; owned by uid when uid is given)
    readable: tuple[Path, ...]  # read-only (+execute) trees: Python prefix(es), site-packages, libs
    uid: int | None  # drop to this uid and gid (same number) when running as root; None = don't
    memory_bytes: int  # address-space budget ON TOP of the current VmSize (torch maps ~800 MB)
    cpu_seconds: int  # RLIMIT_CPU (soft; hard = soft + 1)
    # RLIMIT_NPROC counts every task (threads too) of the child's *real uid* system-wide, and the
    # kernel ignores it for uid 0: it only works after a drop to a non-root uid, and children that
    # run at the same time under the same uid share it.
    max_processes: int
    max_file_bytes: int  # RLIMIT_FSIZE (SIGXFSZ is ignored, so an over-long write raises EFBIG)
    max_open_files: int  # RLIMIT_NOFILE
    scratch_bytes: int = SCRATCH_BYTES  # size of the tmpfs over scratch (when root)

    def __post_init__(self) -> None:
        if self.uid is not None and self.uid <= 0:
            raise ValueError("uid must be a positive, unprivileged uid (or None)")
        numbers = (self.memory_bytes, self.cpu_seconds, self.max_processes, self.max_file_bytes)
        if min(*numbers, self.max_open_files) <= 0:
            raise ValueError("every limit must be positive")


@dataclass(frozen=True)
class Layer:
    """One protection, and whether it is in force."""

    name: str  # one of LAYER_NAMES
    active: bool
    detail: str  # what it stops, or why it is not active


# --- libc and kernel constants ------------------------------------------------------------------

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.restype = ctypes.c_int
libc.prctl.argtypes = (
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
)
libc.unshare.restype = ctypes.c_int
libc.unshare.argtypes = (ctypes.c_int,)

PR_SET_PDEATHSIG = 1
PR_GET_NO_NEW_PRIVS = 39
PR_SET_NO_NEW_PRIVS = 38
libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]

CAP_SETGID = 6
CAP_SETUID = 7
CAP_SYS_ADMIN = 21


def errno_error(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


# --- what this process may do (side-effect free) ---------------------------------------------


def proc_status() -> dict[str, str]:
    with open("/proc/self/status", encoding="ascii") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def has_cap(status: dict[str, str], cap: int) -> bool:
    return bool(int(status.get("CapEff", "0"), 16) >> cap & 1)


def unprivileged(needs: str) -> str:
    """Why a layer that needs a capability is missing: the usual case, then the rare one."""
    if os.geteuid() != 0:
        return f"running as an ordinary user (uid {os.geteuid()}), without {needs}"
    return f"root without {needs} (capabilities dropped, e.g. by a container runtime)"


def can_drop_uid(status: dict[str, str]) -> bool:
    return has_cap(status, CAP_SETUID) and has_cap(status, CAP_SETGID)
