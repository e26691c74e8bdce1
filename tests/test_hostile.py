"""Hostile submissions are contained: no false pass, nothing left behind, the run completes."""

import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from grader.course import CHECKS_DIR
from samples.make_class import with_answer, write_submission
from tests.cluster import local_cluster
from tests.helpers import hidden_check_lines, read_results, run_grader
from tests.hostile_corpus import ATTACKS

SANDBOX_UIDS = range(200_000, 200_000 + 2**22 + 1)  # grader/grading/session.py: 200000 + a pid


def _listener():
    """A loopback TCP server that counts connections (there must be none)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted = []

    def serve():
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            accepted.append(connection.recv(100))

    threading.Thread(target=serve, daemon=True).start()
    return server, accepted


def _sandbox_processes(uid=None):
    """Live processes under a sandbox uid (``uid``, or any of them); zombies have ended."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        if text.split("State:")[1].split()[0] == "Z":
            continue
        owner = int(text.split("Uid:")[1].split()[0])
        if owner == uid or (uid is None and owner in SANDBOX_UIDS):
            found.append(status.parent.name)
    return found


@pytest.fixture(scope="module", params=["local", "cluster"])
def hostile_run(request, tmp_path_factory, course):
    """The corpus graded by a local batch, and by a batch on a real Dask cluster."""
    root = tmp_path_factory.mktemp("hostile")
    # A copy of the course with short limits, so that hanging submissions cost seconds.
    course_root = root / "course"
    course_root.mkdir()
    data = yaml.safe_load((course.root / "course.yml").read_text())
    # CPU below wall clock, so that a busy loop meets the CPU limit and a sleep the clock.
    data["defaults"]["limits"].update(wall_seconds=3, cpu_seconds=1.5, memory_mib=512)
    (course_root / "course.yml").write_text(yaml.safe_dump(data, allow_unicode=True))
    for name in ("solutions", "exercises"):
        (course_root / name).symlink_to(course.root / name)
    submissions, out = root / "class", root / "out"
    write_submission(submissions / "bystander", course)
    server, accepted = _listener()
    marker = root / "marker-written-by-student"
    places = {
        "solutions": course.solutions_dir,
        "checks": CHECKS_DIR,
        "other": submissions / "bystander",
        "course": course_root,
        "out": out,
        "marker": marker,
        "port": server.getsockname()[1],
        "grader_pid": os.getpid(),
    }
    for attack in ATTACKS:
        folder = submissions / attack.student
        write_submission(folder, course)
        file = folder / f"{attack.exercise}.py"
        code = attack.code
        for name, value in places.items():
            code = code.replace("{" + name + "}", str(value))
        source = file.read_text()
        if attack.at == "top":
            source = code + "\n" + source
        elif attack.at == "bottom":
            source = source + "\n" + code + "\n"
        else:
            source = with_answer(source, attack.at, code, file.name)
        file.write_text(source)
    env = dict(os.environ, GRADER_TEST_SECRET="the instructor's token")
    command = ["--course", str(course_root), "batch", str(submissions), "--out", str(out)]
    left_while_running = []
    if request.param == "local":
        done = run_grader(*command, "--seed", "5", env=env)
    else:
        with local_cluster(root / "cluster", 2, course=course_root) as cluster:
            done = run_grader(*command, "--seed", "5", "--cluster", cluster.address, env=env)
            # The workers stay up: all that may run under a sandbox uid is each zygote's
            # spare child, forked ahead for the next submission and waiting on its socket.
            left_while_running = _sandbox_processes()
    server.close()
    return {
        "done": done,
        "results": read_results(out),
        "out": out,
        "marker": marker,
        "accepted": accepted,
        "left": _outliving(),
        "left_while_running": left_while_running,
    }


def _outliving(grace=5.0):
    """Sandbox processes still alive ``grace`` seconds on (a SIGKILLed process takes a
    moment to leave), each described for the failure message."""
    deadline = time.monotonic() + grace
    while _sandbox_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    return [_describe(pid) for pid in _sandbox_processes()]


