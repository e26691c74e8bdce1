"""Grading on a real Dask cluster (a scheduler and two grading workers on 127.0.0.1): the
same grades as a local batch, nothing lost or doubled when a worker dies, a lost scheduler
said in one line and resumed, and a worker of another course refused."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.cluster import local_cluster
from tests.golden import essentials
from tests.helpers import ROOT, SEED, read_results, run_grader


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with local_cluster(tmp_path_factory.mktemp("cluster"), workers=2) as running:
        yield running


def _batch(folder, out, *extra, **kwargs):
    return run_grader("batch", str(folder), "--out", str(out), "--seed", str(SEED), *extra,
                      **kwargs)  # fmt: skip


def test_the_class_on_the_cluster_grades_as_the_local_batch(sample_class, cluster, tmp_path):
    done = _batch(sample_class["folder"], tmp_path / "out", "--cluster", cluster.address)
    assert done.returncode == 0, done.stderr
    assert "to grade on the Dask cluster" in done.stdout
    results = read_results(tmp_path / "out")
    assert essentials(results) == essentials(sample_class["results"])  # check for check
    assert (tmp_path / "out" / "grades.csv").read_text() == (
        sample_class["out"] / "grades.csv"
    ).read_text()
    extra = results["reference"]["extra_data"]
    assert extra["host"] and {layer["name"] for layer in extra["protections"]} >= {"seccomp"}


def test_grade_on_the_cluster_equals_a_local_grade(sample_class, cluster, tmp_path):
    for student in ("reference", "sigmoid_wrong_sign"):
        results = tmp_path / f"{student}.json"
        submission = str(sample_class["folder"] / student)
        done = run_grader(
            "grade", submission, "--results", str(results), "--seed", str(SEED),
            "--cluster", cluster.address,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert f"total {sample_class['results'][student]['score']:g}/100" in done.stdout
        graded = {student: json.loads(results.read_text())}
        assert essentials(graded) == essentials({student: sample_class["results"][student]})


def test_a_worker_whose_zygote_died_starts_another(sample_class, cluster, tmp_path):
    workers = [worker.pid for worker in cluster.workers]
    killed = [zygote for worker in workers for zygote in _zygotes(worker)]
    assert len(killed) == 2
    for zygote in killed:  # both: whichever worker Dask picks must start a new one
        os.kill(zygote, signal.SIGKILL)
    folder = tmp_path / "class"
    for index in range(4):  # enough that both workers grade some
        shutil.copytree(sample_class["folder"] / "reference", folder / f"r{index}")
    done = _batch(folder, tmp_path / "out", "--cluster", cluster.address)
    assert done.returncode == 0, done.stderr
    assert {r["score"] for r in read_results(tmp_path / "out").values()} == {100}
    fresh = [pid for worker in workers for pid in _zygotes(worker)]
    assert fresh and not set(fresh) & set(killed), "no new zygote"


def _zygotes(worker):
    """The live zygote processes a worker started (from any of its threads)."""
    found = []
    for children in Path(f"/proc/{worker}/task").glob("*/children"):
        for pid in children.read_text().split():
            if b"grader.sandbox.inside.zygote" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
    return found


def test_a_scheduler_file_works_where_cluster_does(sample_class, cluster, tmp_path):
    folder = tmp_path / "class"
    shutil.copytree(sample_class["folder"] / "mse_sum", folder / "mse_sum")
    done = _batch(folder, tmp_path / "out", "--scheduler-file", str(cluster.scheduler_file))
    assert done.returncode == 0, done.stderr
    assert read_results(tmp_path / "out")["mse_sum"]["score"] == 97


def test_a_killed_worker_loses_and_doubles_nothing(sample_class, tmp_path):
    """SIGKILL one of two workers mid-batch: its submissions are graded by the other, and
    every student ends with one results.json, as the local batch graded it."""
    with local_cluster(tmp_path / "cluster", workers=2) as running:
        out = tmp_path / "out"
        batch = _start_batch(sample_class["folder"], out, running.address)
        _wait_until(lambda: len(list(out.glob("*/results.json"))) >= 4, batch)
        os.kill(running.workers[0].pid, signal.SIGKILL)
        stdout, stderr = batch.communicate(timeout=600)
    assert batch.returncode == 0, stderr
    assert "graded 43 in" in stdout
    results = read_results(out)
    assert essentials(results) == essentials(sample_class["results"])
    assert list(out.glob("**/*.partial")) == []


def test_a_lost_scheduler_ends_the_batch_in_one_line_and_the_rerun_resumes(sample_class, tmp_path):
    out = tmp_path / "out"
    with local_cluster(tmp_path / "first", workers=1) as running:
        batch = _start_batch(sample_class["folder"], out, running.address)
        _wait_until(lambda: len(list(out.glob("*/results.json"))) >= 3, batch)
        os.killpg(running.scheduler.pid, signal.SIGKILL)
        _, stderr = batch.communicate(timeout=300)
    assert batch.returncode == 2
    [line] = [line for line in stderr.splitlines() if line.startswith("grader:")]
    assert "lost the Dask cluster" in line and "run the same command again" in line
    graded_before = len(list(out.glob("*/results.json")))
    assert 3 <= graded_before < 43
    with local_cluster(tmp_path / "second", workers=2) as running:
        done = _batch(sample_class["folder"], out, "--cluster", running.address)
    assert done.returncode == 0, done.stderr
    assert f"{graded_before} already graded, {43 - graded_before} to grade" in done.stdout
    assert essentials(read_results(out)) == essentials(sample_class["results"])


def test_a_worker_of_another_course_is_refused(course, tmp_path, sample_class):
    other = tmp_path / "other-course"
    data = yaml.safe_load((course.root / "course.yml").read_text())
    data["exercises"][0]["checks"][0]["points"] += 1  # one point more for sigmoid_values
    other.mkdir()
    (other / "course.yml").write_text(yaml.safe_dump(data, allow_unicode=True))
    for name in ("solutions", "exercises"):
        (other / name).symlink_to(course.root / name)
    with local_cluster(tmp_path / "cluster", workers=1, course=other) as running:
        done = _batch(sample_class["folder"], tmp_path / "out", "--cluster", running.address)
    assert done.returncode == 2
    assert "grades another course or grader version" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*/results.json"))


def _start_batch(folder, out, address):
    """``grader batch --cluster`` in the background, to interrupt it."""
    return subprocess.Popen(
        [sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "--seed",
         str(SEED), "--cluster", address],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def _wait_until(condition, process, timeout=300):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
