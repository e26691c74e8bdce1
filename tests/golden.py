"""The sample class's grades as the grader gave them, kept to catch any change of behaviour.

    python -m tests.golden OUT   # OUT: the --out folder of `grader batch` on the sample
                                 # class with the tests' seed; rewrites tests/golden/

Regenerate only on purpose (a check or a message changed), and say so in the commit.
What varies from host to host (timings, the sandbox layers) is left out.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from tests.helpers import read_results

GOLDEN = Path(__file__).resolve().parent / "golden"


def essentials(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per student: the score, and the message of every check that did not pass (a check
    that newly passes or fails changes the score and this list)."""
    return {
        student: {
            "score": result["score"],
            "not passed": {
                "::".join(test["tags"]): test["output"]
                for test in result["tests"]
                if test["status"] != "passed"
            },
        }
        for student, result in sorted(results.items())
    }


if __name__ == "__main__":
    out = Path(sys.argv[1])
    text = json.dumps(essentials(read_results(out)), indent=1, ensure_ascii=False) + "\n"
    (GOLDEN / "sample-class.json").write_text(text, encoding="utf-8")
    shutil.copy(out / "grades.csv", GOLDEN / "grades.csv")
