"""Layers ``uid`` (an unprivileged uid of the child's own, root never regained) and
``no_new_privs`` (no setuid binary or file capability raises privileges again)."""

from __future__ import annotations

import os

from grader.sandbox.confine.base import (
    PR_GET_NO_NEW_PRIVS,
    PR_SET_NO_NEW_PRIVS,
    Layer,
    can_drop_uid,
    errno_error,
    libc,
    proc_status,
    unprivileged,
)  # fmt: skip


def uid_layer(requested: bool, status: dict[str, str]) -> Layer:
    if not requested:
        return Layer("uid", False, "no uid requested: the child keeps the grader's uid")
    if not can_drop_uid(status):
        why = unprivileged("CAP_SETUID and CAP_SETGID")
        return Layer("uid", False, f"{why}: the child runs under the grader's uid")
    detail = "unprivileged uid/gid, no supplementary groups, no capabilities; root not regainable"
    return Layer("uid", True, detail)


def nnp_layer(supported: bool) -> Layer:
    if not supported:
        return Layer("no_new_privs", False, "the kernel has no PR_SET_NO_NEW_PRIVS")
    detail = "no_new_privs: execve of setuid/file-capability binaries grants nothing"
    return Layer("no_new_privs", True, detail)


def drop_uid(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)  # gid first: after setuid we could no longer change it
    os.setuid(uid)  # as root this sets real, effective and saved uid: no way back
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or os.getgroups():
        raise RuntimeError("uid drop incomplete")
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise RuntimeError("uid drop failed: setuid(0) still succeeds")
    if int(proc_status().get("CapEff", "1"), 16) != 0:
        raise RuntimeError("uid drop left effective capabilities")


# Syscalls that a grader child never needs; EPERM, like a missing privilege would give.


def no_new_privs_supported() -> bool:
    return libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0


def set_no_new_privs() -> None:
    """Required by Landlock and seccomp once the child lacks CAP_SYS_ADMIN."""
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise errno_error("prctl(PR_SET_NO_NEW_PRIVS)")
