"""Confine a forked child before it runs untrusted student code.

The grader's zygote imports and warms torch, numpy and matplotlib, then forks one child per
submission; the child calls :func:`confine` before anything else. Every layer is plain Linux
(ctypes, the stdlib and pyseccomp over the system libseccomp.so.2), applied in this order:

1. ``process``      setsid(): the child leads its own session and process group, so the grader can
                    kill everything it started with one killpg(); PR_SET_PDEATHSIG kills it if the
                    zygote dies.
2. ``netns``        unshare(CLONE_NEWNET): a network namespace with only a downed loopback.
3. ``rlimits``      address space, CPU time, processes, file size, open files, no core dumps.
4. ``uid``          setgroups([]), setgid, setuid to an unprivileged uid, then verified.
5. ``no_new_privs`` PR_SET_NO_NEW_PRIVS: no setuid binary or file capability can raise privileges
                    again (and it lets Landlock and seccomp load without CAP_SYS_ADMIN).
6. ``landlock``     read/execute beneath the interpreter and system libraries, write only beneath
                    the scratch directory, no TCP bind/connect, no signals or abstract unix
                    sockets outside the sandbox.
7. ``seccomp``      EPERM for the syscalls a grader child never needs (new processes, ptrace,
                    foreign signals, namespaces, mounts, non-unix sockets, ...). Last, because it
                    forbids setsid and unshare, which the earlier layers use.

Order matters: netns and uid need root, so they come before the uid drop; the Landlock rules are
built while still root (the interpreter may live beneath a 0700 directory such as /root, which the
unprivileged uid can no longer open) and enforced after no_new_privs; seccomp comes last.

Each layer is a module of this package (namespaces, limits, privileges, landlock, seccomp); this
one runs them in order and reports them.
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.sandbox.confine import base, landlock, limits, namespaces, privileges, seccomp
from grader.sandbox.confine.base import (
    LAYER_NAMES,
    SCRATCH_BYTES,
    Confinement,
    Layer,
    can_drop_uid,
    errno_error,
    libc,
)  # fmt: skip
from grader.sandbox.confine.landlock import readable_paths

__all__ = [
    "Confinement", "Layer", "Prepared", "confine", "host_layers", "missing_layers", "prepare",
    "readable_paths", "reduced_isolation",
]  # fmt: skip


def host_layers(want_uid: bool) -> tuple[Layer, ...]:
    """What this host offers, probed in the parent without side effects (cheap; used to report
    protections and for --require-isolation). Every layer is described by the same function
    here and in :func:`confine`, so the two never tell different stories."""
    status = base.proc_status()
    dropping = want_uid and can_drop_uid(status)
    why, unknown = seccomp.unavailable(status), []
    if not why:
        try:
            # Building (not loading) the filter checks that libseccomp knows our syscalls.
            _, unknown = seccomp.build_filter(os.getpid())
        except OSError as exc:
            why = f"libseccomp cannot build the filter: {exc}"
    return (
        namespaces.process_layer(),
        namespaces.netns_layer(status),
        namespaces.scratch_layer(status, SCRATCH_BYTES),
        limits.layer(dropping),
        privileges.uid_layer(want_uid, status),
        privileges.nnp_layer(privileges.no_new_privs_supported()),
        landlock.layer(*landlock.kernel_abi()),
        seccomp.layer(why, unknown),
    )


def reduced_isolation(layers: Iterable[Mapping[str, Any]]) -> str:
    """One line for the terminal and the top-level output when layers are missing, else ""."""
    missing = [f"no {_TITLES[layer['name']]}" for layer in layers if not layer["active"]]
    if not missing:
        return ""
    who = "running as an ordinary user" if os.geteuid() != 0 else "reduced isolation on this host"
    return (
        f"{who}: {', '.join(missing)} — see README, 'What the sandbox stops'; "
        "use --require-isolation to refuse"
    )


def missing_layers(layers: Iterable[Mapping[str, Any]]) -> str:
    """The missing layers and why, for --require-isolation's refusal."""
    missing = [layer for layer in layers if not layer["active"]]
    return "; ".join(f"no {_TITLES[layer['name']]} ({layer['detail']})" for layer in missing)


# --- one description per layer, true for the case at hand ------------------------------------

_TITLES = {
    "process": "process group of its own",
    "netns": "network namespace",
    "scratch": "tmpfs scratch",
    "rlimits": "resource limits",
    "uid": "separate uid",
    "no_new_privs": "no_new_privs",
    "landlock": "Landlock",
    "seccomp": "seccomp filter",
}


