"""Error carried forward, the grader's side: the correct stand-ins a check's call runs with.

When a check (not an end-to-end one) runs a graded function that calls others (course.yml,
``calls``), the sandbox runs it in a child of its own where those others are the course's
correct stand-ins (grader/checks/stand_ins/). Those of the submission's own that have
passed all their checks already need none: the check runs with them, in the exercise's
usual child, and runs again with stand-ins only if it fails (grader/checks/conftest.py).
Each stand-in travels as source text, alone with its module's imports, so that a child
holds only the stand-ins of the function it judges: never one for a function judged there,
and never anything of the references.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Set
from pathlib import Path

from grader.course import CHECKS_DIR, Check, Exercise, stand_ins_module


def stand_ins_for(
    exercise: Exercise, check: Check, function: str, proven: Set[str] = frozenset()
) -> dict[str, str]:
    """name -> source of the stand-ins ``check`` runs ``function`` with (often none).

    ``proven``: the submission's functions that have passed every check of their own; they
    need no stand-in (the check runs again with stand-ins if it fails with them).
    """
    names = [name for name in exercise.carried_forward(check, function) if name not in proven]
    if not names:
        return {}
    imports, functions = _read(stand_ins_module(CHECKS_DIR, exercise.id))
    return {name: f"{imports}\n\n\n{functions[name]}\n" for name in names}


@functools.cache  # the course's files do not change while the grader runs
def _read(path: Path) -> tuple[str, dict[str, str]]:
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source, filename=str(path))
    imports = [
        ast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
        and getattr(node, "module", None) != "__future__"
    ]
    functions = {
        node.name: ast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }
    return "\n".join(imports), functions
