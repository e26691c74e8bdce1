"""The client's side of grading on Dask: where the cluster is, whether it may be trusted
with the class, and sending the submissions as plain data.

The scheduler and workers are trusted parts of the grader, holding references and hidden
checks; students must never reach them. So a plain ``tcp://`` address is accepted only on
the loopback interface, unless the instructor passes ``--insecure``; across machines the
cluster speaks ``tls://`` with certificates. Before any work is sent, every worker must
grade the same course with the same grader (one fingerprint); a worker that joins later
and differs refuses each task instead.
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from grader import cluster
from grader.errors import UserError

# Submissions in flight per worker: enough to keep each busy, few enough that a class of
# 10,000 is read from disk as it is graded, not all at once.
_IN_FLIGHT_PER_WORKER = 3
_RETRIES = 2  # for infrastructure failures only: a task raises for nothing else


class ClusterError(UserError):
    """The cluster cannot be used, or was lost; the message says why and what to do."""


@dataclass(frozen=True)
class Connection:
    address: str | None  # --cluster
    scheduler_file: Path | None  # --scheduler-file
    insecure: bool = False
    tls_ca_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None


def check_address(address: str, insecure: bool = False) -> str:
    """The scheduler address to connect to, or ClusterError when it is not safe to use."""
    scheme, _, rest = address.rpartition("://")
    scheme = scheme or "tcp"
    if scheme not in ("tcp", "tls"):
        raise ClusterError(f"--cluster {address}: use a tls:// or tcp:// scheduler address")
    host = urlsplit(f"//{rest}").hostname
    if not host:
        raise ClusterError(f"--cluster {address}: no host in the address (tls://HOST:PORT)")
    if scheme == "tcp" and not insecure and not _loopback(host):
        raise ClusterError(
            f"--cluster {address}: plain tcp:// to another machine lets anyone on the network "
            "reach the grader (and the hidden checks); use tls:// with certificates (README, "
            "'A class bigger than one machine'), or pass --insecure on a network you trust"
        )
    return f"{scheme}://{rest}"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: we do not resolve it (it may point anywhere)


def scheduler_address(connection: Connection) -> str:
    if connection.scheduler_file is not None:
        try:
            address = json.loads(connection.scheduler_file.read_text(encoding="utf-8"))["address"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ClusterError(
                f"--scheduler-file {connection.scheduler_file}: not a scheduler file "
                f"({type(error).__name__}); `dask scheduler --scheduler-file PATH` writes one"
            ) from None
        return check_address(str(address), connection.insecure)
    assert connection.address is not None
    return check_address(connection.address, connection.insecure)


def connect(connection: Connection) -> Any:
    """A distributed.Client of the cluster, or ClusterError saying why there is none."""
    from distributed import Client, Security

    address = scheduler_address(connection)
    security = None
    if address.startswith("tls://"):
        files = (connection.tls_ca_file, connection.tls_cert, connection.tls_key)
        if any(files) and not all(files):
            raise ClusterError("tls://: give all of --tls-ca-file, --tls-cert and --tls-key")
        security = (
            Security(
                tls_ca_file=_text(connection.tls_ca_file),
                tls_client_cert=_text(connection.tls_cert),
                tls_client_key=_text(connection.tls_key),
                require_encryption=True,
            )
            if all(files)
            else Security(require_encryption=True)
        )  # from Dask's configuration
    try:
        return Client(address, security=security, timeout=20, set_as_default=False)
    except (OSError, TimeoutError) as error:
        why = (str(error).strip().splitlines() or [""])[0][:200]
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address} ({type(error).__name__}: {why}); "
            "is it running (`dask scheduler`), and is this the address it printed?"
        ) from None


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def verify(client: Any, fingerprint: str, require_isolation: bool) -> list[str]:
    """Refuse a cluster that would grade differently; return its notices (one per host)."""
    deadline = time.monotonic() + 60
    while not client.scheduler_info().get("workers"):
        if time.monotonic() > deadline:
            raise ClusterError(
                "the Dask cluster has no worker; start some with "
                "`dask worker ADDRESS --nthreads 1 --preload grader.cluster`"
            )
        time.sleep(0.5)
    notices = {}
    for address, facts in client.run(cluster.describe).items():
        if not facts.get("ready"):
            raise ClusterError(
                f"worker {address} is not a grading worker: start it with --preload grader.cluster"
            )
        if facts["fingerprint"] != fingerprint:
            raise ClusterError(
                f"worker {address} on {facts['host']} grades another course or grader version "
                f"(fingerprint {facts['fingerprint'][:12]}, ours {fingerprint[:12]}): start the "
                "workers from the same checkout and course.yml as this command"
            )
        if require_isolation and facts["missing"]:
            raise ClusterError(
                f"refusing to grade (--require-isolation): worker {address} on "
                f"{facts['host']}: {facts['missing']}"
            )
        if facts["isolation"]:
            notices[facts["host"]] = f"{facts['host']}: {facts['isolation']}"
    return list(notices.values())


def dashboard(client: Any) -> str | None:
    """The Dask dashboard's link, when the scheduler serves one."""
    services = client.scheduler_info().get("services", {})
    return client.dashboard_link if "dashboard" in services else None


def grade_all(
    client: Any,
    jobs: Iterator[dict[str, Any]],
    on_result: Callable[[dict[str, Any]], None],
    on_failure: Callable[[str, str], None],
) -> None:
    """Grade every job on the cluster, a bounded number at a time. ``on_result`` gets each
    task's answer as it completes; ``on_failure(student, why)`` a task that failed for good
    (its retries spent on infrastructure failures). Raises ClusterError when the cluster is
    lost or a worker refuses the course."""
    from distributed import as_completed

    run = uuid.uuid4().hex[:8]
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    students: dict[str, str] = {}  # task key -> student

    def submit_next() -> list[Any]:
        job = next(jobs, None)
        if job is None:
            return []
        # An explicit key per student: identical submissions are graded once each.
        key = f"grade-{run}-{job['student']}"
        students[key] = job["student"]
        return [client.submit(cluster.grade, job, key=key, pure=False, retries=_RETRIES)]

    first = [f for _ in range(workers * _IN_FLIGHT_PER_WORKER) for f in submit_next()]
    pending = as_completed(first, loop=client.loop)
    try:
        for future in pending:
            if future.status == "error":
                on_failure(students[future.key], f"{type(future.exception()).__name__}")
            else:
                answer = future.result()
                if "refused" in answer:
                    raise ClusterError(
                        f"{answer['refused']}: start every worker from the same checkout and "
                        "course.yml as this command"
                    )
                on_result(answer)
            for future in submit_next():
                pending.add(future)
    except ClusterError:
        raise
    except Exception as error:  # the scheduler or the network went away
        why = (str(error).strip().splitlines() or [""])[0][:200]
        raise ClusterError(
            f"lost the Dask cluster ({type(error).__name__}: {why}); results so far are "
            "saved: run the same command again to grade the rest"
        ) from None