def _prepare_environment(scratch: Path) -> None:
    """Point cwd, HOME and the temp dir at scratch: the only place the child can write."""
    os.chdir(scratch)  # done while still root: scratch may sit beneath a 0700 directory
    os.environ["HOME"] = os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = str(scratch)  # the zygote may already have cached /tmp


@dataclass(frozen=True)
class Prepared:
    """What a zygote works out once for every child it forks: its /proc status (a child's
    capabilities and seccomp mode are its parent's) and the seccomp filter, compiled."""

    status: dict[str, str]
    seccomp: seccomp.Program | None


def prepare() -> Prepared:
    status = base.proc_status()
    return Prepared(status, None if seccomp.unavailable(status) else seccomp.compile_program())


def confine(c: Confinement, prepared: Prepared | None = None) -> tuple[Layer, ...]:
    """Apply every layer the host offers, in the forked child, before any untrusted code runs.

    Never raises for a layer the host lacks: records it as inactive with the reason. Raises only if
    a layer that the host offers fails to apply (then the caller must not run student code).
    Also makes scratch the working directory, HOME, TMPDIR and tempfile's directory. Must run in a
    single-threaded process (right after fork): Landlock applies to the calling thread only.
    File descriptors already open stay usable whatever the rules say: close, before calling this,
    every inherited one the student must not have (keep only the result pipe and stdio).
    ``prepared``: what the forking parent worked out once (:func:`prepare`), or None to work it
    out here.
    """
    if len(os.listdir("/proc/self/task")) != 1:
        raise RuntimeError("confine() must run in a single-threaded process, right after fork()")
    status = prepared.status if prepared else base.proc_status()
    if not c.scratch.is_dir():
        raise FileNotFoundError(f"scratch directory missing: {c.scratch}")
    layers: dict[str, Layer] = {}
    parent = os.getppid()

    # 1. process: own session and process group (fails only if already a group leader).
    if os.getsid(0) != os.getpid():
        os.setsid()
    layers["process"] = namespaces.process_layer()

    # 2. netns: needs CAP_SYS_ADMIN, so before the uid drop.
    layers["netns"] = netns = namespaces.netns_layer(status)
    if netns.active:
        namespaces.enter_netns()

    # 2b. scratch: a tmpfs of its own, before Landlock opens the scratch path for its rules.
    layers["scratch"] = scratch = namespaces.scratch_layer(status, c.scratch_bytes)
    layers["uid"] = privileges.uid_layer(c.uid is not None, status)
    dropping = layers["uid"].active
    if scratch.active:
        namespaces.mount_scratch(c)
        if dropping and c.uid is not None:
            namespaces.reveal_readable(c, c.uid)

    # 6a. Landlock ruleset, built while we can still open every readable path.
    abi, why = landlock.kernel_abi()
    ruleset_fd = landlock.prepare(abi, c) if abi >= 1 else -1
    try:
        # 3. rlimits (lowering needs no privilege; done before the drop so nothing is ever unlimited
        #    under the student's uid).
        limits.apply(c)
        layers["rlimits"] = limits.layer(dropping)
        _prepare_environment(c.scratch)

        # 4. uid
        if dropping and c.uid is not None:
            privileges.drop_uid(c.uid)
        # The parent-death signal is cleared by a credential change, so it is set after the drop;
        # then check the zygote did not die before it was set. (It fires when the *thread* that
        # forked exits: the zygote should fork from its main thread.)
        if libc.prctl(base.PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise errno_error("prctl(PR_SET_PDEATHSIG)")
        if os.getppid() != parent:
            raise RuntimeError("the parent exited during confine()")

        # 5. no_new_privs: required by Landlock and seccomp once we lack CAP_SYS_ADMIN.
        privileges.set_no_new_privs()
        layers["no_new_privs"] = privileges.nnp_layer(supported=True)

        # 6b. Landlock enforced.
        if ruleset_fd >= 0:
            fd, ruleset_fd = ruleset_fd, -1
            landlock.restrict(fd)
        layers["landlock"] = landlock.layer(abi, why)
    finally:
        if ruleset_fd >= 0:
            os.close(ruleset_fd)

    # 7. seccomp, last: it forbids setsid and unshare used above.
    why, unknown = seccomp.unavailable(status), []
    if not why and prepared and prepared.seccomp:
        seccomp.load_program(prepared.seccomp, os.getpid())
        unknown = list(prepared.seccomp.unknown)
    elif not why:
        filt, unknown = seccomp.build_filter(os.getpid())
        filt.load()
    layers["seccomp"] = seccomp.layer(why, unknown)
    return tuple(layers[name] for name in LAYER_NAMES)
