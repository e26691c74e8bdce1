"""Layer ``seccomp``: EPERM for the syscalls a grader child never needs. Applied last, since
it forbids setsid and unshare, which the earlier layers use."""

from __future__ import annotations

import ctypes
import errno
import struct
import tempfile
from dataclasses import dataclass

from grader.sandbox.confine.base import Layer, errno_error, libc

try:
    import pyseccomp
except (ImportError, RuntimeError, OSError) as _exc:  # RuntimeError: libseccomp.so.2 missing
    pyseccomp = None
    _SECCOMP_IMPORT_ERROR = f"pyseccomp unavailable: {_exc}"
else:
    _SECCOMP_IMPORT_ERROR = ""


def unavailable(status: dict[str, str]) -> str:
    """Empty when seccomp filters can be loaded here, else the reason."""
    if pyseccomp is None:
        return _SECCOMP_IMPORT_ERROR
    if "Seccomp" not in status:
        return "kernel built without CONFIG_SECCOMP"
    if status["Seccomp"].strip() == "1":
        return "already in strict seccomp mode"
    return ""


def layer(why: str, unknown: list[str]) -> Layer:
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


def build_filter(pid: int) -> tuple[pyseccomp.SyscallFilter, list[str]]:
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


# --- compiled once in the zygote, loaded by each child ---------------------------------------

_INSTRUCTION = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k
# Two pids no process can have (pids stay below 2**22): the filter is compiled for each, and
# where the two programs differ is where the child's own pid goes.
_PLACEHOLDERS = (0x2BADF00D, 0x1BADF00D)
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K: "is the argument this constant?", whatever it is
# seccomp(2), as libseccomp loads a filter: on every thread of the process (TSYNC).
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1


class _Program(ctypes.Structure):  # struct sock_fprog
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


@dataclass(frozen=True)
class Program:
    """The child's filter as BPF, compiled once for every child (building it with libseccomp
    costs each child ~2.5 ms, mostly in pages it must first copy from the zygote)."""

    code: bytes  # sock_filter instructions
    pid_slots: tuple[int, ...]  # the instructions whose constant is the child's own pid
    unknown: tuple[str, ...]  # syscalls this libseccomp does not know, so not filtered
    syscall: int  # seccomp(2)'s number on this architecture


def compile_program() -> Program | None:
    """The filter as a program for any child, or None if it cannot be had or libseccomp's
    code for it differs from one pid to another in more than that constant (then each child
    builds its own, as before)."""
    programs = []
    try:
        for placeholder in _PLACEHOLDERS:
            filt, unknown = build_filter(placeholder)
            with tempfile.TemporaryFile() as exported:
                filt.export_bpf(exported)
                exported.seek(0)
                programs.append(exported.read())
        syscall = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, "seccomp")
    except (OSError, RuntimeError, ValueError):
        return None
    first, second = (list(_INSTRUCTION.iter_unpack(code)) for code in programs)
    if len(first) != len(second) or syscall < 0:
        return None
    slots = tuple(i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b)
    if not slots or any(
        first[i][:3] != second[i][:3]
        or first[i][0] != _JEQ_K
        or (first[i][3], second[i][3]) != _PLACEHOLDERS
        for i in slots
    ):
        return None
    return Program(programs[0], slots, tuple(unknown), syscall)


def load_program(program: Program, pid: int) -> None:
    """Load ``program`` for the process ``pid`` (the caller; single-threaded, no_new_privs)."""
    code = bytearray(program.code)
    for slot in program.pid_slots:
        op, jt, jf, _ = _INSTRUCTION.unpack_from(code, slot * _INSTRUCTION.size)
        _INSTRUCTION.pack_into(code, slot * _INSTRUCTION.size, op, jt, jf, pid)
    buffer = (ctypes.c_char * len(code)).from_buffer(code)
    fprog = _Program(len(code) // _INSTRUCTION.size, ctypes.addressof(buffer))
    loaded = libc.syscall(
        ctypes.c_long(program.syscall),
        ctypes.c_ulong(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_ulong(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.c_void_p(ctypes.addressof(fprog)),
    )
    if loaded != 0:
        raise errno_error("seccomp(SECCOMP_SET_MODE_FILTER)")
