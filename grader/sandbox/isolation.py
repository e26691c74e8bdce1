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
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import site
import stat
import sys
import sysconfig
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import pyseccomp
except (ImportError, RuntimeError, OSError) as _exc:  # RuntimeError: libseccomp.so.2 missing
    pyseccomp = None
    _SECCOMP_IMPORT_ERROR = f"pyseccomp unavailable: {_exc}"
else:
    _SECCOMP_IMPORT_ERROR = ""

__all__ = [
    "Confinement", "Layer", "confine", "host_layers", "missing_layers", "readable_paths",
    "reduced_isolation",
]  # fmt: skip

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

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int
_libc.prctl.argtypes = (
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
)
_libc.unshare.restype = ctypes.c_int
_libc.unshare.argtypes = (ctypes.c_int,)

_PR_SET_PDEATHSIG = 1
_PR_GET_NO_NEW_PRIVS = 39
_PR_SET_NO_NEW_PRIVS = 38
_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_BIND, _MS_REC, _MS_PRIVATE = 2, 4, 1 << 12, 1 << 14, 1 << 18
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]

_CAP_SETGID = 6
_CAP_SETUID = 7
_CAP_SYS_ADMIN = 21

# Landlock: these syscall numbers are shared by every architecture (the unified table from 424 on).
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1 << 0
_LANDLOCK_RULE_PATH_BENEATH = 1

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE_CHAR = 1 << 6
_FS_MAKE_DIR = 1 << 7
_FS_MAKE_REG = 1 << 8
_FS_MAKE_SOCK = 1 << 9
_FS_MAKE_FIFO = 1 << 10
_FS_MAKE_BLOCK = 1 << 11
_FS_MAKE_SYM = 1 << 12
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1  # ABI 4
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1  # ABI 6
_LANDLOCK_KNOWN_ABI = 7  # ABI 7 only added audit-log flags; nothing new to handle

# The rights that make sense on a file (not a directory): any other bit makes add_rule fail.
_FS_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),  # ABI 4
        ("scoped", ctypes.c_uint64),  # ABI 6
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel struct is __attribute__((packed)): 12 bytes
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _errno_error(what: str) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{what}: {os.strerror(err)}")


# --- probes (side-effect free, also used by confine) --------------------------------------------


def _proc_status() -> dict[str, str]:
    with open("/proc/self/status", encoding="ascii") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _has_cap(status: dict[str, str], cap: int) -> bool:
    return bool(int(status.get("CapEff", "0"), 16) >> cap & 1)


def _landlock_abi() -> tuple[int, str]:
    """Landlock ABI version of the running kernel (0 when unusable) and why."""
    abi = _libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
        ctypes.c_void_p(None),
        ctypes.c_size_t(0),
        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION),
    )
    if abi >= 1:
        return abi, ""
    err = ctypes.get_errno()
    if err == errno.ENOSYS:
        return 0, "kernel has no Landlock (ENOSYS; needs Linux >= 5.13)"
    if err == errno.EOPNOTSUPP:
        return 0, "Landlock is built in but disabled (add landlock to the lsm= boot parameter)"
    return 0, f"Landlock unavailable: {os.strerror(err)}"


def _seccomp_unavailable(status: dict[str, str]) -> str:
    """Empty when seccomp filters can be loaded here, else the reason."""
    if pyseccomp is None:
        return _SECCOMP_IMPORT_ERROR
    if "Seccomp" not in status:
        return "kernel built without CONFIG_SECCOMP"
    if status["Seccomp"].strip() == "1":
        return "already in strict seccomp mode"
    return ""


