"""Which scheduler addresses the grader accepts: no test sends traffic anywhere."""

import json
import subprocess
import sys

import pytest

from grader.cluster.client import ClusterError, Connection, check_address, scheduler_address


@pytest.mark.parametrize(
    ("address", "accepted"),
    [
        ("tcp://127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("127.0.0.1:8786", "tcp://127.0.0.1:8786"),
        ("tcp://localhost:8786", "tcp://localhost:8786"),
        ("tcp://[::1]:8786", "tcp://[::1]:8786"),
        ("tcp://127.3.4.5:9000", "tcp://127.3.4.5:9000"),
        ("tls://10.0.0.5:8786", "tls://10.0.0.5:8786"),
        ("tls://scheduler.example.org:8786", "tls://scheduler.example.org:8786"),
    ],
)
def test_loopback_and_tls_addresses_are_accepted(address, accepted):
    assert check_address(address) == accepted


@pytest.mark.parametrize(
    "address",
    ["tcp://10.0.0.5:8786", "10.0.0.5:8786", "tcp://scheduler.example.org:8786",
     "tcp://0.0.0.0:8786", "tcp://[2001:db8::1]:8786", "tcp://localhost.evil.org:8786"],
)  # fmt: skip
def test_plain_tcp_to_another_machine_is_refused_without_insecure(address):
    with pytest.raises(ClusterError, match=r"use tls:// with certificates .* or pass --insecure"):
        check_address(address)
    assert check_address(address, insecure=True).startswith("tcp://")


@pytest.mark.parametrize(
    ("address", "words"),
    [("ws://127.0.0.1:8786", "use a tls:// or tcp://"), ("tls://:8786", "no host")],
)
def test_other_schemes_and_hostless_addresses_say_what_is_wrong(address, words):
    with pytest.raises(ClusterError, match=words):
        check_address(address, insecure=True)


def test_a_scheduler_file_is_held_to_the_same_rule(tmp_path):
    path = tmp_path / "scheduler.json"
    path.write_text(json.dumps({"address": "tcp://192.168.1.9:8786"}))
    with pytest.raises(ClusterError, match="--insecure"):
        scheduler_address(Connection(None, path))
    path.write_text("not json")
    with pytest.raises(ClusterError, match="not a scheduler file"):
        scheduler_address(Connection(None, path))


def test_the_refusal_is_one_line_and_exit_status_2(tmp_path):
    (tmp_path / "class").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(tmp_path / "class"), "--out",
         str(tmp_path / "out"), "--cluster", "tcp://10.1.2.3:8786"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(
        "grader: --cluster tcp://10.1.2.3"
    )
