"""Read a submission's source (never run it) to find names a rule forbids.

Run-time records in the sandbox can be undone by a hostile submission; the syntax tree
read in the trusted process cannot. A rule says which attribute names are forbidden
(``torch.sigmoid``, ``loss.backward``) and from which modules nothing may be imported
(``torch.autograd``); the search follows calls into the module's other functions, so
hiding the forbidden call in a helper does not help.
"""

from __future__ import annotations

import ast


def forbidden_uses(
    tree: ast.Module | None,
    function: str,
    attributes: frozenset[str],
    modules: tuple[str, ...] = (),
) -> list[str]:
    """Snippets of ``function`` (and what it calls) that use a forbidden name."""
    if tree is None:
        return []
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    forbidden_aliases = _forbidden_aliases(tree, attributes, modules)
    found: list[str] = []
    visited: set[str] = set()
    pending = [function]
    while pending:
        name = pending.pop()
        if name in visited or name not in functions:
            continue
        visited.add(name)
        for node in ast.walk(functions[name]):
            if isinstance(node, ast.Attribute) and node.attr in attributes:
                found.append(ast.unparse(node))
            elif isinstance(node, ast.Name):
                if node.id in forbidden_aliases:
                    found.append(node.id)
                elif node.id in functions:
                    pending.append(node.id)
            elif isinstance(node, ast.Constant) and node.value in attributes:
                found.append(repr(node.value))  # getattr(torch, "sigmoid")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                found += _forbidden_imports(node, attributes, modules)
    return sorted(set(found))


def _forbidden_aliases(
    tree: ast.Module, attributes: frozenset[str], modules: tuple[str, ...]
) -> set[str]:
    aliases = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom) and _forbidden_imports(
            node, attributes, modules
        ):
            aliases |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return aliases


def _forbidden_imports(
    node: ast.Import | ast.ImportFrom, attributes: frozenset[str], modules: tuple[str, ...]
) -> list[str]:
    def bad_module(name: str) -> bool:
        return any(name == m or name.startswith(m + ".") for m in modules)

    if isinstance(node, ast.ImportFrom):
        source = node.module or ""
        if bad_module(source) or any(alias.name in attributes for alias in node.names):
            return [ast.unparse(node)]
        return []
    return [ast.unparse(node) for alias in node.names if bad_module(alias.name)]
