"""Solution → stub: every answer region becomes a NotImplementedError naming its task."""

from __future__ import annotations

import ast

from grader.authoring.regions import MarkerError, answer_regions


def not_implemented_message(exercise_id: str, function: str) -> str:
    """The text of a stub's NotImplementedError; the self-checks recognise it."""
    return f"{exercise_id}: {function}"


def make_stub(source: str, exercise_id: str, filename: str) -> str:
    """Return ``source`` with each answer region replaced by ``# YOUR CODE HERE`` + raise."""
    regions = answer_regions(source, filename)
    if not regions:  # the stub would be the solution
        raise MarkerError(
            filename, 1, "no answer region: put what students write between "
            "'### BEGIN SOLUTION' and '### END SOLUTION'"
        )  # fmt: skip
    lines = source.splitlines(keepends=True)
    for region in reversed(regions):
        message = not_implemented_message(exercise_id, region.function)
        lines[region.begin - 1 : region.end] = [
            f"{region.indent}# YOUR CODE HERE\n",
            f'{region.indent}raise NotImplementedError("{message}")\n',
        ]
    stub = "".join(lines)
    ast.parse(stub, filename=filename)  # a stub that does not parse is a bug here, not a student's
    return stub
