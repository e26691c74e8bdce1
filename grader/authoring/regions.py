"""Find the answer regions of a reference solution, strictly.

An answer region is the lines between a ``### BEGIN SOLUTION`` comment and a
``### END SOLUTION`` comment (nbgrader's words), inside one function. Every transform
that hides solutions (stubs, notebooks) starts from these regions, so malformed
markers are an error here, with the file and line, and never a silently leaked answer.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

from grader.errors import UserError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
# Anything that looks like an attempt at a marker but is not exactly one of the two.
_MARKER_LIKE = re.compile(r"^#+\s*(BEGIN|END)\b", re.IGNORECASE)


class MarkerError(UserError, ValueError):
    """A solution file's markers are malformed; the message starts with file:line."""

    def __init__(self, filename: str, line: int, problem: str) -> None:
        super().__init__(f"{filename}:{line}: {problem}")
        self.filename = filename
        self.line = line


@dataclass(frozen=True)
class AnswerRegion:
    """Lines ``begin``..``end`` (1-based, the marker lines included) of ``function``."""

    begin: int
    end: int
    indent: str
    function: str  # qualified name, e.g. "OurFirstNeuralNetwork.forward"


def answer_regions(source: str, filename: str) -> list[AnswerRegion]:
    """Return the answer regions of ``source`` in order, or raise MarkerError."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise MarkerError(filename, error.lineno or 0, f"not valid Python: {error.msg}") from None
    lines = source.splitlines()
    regions: list[AnswerRegion] = []
    open_line: int | None = None
    for line in _comment_lines(source, filename):
        text = lines[line - 1].strip()
        if text not in (BEGIN, END):
            if _MARKER_LIKE.match(text):
                raise MarkerError(
                    filename, line, f"malformed marker {text!r}: write exactly {BEGIN!r} or {END!r}"
                )
            continue
        if text == BEGIN:
            if open_line is not None:
                raise MarkerError(
                    filename,
                    line,
                    f"nested {BEGIN!r}: the region opened at line {open_line} "
                    f"is still open; close it with {END!r} first",
                )
            open_line = line
            continue
        if open_line is None:
            raise MarkerError(filename, line, f"{END!r} without a {BEGIN!r} before it")
        regions.append(_region(filename, lines, tree, open_line, line))
        open_line = None
    if open_line is not None:
        raise MarkerError(filename, open_line, f"{BEGIN!r} is never closed by {END!r}")
    return regions


def _region(
    filename: str, lines: list[str], tree: ast.Module, begin: int, end: int
) -> AnswerRegion:
    statements = [
        node for node in ast.walk(tree) if isinstance(node, ast.stmt) and begin < node.lineno < end
    ]
    if not statements:
        raise MarkerError(
            filename, begin, "empty answer region: put the solution between the markers"
        )
    # The region belongs to the innermost function around its first line; the markers
    # are comments, which the syntax tree does not place, so test the statements.
    enclosing = [span for span in _function_spans(tree) if span[0] < begin <= span[1]]
    owner = max(enclosing, key=lambda span: span[0]) if enclosing else None
    if owner is None or any(node.end_lineno > owner[1] for node in statements):
        raise MarkerError(
            filename,
            begin,
            "answer region outside a function: put it inside a function's body "
            "so that an unfinished function fails only its own checks",
        )
    begin_indent = _indent(lines[begin - 1])
    if _indent(lines[end - 1]) != begin_indent:
        raise MarkerError(
            filename, end, f"{END!r} is not indented like its {BEGIN!r} at line {begin}"
        )
    return AnswerRegion(begin=begin, end=end, indent=begin_indent, function=owner[2])


def _function_spans(tree: ast.Module) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function and method."""
    spans = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                spans.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def _comment_lines(source: str, filename: str) -> list[int]:
    """Lines that hold nothing but a comment (markers inside strings are not markers).

    A marker after code on the same line would be skipped by a reader looking for
    whole-line markers, and the answer would ship in the stub: it is an error.
    """
    lines = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        if not token.line[: token.start[1]].strip():
            lines.append(token.start[0])
        elif _MARKER_LIKE.match(token.string.strip()):
            raise MarkerError(
                filename, token.start[0], f"{token.string.strip()!r} must be on a line of its own"
            )
    return lines


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
