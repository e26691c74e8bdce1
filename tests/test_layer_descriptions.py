"""Each isolation layer is described once, truly for the case at hand, in the same words on the
terminal, in results.json and in --require-isolation's refusal."""

from __future__ import annotations

import os

import pytest

from grader.errors import IsolationMissing
from grader.reports.writers import results_json, terminal_table
from grader.results import ExerciseScore, Grade
from grader.sandbox.confine import apply as isolation
from grader.sandbox.confine import base
from grader.sandbox.host.launch import refuse_without_isolation

NO_CAPABILITIES = {"CapEff": "0000000000000000", "Seccomp": "0", "VmSize": "1000 kB"}
README_POINTER = "see README, 'What the sandbox stops'; use --require-isolation to refuse"


def _layers(monkeypatch: pytest.MonkeyPatch, euid: int) -> dict[str, isolation.Layer]:
    """The host's layers as a process with no capabilities and effective uid ``euid`` sees them."""
    monkeypatch.setattr(os, "geteuid", lambda: euid)
    monkeypatch.setattr(base, "proc_status", lambda: dict(NO_CAPABILITIES))
    return {layer.name: layer for layer in isolation.host_layers(want_uid=True)}


def test_an_ordinary_user_is_told_so_and_nothing_about_root(monkeypatch):
    layers = _layers(monkeypatch, euid=1000)
    for name in ("netns", "scratch", "uid"):
        assert not layers[name].active
        assert layers[name].detail.startswith("running as an ordinary user (uid 1000)")
    assert "root" not in layers["rlimits"].detail
    assert "every process and thread of your user" in layers["rlimits"].detail
    notice = isolation.reduced_isolation(layer.__dict__ for layer in layers.values())
    assert notice.startswith(
        "running as an ordinary user: no network namespace, no tmpfs scratch, no separate uid"
    )
    assert notice.endswith(README_POINTER)


def test_root_without_capabilities_is_not_called_an_ordinary_user(monkeypatch):
    layers = _layers(monkeypatch, euid=0)
    assert layers["uid"].detail.startswith("root without CAP_SETUID and CAP_SETGID")
    assert layers["netns"].detail.startswith("root without CAP_SYS_ADMIN")
    assert "the kernel ignores it for root" in layers["rlimits"].detail
    notice = isolation.reduced_isolation(layer.__dict__ for layer in layers.values())
    assert notice.startswith("reduced isolation on this host: no network namespace")


def test_the_refusal_gives_the_same_reasons_as_results_json(monkeypatch):
    layers = [layer.__dict__ for layer in _layers(monkeypatch, euid=1000).values()]
    with pytest.raises(IsolationMissing) as refused:
        refuse_without_isolation(True, layers)
    for layer in layers:
        assert (layer["detail"] in str(refused.value)) == (not layer["active"]), layer
    refuse_without_isolation(False, layers)  # without the flag, grading goes on


def test_this_hosts_descriptions_are_true_for_whoever_runs_the_tests():
    layers = {layer.name: layer for layer in isolation.host_layers(want_uid=True)}
    notice = isolation.reduced_isolation(layer.__dict__ for layer in layers.values())
    if os.geteuid() != 0:
        assert "root" not in layers["rlimits"].detail
        assert notice.startswith("running as an ordinary user: ")
    elif layers["uid"].active:
        assert "counted under the child's own uid" in layers["rlimits"].detail
    assert (notice == "") == all(layer.active for layer in layers.values())


def _grade(isolation_line: str) -> Grade:
    return Grade(
        student="ada",
        checks=(),
        exercises=(ExerciseScore("ex1_forward", "Forward", 0.0, 20.0),),
        seed=1,
        grader_version="test",
        protections=(),
        seconds=0.1,
        isolation=isolation_line,
    )


def test_the_notice_reaches_the_top_level_output_once():
    line = f"running as an ordinary user: no separate uid — {README_POINTER}"
    result = results_json(_grade(line))
    assert result["extra_data"]["isolation"] == line
    assert result["output"].count("running as an ordinary user: no separate uid") == 1
    assert "ordinary user" not in terminal_table(_grade(line))  # said once, at the start
    assert "ordinary user" not in results_json(_grade(""))["output"]