def host_layers(want_uid: bool) -> tuple[Layer, ...]:
    """What this host offers, probed in the parent without side effects (cheap; used to report
    protections and for --require-isolation). Every layer is described by the same function
    here and in :func:`confine`, so the two never tell different stories."""
    status = _proc_status()
    dropping = want_uid and _can_drop_uid(status)
    why, unknown = _seccomp_unavailable(status), []
    if not why:
        try:
            # Building (not loading) the filter checks that libseccomp knows our syscalls.
            _, unknown = _build_seccomp_filter(os.getpid())
        except OSError as exc:
            why = f"libseccomp cannot build the filter: {exc}"
    return (
        _process_layer(),
        _netns_layer(status),
        _scratch_layer(status, SCRATCH_BYTES),
        _rlimits_layer(dropping),
        _uid_layer(want_uid, status),
        _nnp_layer(_libc.prctl(_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) >= 0),
        _landlock_layer(*_landlock_abi()),
        _seccomp_layer(why, unknown),
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


def _unprivileged(needs: str) -> str:
    """Why a layer that needs a capability is missing: the usual case, then the rare one."""
    if os.geteuid() != 0:
        return f"running as an ordinary user (uid {os.geteuid()}), without {needs}"
    return f"root without {needs} (capabilities dropped, e.g. by a container runtime)"


def _can_drop_uid(status: dict[str, str]) -> bool:
    return _has_cap(status, _CAP_SETUID) and _has_cap(status, _CAP_SETGID)


def _process_layer() -> Layer:
    detail = "own session and process group (setsid), killed with the zygote (PDEATHSIG)"
    return Layer("process", True, detail)


def _netns_layer(status: dict[str, str]) -> Layer:
    if not os.path.exists("/proc/self/ns/net"):
        return Layer("netns", False, "kernel built without network namespaces")
    if not _has_cap(status, _CAP_SYS_ADMIN):
        why = _unprivileged("CAP_SYS_ADMIN")
        return Layer("netns", False, f"{why}: cannot create a network namespace")
    return Layer("netns", True, "new network namespace: no network at all, loopback included")


def _scratch_layer(status: dict[str, str], size: int) -> Layer:
    if not os.path.exists("/proc/self/ns/mnt"):
        why = "kernel built without mount namespaces"
    elif not _has_cap(status, _CAP_SYS_ADMIN):
        why = _unprivileged("CAP_SYS_ADMIN")
    else:
        return Layer(
            "scratch", True, f"scratch is a tmpfs of {size // 2**20} MiB in a mount namespace "
            "of its own: the submission cannot fill the disk"
        )  # fmt: skip
    return Layer("scratch", False, f"{why}: scratch is a plain folder, limited per file size")


def _rlimits_layer(dropping: bool) -> Layer:
    detail = "address space, CPU seconds, processes, file size, open files, no core dumps"
    if dropping:
        detail += "; processes and threads are counted under the child's own uid"
    elif os.geteuid() == 0:
        detail += "; RLIMIT_NPROC NOT enforced (the kernel ignores it for root)"
    else:
        detail += (
            "; RLIMIT_NPROC counts every process and thread of your user, not the child's alone"
        )
    return Layer("rlimits", True, detail)


def _uid_layer(requested: bool, status: dict[str, str]) -> Layer:
    if not requested:
        return Layer("uid", False, "no uid requested: the child keeps the grader's uid")
    if not _can_drop_uid(status):
        why = _unprivileged("CAP_SETUID and CAP_SETGID")
        return Layer("uid", False, f"{why}: the child runs under the grader's uid")
    detail = "unprivileged uid/gid, no supplementary groups, no capabilities; root not regainable"
    return Layer("uid", True, detail)


def _nnp_layer(supported: bool) -> Layer:
    if not supported:
        return Layer("no_new_privs", False, "the kernel has no PR_SET_NO_NEW_PRIVS")
    detail = "no_new_privs: execve of setuid/file-capability binaries grants nothing"
    return Layer("no_new_privs", True, detail)


def _landlock_layer(abi: int, why: str) -> Layer:
    if abi < 1:
        return Layer("landlock", False, why)
    parts = [
        f"ABI {abi}: filesystem read/execute beneath the readable trees, write only in scratch"
    ]
    if abi >= 4:
        parts.append("no TCP bind/connect")
    if abi >= 6:
        parts.append("no signals or abstract unix sockets outside the sandbox")
    if abi > _LANDLOCK_KNOWN_ABI:
        parts.append(f"rights added after ABI {_LANDLOCK_KNOWN_ABI} are not handled")
    return Layer("landlock", True, "; ".join(parts))


def _seccomp_layer(why: str, unknown: list[str]) -> Layer:
    if why:
        return Layer("seccomp", False, why)
    detail = (
        "EPERM for new processes (fork, vfork, clone without CLONE_THREAD), ptrace, "
        "process_vm_*, signals to other processes, pidfd_*, setsid/setpgid, non-unix sockets, "
        "namespaces, mounts, bpf, perf, keyrings, userfaultfd, io_uring, modules/kexec/reboot; "
        "clone3 -> ENOSYS"
    )
    if unknown:
        detail += "; unknown to this libseccomp, so NOT filtered: " + ", ".join(unknown)
    return Layer("seccomp", True, detail)


def _mount_scratch(c: Confinement) -> None:
    """A size-capped tmpfs over scratch, visible only in the child's own mount namespace."""
    if _libc.unshare(_CLONE_NEWNS) != 0:
        raise _errno_error("unshare(CLONE_NEWNS)")
    if _libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        raise _errno_error("making mounts private")
    owner = c.uid if c.uid is not None else os.getuid()
    options = f"size={c.scratch_bytes},mode=0700,uid={owner},gid={owner}".encode()
    if _libc.mount(b"tmpfs", str(c.scratch).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options):
        raise _errno_error("mounting a tmpfs over scratch")


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


def _reveal_readable(c: Confinement, uid: int) -> None:
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
            if _libc.mount(b"tmpfs", str(top).encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV,
                           b"size=64k,mode=0711"):  # fmt: skip
                raise _errno_error(f"mounting an empty tmpfs over {top}")
            for path, fd in zip(paths, fds, strict=True):
                os.makedirs(path.parent, mode=0o711, exist_ok=True)
                if os.path.isdir(fd):
                    os.makedirs(path, mode=0o711, exist_ok=True)
                else:
                    path.touch(mode=0o600, exist_ok=True)
                source = f"/proc/self/fd/{fd}".encode()
                if _libc.mount(source, str(path).encode(), None, _MS_BIND | _MS_REC, None):
                    raise _errno_error(f"bind-mounting {path} back under {top}")
        finally:
            for fd in fds:
                os.close(fd)


# --- readable paths -----------------------------------------------------------------------------


def readable_paths() -> tuple[Path, ...]:
    """Trees and files a confined child must be able to read (and execute from).

    The interpreter prefixes and site-packages (a venv's own tree included), the system libraries,
    fonts, the dynamic loader cache and a few devices. Deliberately not the project folder, /tmp,
    /home or /root as a whole: a pyenv interpreter under /root contributes only its own prefix.
    """
    candidates: list[str] = [
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        *site.getsitepackages(),
        *(sysconfig.get_paths().get(k, "") for k in ("stdlib", "platstdlib", "purelib", "platlib")),
        # Shared libraries: libc, libstdc++, libgomp, libseccomp and whatever torch/numpy dlopen.
        "/usr/lib",
        "/usr/lib64",
        "/lib",
        "/lib64",
        "/usr/local/lib",
        "/etc/ld.so.cache",  # dlopen() of a library the zygote had not loaded yet
        # matplotlib ships its own DejaVu fonts; system fonts are used when a student asks by name.
        "/usr/share/fonts",
        "/usr/share/zoneinfo",  # time zones for datetime/zoneinfo
        "/etc/localtime",
        "/dev/null",
        "/dev/zero",
        "/dev/random",
        "/dev/urandom",  # os.urandom falls back to it; torch/numpy seed from getrandom() anyway
        # torch initialises its cpuinfo library lazily, at the first tensor operation: if the
        # zygote did not run one, the child reads these five files (and prints "Error in cpuinfo"
        # on stderr without them). Only these files: nothing else of /proc or /sys is needed.
        "/proc/cpuinfo",
        "/sys/devices/system/cpu/possible",
        "/sys/devices/system/cpu/present",
        "/sys/devices/system/cpu/online",
        "/sys/devices/system/cpu/kernel_max",
    ]
    forbidden = {Path(p) for p in ("/", "/tmp", "/home", "/root", "/var", "/etc", "/dev", "/usr")}
    # The grader's own source tree sits next to the solutions and hidden tests: never grant a tree
    # that contains it (a venv inside the project is fine, it does not contain the package).
    package_root = Path(__file__).resolve().parents[1]
    result: list[Path] = []
    if package_root.parent.name in ("site-packages", "dist-packages"):
        # Installed (not editable): grant site-packages entry by entry, all but the grader.
        site_packages = package_root.parent
        candidates += [str(entry) for entry in site_packages.iterdir() if entry != package_root]
    for raw in candidates:
        if not raw or not os.path.exists(raw):
            continue
        path = Path(raw).resolve()
        if path in forbidden or path == package_root or path in package_root.parents:
            continue  # a prefix of "/" or "/usr" would open far too much
        if any(path == p or p in path.parents for p in result):
            continue
        result = [p for p in result if path not in p.parents]  # keep only the widest tree
        result.append(path)
    return tuple(result)


# --- the layers ---------------------------------------------------------------------------------


def _landlock_handled(abi: int) -> tuple[int, int, int]:
    """(fs, net, scope) rights this ABI can restrict: all are handled, i.e. denied by default."""
    fs = (1 << 13) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        fs |= _FS_REFER
    if abi >= 3:
        fs |= _FS_TRUNCATE
    if abi >= 5:
        fs |= _FS_IOCTL_DEV
    net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scope = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scope


def _landlock_prepare(abi: int, c: Confinement) -> int:
    """Create the ruleset and add the path rules; returns its fd (enforced later by restrict).

    Runs while still root, so that paths beneath 0700 directories can be opened (O_PATH) here.
    """
    fs, net, scope = _landlock_handled(abi)
    attr = _RulesetAttr(fs, net, scope)
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # the struct as this ABI knows it
    fd = _libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    )
    if fd < 0:
        raise _errno_error("landlock_create_ruleset")
    read = _FS_READ_FILE | _FS_READ_DIR | _FS_EXECUTE
    # Scratch gets every right except creating device nodes: with CAP_MKNOD (a child left as root)
    # a block device made in scratch would read the raw disk around every other rule.
    write = fs & ~(_FS_MAKE_CHAR | _FS_MAKE_BLOCK | _FS_IOCTL_DEV)
    rules = [(p, read) for p in c.readable]
    # Writing to /dev/null is harmless and common (os.devnull, subprocess.DEVNULL), O_TRUNC too.
    rules.append((Path(os.devnull), _FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE))
    rules.append((c.scratch, write))
    try:
        for path, access in rules:
            _landlock_add_path(fd, path, access & fs, required=path == c.scratch)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _landlock_add_path(ruleset_fd: int, path: Path, access: int, required: bool) -> None:
    try:
        path_fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        if required:
            raise
        return  # a readable path that does not exist here: nothing to grant
    try:
        if not os.path.isdir(path_fd):
            access &= _FS_FILE_RIGHTS
        rule = _PathBeneathAttr(access, path_fd)
        res = _libc.syscall(
            ctypes.c_long(_SYS_LANDLOCK_ADD_RULE),
            ctypes.c_int(ruleset_fd),
            ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )
        if res < 0:
            raise _errno_error(f"landlock_add_rule({path})")
    finally:
        os.close(path_fd)


