"""Layer ``landlock``: read/execute beneath the readable trees only, write only in scratch,
no TCP, no signals or abstract unix sockets outside the sandbox. Also which trees a child
may read (:func:`readable_paths`)."""

from __future__ import annotations

import ctypes
import errno
import os
import site
import sys
import sysconfig
from pathlib import Path

from grader.sandbox.confine.base import Confinement, Layer, errno_error, libc

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
LANDLOCK_KNOWN_ABI = 7  # ABI 7 only added audit-log flags; nothing new to handle

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


def kernel_abi() -> tuple[int, str]:
    """Landlock ABI version of the running kernel (0 when unusable) and why."""
    abi = libc.syscall(
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


def layer(abi: int, why: str) -> Layer:
    if abi < 1:
        return Layer("landlock", False, why)
    parts = [
        f"ABI {abi}: filesystem read/execute beneath the readable trees, write only in scratch"
    ]
    if abi >= 4:
        parts.append("no TCP bind/connect")
    if abi >= 6:
        parts.append("no signals or abstract unix sockets outside the sandbox")
    if abi > LANDLOCK_KNOWN_ABI:
        parts.append(f"rights added after ABI {LANDLOCK_KNOWN_ABI} are not handled")
    return Layer("landlock", True, "; ".join(parts))


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
    package_root = Path(__file__).resolve().parents[2]  # grader/, from grader/sandbox/confine/
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


def _handled(abi: int) -> tuple[int, int, int]:
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


def prepare(abi: int, c: Confinement) -> int:
    """Create the ruleset and add the path rules; returns its fd (enforced later by restrict).

    Runs while still root, so that paths beneath 0700 directories can be opened (O_PATH) here.
    """
    fs, net, scope = _handled(abi)
    attr = _RulesetAttr(fs, net, scope)
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # the struct as this ABI knows it
    fd = libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
        ctypes.byref(attr),
        ctypes.c_size_t(size),
        ctypes.c_uint32(0),
    )
    if fd < 0:
        raise errno_error("landlock_create_ruleset")
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
            _add_path(fd, path, access & fs, required=path == c.scratch)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _add_path(ruleset_fd: int, path: Path, access: int, required: bool) -> None:
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
        res = libc.syscall(
            ctypes.c_long(_SYS_LANDLOCK_ADD_RULE),
            ctypes.c_int(ruleset_fd),
            ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
            ctypes.byref(rule),
            ctypes.c_uint32(0),
        )
        if res < 0:
            raise errno_error(f"landlock_add_rule({path})")
    finally:
        os.close(path_fd)


def restrict(ruleset_fd: int) -> None:
    try:
        res = libc.syscall(
            ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset_fd), ctypes.c_uint32(0)
        )
        if res < 0:
            raise errno_error("landlock_restrict_self")
    finally:
        os.close(ruleset_fd)
