"""Layers ``process`` (own session, dies with the zygote), ``netns`` (no network at all) and
``scratch`` (a tmpfs of its own in a mount namespace, with the readable trees revealed to the
sandbox uid when they sit beneath a directory it cannot traverse)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from grader.sandbox.confine.base import (
    CAP_SYS_ADMIN,
    Confinement,
    Layer,
    errno_error,
    has_cap,
    libc,
    unprivileged,
)  # fmt: skip

_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 1 << 12, 1 << 14, 1 << 18


def process_layer() -> Layer:
    detail = "own session and process group (setsid), killed with the zygote (PDEATHSIG)"
    return Layer("process", True, detail)


def netns_layer(status: dict[str, str]) -> Layer:
    if not os.path.exists("/proc/self/ns/net"):
        return Layer("netns", False, "kernel built without network namespaces")
    if not has_cap(status, CAP_SYS_ADMIN):
        why = unprivileged("CAP_SYS_ADMIN")
        return Layer("netns", False, f"{why}: cannot create a network namespace")
    return Layer("netns", True, "new network namespace: no network at all, loopback included")


def enter_netns() -> None:
    """A network namespace of the child's own: only a downed loopback (needs CAP_SYS_ADMIN)."""
    if libc.unshare(_CLONE_NEWNET) != 0:
        raise errno_error("unshare(CLONE_NEWNET)")


def scratch_layer(status: dict[str, str], size: int) -> Layer:
    if not os.path.exists("/proc/self/ns/mnt"):
        why = "kernel built without mount namespaces"
    elif not has_cap(status, CAP_SYS_ADMIN):
        why = unprivileged("CAP_SYS_ADMIN")
    else:
        return Layer(
            "scratch", True, f"scratch is a tmpfs of {size // 2**20} MiB in a mount namespace "
            "of its own: the submission cannot fill the disk"
        )  # fmt: skip
    return Layer("scratch", False, f"{why}: scratch is a plain folder, limited per file size")


def mount_scratch(c: Confinement) -> None:
    """A size-capped tmpfs over scratch, visible only in the child's own mount namespace."""
    if libc.unshare(_CLONE_NEWNS) != 0:
        raise errno_error("unshare(CLONE_NEWNS)")
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        raise errno_error("making mounts private")
    owner = c.uid if c.uid is not None else os.getuid()
    options = f"size={c.scratch_bytes},mode=0700,uid={owner},gid={owner}".encode()
    if libc.mount(b"tmpfs", str(c.scratch).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options):
        raise errno_error("mounting a tmpfs over scratch")


def unsearchable_ancestor(path: Path, uid: int) -> Path | None:
    """The topmost directory above `path` that `uid` (no groups, gid == uid) cannot traverse."""
    for ancestor in reversed(path.parents):
        st = os.stat(ancestor)
        if st.st_uid == uid:
            allowed = st.st_mode & stat.S_IXUSR
        elif st.st_gid == uid:
            allowed = st.st_mode & stat.S_IXGRP
        else:
            allowed = st.st_mode & stat.S_IXOTH
        if not allowed:
            return ancestor
    return None


def reveal_readable(c: Confinement, uid: int) -> None:
    """Make the readable trees reachable by `uid` without opening anything else to it.

    A pyenv interpreter lives under /root (mode 0700): after the uid drop the child could import
    only what the zygote had imported. In the child's own mount namespace, an empty tmpfs covers
    each directory the uid cannot traverse (hiding all it held), and only the readable trees
    beneath it are bind-mounted back at their own paths: sys.path is unchanged, nothing else of
    /root becomes visible, and Landlock still confines reads to the same trees.
    """
    hidden: dict[Path, list[Path]] = {}
    for path in (*c.readable, c.scratch):
        if path.exists() and (top := unsearchable_ancestor(path, uid)) is not None:
            hidden.setdefault(top, []).append(path)
    for top, paths in hidden.items():
        # O_PATH handles taken before the tmpfs hides the originals; mounted from /proc/self/fd.
        fds = [os.open(path, os.O_PATH | os.O_CLOEXEC) for path in paths]
        try:
            if libc.mount(b"tmpfs", str(top).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                           b"size=64k,mode=0711"):  # fmt: skip
                raise errno_error(f"mounting an empty tmpfs over {top}")
            for path, fd in zip(paths, fds, strict=True):
                os.makedirs(path.parent, mode=0o711, exist_ok=True)
                if os.path.isdir(fd):
                    os.makedirs(path, mode=0o711, exist_ok=True)
                else:
                    path.touch(mode=0o600, exist_ok=True)
                source = f"/proc/self/fd/{fd}".encode()
                if libc.mount(source, str(path).encode(), None, _MS_BIND | _MS_REC, None):
                    raise errno_error(f"bind-mounting {path} back under {top}")
        finally:
            for fd in fds:
                os.close(fd)