def _landlock_restrict(ruleset_fd: int) -> None:
    try:
        res = _libc.syscall(
            ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)
        )
        if res < 0:
            raise _errno_error("landlock_restrict_self")
    finally:
        os.close(ruleset_fd)


def _set_rlimits(c: Confinement, status: dict[str, str]) -> None:
    vm_size = int(status["VmSize"].split()[0]) * 1024  # "812345 kB"
    limits = {
        resource.RLIMIT_AS: vm_size + c.memory_bytes,
        resource.RLIMIT_CPU: c.cpu_seconds,
        resource.RLIMIT_NPROC: c.max_processes,
        resource.RLIMIT_FSIZE: c.max_file_bytes,
        resource.RLIMIT_NOFILE: c.max_open_files,
        resource.RLIMIT_CORE: 0,
    }
    for which, soft in limits.items():
        # CPU: SIGXCPU at the soft limit (catchable), SIGKILL one second later at the hard one.
        hard = soft + 1 if which == resource.RLIMIT_CPU else soft
        # Only ever lower: raising a hard limit needs CAP_SYS_RESOURCE, which even root may lack
        # (it does on this kind of VM), and a lower limit set by the operator must stay.
        current = resource.getrlimit(which)[1]
        if current != resource.RLIM_INFINITY:
            hard = min(hard, current)
        resource.setrlimit(which, (min(soft, hard), hard))
    # Without this, a write past RLIMIT_FSIZE kills the child; ignored, the write fails with EFBIG.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _drop_uid(uid: int) -> None:
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
    if int(_proc_status().get("CapEff", "1"), 16) != 0:
        raise RuntimeError("uid drop left effective capabilities")