def _describe(pid):
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
        status = {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return f"{pid} (gone)"
    return (
        f"{pid} {status.get('State')} uid {status.get('Uid')} ppid {status.get('PPid')}: {command}"
    )


def test_the_run_completes_and_grades_everyone(hostile_run):
    assert hostile_run["done"].returncode == 0, hostile_run["done"].stderr
    assert set(hostile_run["results"]) == {"bystander", *(a.student for a in ATTACKS)}
    assert hostile_run["results"]["bystander"]["score"] == 100


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.student for a in ATTACKS])
def test_no_false_pass_and_other_exercises_unaffected(hostile_run, attack):
    result = hostile_run["results"][attack.student]
    failed = {
        t["tags"][1]
        for t in result["tests"]
        if t["status"] != "passed" and t["tags"][0] == attack.exercise
    }
    assert attack.fails <= failed, f"passed although attacked: {attack.fails - failed}"
    others = [
        t["name"]
        for t in result["tests"]
        if t["tags"][0] != attack.exercise and t["status"] != "passed"
    ]
    assert others == [], "an attack on one exercise cost points elsewhere"
    if attack.feedback:
        outputs = [t["output"] for t in result["tests"] if t["tags"][1] in attack.fails]
        assert any(attack.feedback in output for output in outputs), outputs


def test_nothing_is_left_behind(hostile_run):
    assert hostile_run["left"] == [], "sandbox processes outlived the grading"
    spares = hostile_run["left_while_running"]
    assert len(spares) <= 2 and not any(map(_sleeping, spares)), "a submission kept running"
    assert not hostile_run["marker"].exists()
    assert not Path("/tmp/pwned-by-student").exists()
    assert not (hostile_run["out"] / "pwned.txt").exists()
    assert hostile_run["accepted"] == [], "a submission reached the network"


def test_feedback_stays_small_and_never_shows_hidden_source(hostile_run):
    distinctive = hidden_check_lines()
    for path in hostile_run["out"].glob("*/results.json"):
        text = path.read_text()
        assert len(text) < 200_000, f"{path} is {len(text)} bytes"
        assert not any(line in text for line in distinctive), path


def test_the_sandbox_reports_its_protections(hostile_run):
    protections = hostile_run["results"]["bystander"]["extra_data"]["protections"]
    assert {p["name"]: p["active"] for p in protections} == {
        "process": True,
        "netns": True,
        "scratch": True,
        "rlimits": True,
        "uid": True,
        "no_new_privs": True,
        "landlock": True,
        "seccomp": True,
    }


DAEMON_THEN_SLEEP = """
import os, time
try:
    if os.fork() == 0:  # a daemon that would outlive everything, were it allowed to start
        os.setsid()
        time.sleep(600)
        os._exit(0)
except OSError:
    pass
time.sleep(60)
return z"""


def test_a_killed_grader_leaves_no_sandbox_process(tmp_path, course):
    """SIGKILL reaches the grader mid-check: the zygote, its children, and anything a child
    tried to start are gone all the same (PR_SET_PDEATHSIG, and no new processes)."""
    submission = tmp_path / "sleeper"
    write_submission(submission, course)
    file = submission / "ex1_forward.py"
    file.write_text(with_answer(file.read_text(), "sigmoid", DAEMON_THEN_SLEEP, file.name))
    grader = subprocess.Popen(
        [sys.executable, "-m", "grader", "grade", str(submission), "--exercise", "ex1_forward"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uid = SANDBOX_UIDS.start + grader.pid
    try:
        deadline = time.monotonic() + 120
        while not any(_sleeping(pid) for pid in _sandbox_processes(uid)):
            assert grader.poll() is None and time.monotonic() < deadline, "sigmoid never ran"
            time.sleep(0.1)
    finally:
        grader.kill()
        grader.wait()
    deadline = time.monotonic() + 10
    while _sandbox_processes(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sandbox_processes(uid) == []


# nanosleep and clock_nanosleep (time.sleep) by architecture.
SLEEP_SYSCALLS = {"x86_64": ("35", "230"), "aarch64": ("101", "115")}[platform.machine()]


def _sleeping(pid: str) -> bool:
    """Is the process in time.sleep, not waiting on a socket?"""
    try:
        number = Path(f"/proc/{pid}/syscall").read_text().split()[0]
    except (OSError, IndexError):
        return False
    return number in SLEEP_SYSCALLS
