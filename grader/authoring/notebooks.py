"""Solution → notebook: the same exercise as a Jupyter notebook, with nbgrader metadata.

The module docstring becomes the opening markdown; every top-level function or class
with an answer region becomes a solution cell of its own, introduced by a short
markdown cell and followed by one autograder cell per check that tests it; the rest is
provided code in locked cells; a last cell runs the self-checks in the notebook.

The same notebook serves students (``stubs=True``: answers replaced as in the .py stub)
and nbgrader's source (``stubs=False``: answers kept between the markers, which
``nbgrader generate_assignment`` removes). Autograder cells hold no test code: their
scores come from the sandboxed grader (grader/platforms/nbgrader.py), never from the kernel.

``notebook_source`` reads a notebook back as the module it holds, for grading: this is the
one module that knows the notebook format, both ways.
"""

from __future__ import annotations

import ast
import json
from typing import TYPE_CHECKING

from grader.authoring.regions import answer_regions
from grader.authoring.stubs import make_stub
from grader.course import Check, Exercise

if TYPE_CHECKING:
    from nbformat import NotebookNode

SELF_CHECK_TAG = "selfcheck"  # notebook cells that run the self-checks, not part of the module


def _metadata(grade_id: str, *, solution: bool = False, points: float | None = None) -> dict:
    nbgrader = {
        "grade": points is not None,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
    }
    if points is not None:
        nbgrader["points"] = points
    return {"nbgrader": nbgrader}


def _cell(kind: str, source: str, cell_id: str, metadata: dict) -> NotebookNode:
    import nbformat  # here, not at the top: grading reads notebooks and must not pay its import

    make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
    cell = make(source=source.strip("\n"), metadata=metadata)
    cell.id = cell_id  # fixed ids keep the generated notebook identical from build to build
    return cell


def _owner(check: Check, names: list[str]) -> str | None:
    """The function a check tests: the longest name its id starts with."""
    matching = [name for name in names if check.id.startswith(name + "_") or check.id == name]
    return max(matching, key=len) if matching else None


def make_notebook(source: str, exercise: Exercise, stubs: bool) -> NotebookNode:
    """The exercise as a notebook; ``stubs`` replaces answers like the .py stub does."""
    regions = answer_regions(source, exercise.file)
    answered = {region.function.split(".")[0] for region in regions}
    code = make_stub(source, exercise.id, exercise.file) if stubs else source
    ends = [] if stubs else [region.end for region in regions]  # END marker lines
    tree = ast.parse(code, filename=exercise.file)
    lines = code.splitlines()
    docstring = ast.get_docstring(tree) or ""
    body = tree.body[1:] if docstring else tree.body
    solution_nodes = [
        node
        for node in body
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in answered
    ]
    names = [node.name for node in solution_nodes]
    checks: dict[str | None, list[Check]] = {}
    for check in exercise.checks:
        checks.setdefault(_owner(check, names), []).append(check)

    objectives = "\n".join(f"- {objective}" for objective in exercise.objectives)
    cells = [
        _cell(
            "markdown",
            f"# {exercise.title}\n\nYou will:\n\n{objectives}\n\n{docstring}",
            "introduction",
            _metadata("introduction"),
        )
    ]
    start = _first_line(body[0]) if body else len(lines) + 1
    provided = 0
    for node in solution_nodes:
        cells += _provided(lines[start - 1 : _first_line(node) - 1], provided)
        provided += 1
        summary = (ast.get_docstring(node) or "").split("\n\n")[0]
        cells.append(
            _cell(
                "markdown",
                f"## Your turn: `{node.name}`\n\n{summary}",
                f"{node.name}-intro",
                _metadata(f"{node.name}-intro"),
            )
        )
        # The END marker is a comment after the function's last statement: reach it.
        last = max([node.end_lineno or node.lineno, *(e for e in ends if node.lineno < e)])
        last = min([last, *(_first_line(n) - 1 for n in body if n.lineno > node.lineno)])
        cells.append(
            _cell(
                "code",
                "\n".join(lines[_first_line(node) - 1 : last]),
                node.name,
                _metadata(node.name, solution=True),
            )
        )
        cells += [_autograder(check) for check in checks.get(node.name, [])]
        start = last + 1
    cells += _provided(lines[start - 1 :], provided)
    cells += [_autograder(check) for check in checks.get(None, [])]
    cells.append(
        _cell(
            "code",
            "# Check yourself: the exercise's self-checks, run on the code above.\n"
            "from selfcheck import check_notebook\n\n"
            f'check_notebook("{exercise.id}", globals())',
            "self-check",
            {**_metadata("self-check"), "tags": [SELF_CHECK_TAG]},
        )
    )
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return notebook


def _autograder(check: Check) -> NotebookNode:
    text = (
        f"# Autograder: {check.title} ({check.points:g} points).\n"
        "# The course's sandboxed grader scores this cell; it runs nothing here."
    )
    return _cell("code", text, check.id, _metadata(check.id, points=check.points))


def _provided(lines: list[str], index: int) -> list[NotebookNode]:
    text = "\n".join(lines).strip("\n")
    if not text.strip():
        return []
    return [_cell("code", text, f"provided-{index}", _metadata(f"provided-{index}"))]


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def notebook_source(text: str) -> str:
    """The code cells of a notebook, in order, as one module.

    IPython magics and shell escapes (``%matplotlib``, ``!pip``) become comments;
    nbgrader's autograder cells and the self-check cell (tests, not the student's code)
    are left out.
    """
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        raise ValueError("is not a valid notebook (not JSON); re-save it from Jupyter") from None
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise ValueError("is not a valid notebook (no list of cells); re-save it from Jupyter")
    chunks = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else {}
        nbgrader = metadata.get("nbgrader")
        if isinstance(nbgrader, dict) and nbgrader.get("grade") and not nbgrader.get("solution"):
            continue
        tags = metadata.get("tags")
        if isinstance(tags, list) and SELF_CHECK_TAG in tags:
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(part for part in source if isinstance(part, str))
        if isinstance(source, str):
            chunks.append(_without_magics(source))
    return "\n\n".join(chunks) + "\n"


def _without_magics(cell: str) -> str:
    """A cell with its IPython magic and shell lines commented out.

    A cell that is valid Python is left as it is (a continuation line may well start
    with ``!=``); otherwise lines that start with ``%`` or ``!`` are the magics.
    """
    lines = cell.splitlines()
    try:
        ast.parse(cell)
        return "\n".join(lines)
    except (SyntaxError, ValueError):
        pass
    return "\n".join(
        f"# {line}"
        if line.lstrip().startswith(("%", "!")) and not line.lstrip().startswith("!=")
        else line
        for line in lines
    )