# Syscalls that a grader child never needs; EPERM, like a missing privilege would give.
_SECCOMP_DENY = (
    # other processes' memory and lifecycle
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
    "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    # leaving the process group the grader kills
    "setsid", "setpgid",
    # namespaces, mounts and the new mount API
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # big kernel attack surface that no course code uses
    "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "personality",
    # host administration (only matters for a child left as root, but costs nothing)
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "open_by_handle_at", "iopl", "ioperm", "syslog", "quotactl",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname",
    "setdomainname", "vhangup", "uselib",
    # setrlimit raises nothing without CAP_SYS_RESOURCE, but it could still lower a sibling's
    # limits (same uid) through prlimit64; glibc's getrlimit uses prlimit64(new=NULL), allowed below
    "setrlimit",
)  # fmt: skip
_SIGNAL_SYSCALLS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
_CLONE_THREAD = 0x00010000
_CLONE_NS_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
_AF_UNIX = 1
_TIOCSTI = 0x5412  # push characters into a terminal's input: a classic sandbox escape
_TIOCLINUX = 0x541C


def _build_seccomp_filter(pid: int) -> tuple[pyseccomp.SyscallFilter, list[str]]:
    """The child's filter (default allow) and the syscall names this libseccomp does not know."""
    sc = pyseccomp
    eperm = sc.ERRNO(errno.EPERM)
    filt = sc.SyscallFilter(sc.ALLOW)
    # Another architecture's syscall table (int 0x80, x32) would dodge every rule: kill instead.
    filt.set_attr(sc.Attr.ACT_BADARCH, sc.KILL_PROCESS)
    filt.set_attr(sc.Attr.CTL_TSYNC, 1)  # all threads, should the caller have started one
    unknown: list[str] = []

    def known(name: str) -> bool:
        if sc.resolve_syscall(sc.Arch.NATIVE, name) < 0:
            unknown.append(name)
            return False
        return True

    for name in _SECCOMP_DENY:
        if known(name):
            filt.add_rule(eperm, name)
    # Signals only to itself. The pid is the first argument of all five; the comparison is on all
    # 64 bits, so a target smuggled in the upper half is refused too. Its own children are refused
    # as well (seccomp cannot tell them apart); Landlock's signal scope covers other sandboxes.
    for name in _SIGNAL_SYSCALLS:
        if known(name):
            filt.add_rule(eperm, name, sc.Arg(0, sc.NE, pid))
    filt.add_rule(eperm, "socket", sc.Arg(0, sc.NE, _AF_UNIX))
    if known("prlimit64"):
        filt.add_rule(eperm, "prlimit64", sc.Arg(2, sc.NE, 0))
    for request in (_TIOCSTI, _TIOCLINUX):
        # The kernel reads the request as 32 bits: compare only those, or high bits would dodge it.
        filt.add_rule(eperm, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    # No new processes: no course code needs one, and a process the child started would
    # outlive it if the grader itself were SIGKILLed (the zygote's kill-all never runs).
    # Threads (CLONE_THREAD) stay allowed, bounded by RLIMIT_NPROC; namespace flags are not.
    for name in ("fork", "vfork"):
        if known(name):
            filt.add_rule(eperm, name)
    filt.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, 0))
    for flag in _CLONE_NS_FLAGS:
        filt.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    # clone3 passes its flags in memory, out of seccomp's sight: ENOSYS makes glibc fall back to
    # clone, whose flags the rules above can see.
    if known("clone3"):
        filt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    return filt, unknown


