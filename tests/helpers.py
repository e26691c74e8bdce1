"""Helpers of our own tests: run the grader as a user would, read what it wrote."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 11


def run_grader(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run the `grader` command as a user would; never raises on a non-zero exit."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
    )


def read_results(out: Path) -> dict[str, dict]:
    """Every student's results.json in a batch's output folder, by student id."""
    return {
        path.parent.name: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(out.glob("*/results.json"))
    }


def failed_checks(result: dict, exercise: str | None = None) -> set[str]:
    return {
        test["tags"][1] if exercise else ".".join(test["tags"][:2])
        for test in result["tests"]
        if test["status"] != "passed" and (exercise is None or test["tags"][0] == exercise)
    }


def hidden_check_lines(min_length: int = 30) -> set[str]:
    """Distinctive lines of code of the hidden checks, to search feedback for leaks.

    Lines that are only a string are left out: those are the messages and hints, written
    to be shown to students.
    """
    from grader.course import CHECKS_DIR

    lines = set()
    for path in CHECKS_DIR.glob("test_*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            code = line.strip()
            is_message = code.lstrip("f").startswith(('"', "'")) or code.startswith(
                ("hint=", "summary=")
            )
            if len(code) > min_length and not is_message:
                lines.add(code)
    return lines
