"""Layer ``rlimits``: address space, CPU seconds, processes, file size, open files, no core."""

from __future__ import annotations

import os
import resource
import signal

from grader.sandbox.confine.base import Confinement, Layer


def layer(dropping: bool) -> Layer:
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


def apply(c: Confinement) -> None:
    with open("/proc/self/statm", "rb") as statm:  # its first number: VmSize, in pages
        vm_size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
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