def _prepare_environment(scratch: Path) -> None:
    """Point cwd, HOME and the temp dir at scratch: the only place the child can write."""
    os.chdir(scratch)  # done while still root: scratch may sit beneath a 0700 directory
    os.environ["HOME"] = os.environ["TMPDIR"] = str(scratch)
    tempfile.tempdir = str(scratch)  # the zygote may already have cached /tmp


def confine(c: Confinement) -> tuple[Layer, ...]:
    """Apply every layer the host offers, in the forked child, before any untrusted code runs.

    Never raises for a layer the host lacks: records it as inactive with the reason. Raises only if
    a layer that the host offers fails to apply (then the caller must not run student code).
    Also makes scratch the working directory, HOME, TMPDIR and tempfile's directory. Must run in a
    single-threaded process (right after fork): Landlock applies to the calling thread only.
    File descriptors already open stay usable whatever the rules say: close, before calling this,
    every inherited one the student must not have (keep only the result pipe and stdio).
    """
    status = _proc_status()
    if status.get("Threads", "1").strip() != "1":
        raise RuntimeError("confine() must run in a single-threaded process, right after fork()")
    if not c.scratch.is_dir():
        raise FileNotFoundError(f"scratch directory missing: {c.scratch}")
    layers: dict[str, Layer] = {}
    parent = os.getppid()

    # 1. process: own session and process group (fails only if already a group leader).
    if os.getsid(0) != os.getpid():
        os.setsid()
    layers["process"] = _process_layer()

    # 2. netns: needs CAP_SYS_ADMIN, so before the uid drop.
    layers["netns"] = netns = _netns_layer(status)
    if netns.active and _libc.unshare(_CLONE_NEWNET) != 0:
        raise _errno_error("unshare(CLONE_NEWNET)")

    # 2b. scratch: a tmpfs of its own, before Landlock opens the scratch path for its rules.
    layers["scratch"] = scratch = _scratch_layer(status, c.scratch_bytes)
    layers["uid"] = _uid_layer(c.uid is not None, status)
    dropping = layers["uid"].active
    if scratch.active:
        _mount_scratch(c)
        if dropping and c.uid is not None:
            _reveal_readable(c, c.uid)

    # 6a. Landlock ruleset, built while we can still open every readable path.
    abi, why = _landlock_abi()
    ruleset_fd = _landlock_prepare(abi, c) if abi >= 1 else -1
    try:
        # 3. rlimits (lowering needs no privilege; done before the drop so nothing is ever unlimited
        #    under the student's uid).
        _set_rlimits(c, status)
        layers["rlimits"] = _rlimits_layer(dropping)
        _prepare_environment(c.scratch)

        # 4. uid
        if dropping and c.uid is not None:
            _drop_uid(c.uid)
        # The parent-death signal is cleared by a credential change, so it is set after the drop;
        # then check the zygote did not die before it was set. (It fires when the *thread* that
        # forked exits: the zygote should fork from its main thread.)
        if _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise _errno_error("prctl(PR_SET_PDEATHSIG)")
        if os.getppid() != parent:
            raise RuntimeError("the parent exited during confine()")

        # 5. no_new_privs: required by Landlock and seccomp once we lack CAP_SYS_ADMIN.
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise _errno_error("prctl(PR_SET_NO_NEW_PRIVS)")
        layers["no_new_privs"] = _nnp_layer(supported=True)

        # 6b. Landlock enforced.
        if ruleset_fd >= 0:
            fd, ruleset_fd = ruleset_fd, -1
            _landlock_restrict(fd)
        layers["landlock"] = _landlock_layer(abi, why)
    finally:
        if ruleset_fd >= 0:
            os.close(ruleset_fd)

    # 7. seccomp, last: it forbids setsid and unshare used above.
    why, unknown = _seccomp_unavailable(status), []
    if not why:
        filt, unknown = _build_seccomp_filter(os.getpid())
        filt.load()
    layers["seccomp"] = _seccomp_layer(why, unknown)
    return tuple(layers[name] for name in LAYER_NAMES)
