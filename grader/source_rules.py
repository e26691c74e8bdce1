"""Read a submission's source (never run it) to find names a rule forbids.

Run-time records in the sandbox can be undone by a hostile submission; the syntax tree
read in the trusted process cannot. A rule says which attribute names are forbidden
(``torch.sigmoid``, ``loss.backward``) and from which modules nothing may be imported
(``torch.autograd``). The search follows the function into the module's other functions
and into the module-level assignments of the global names it uses, so hiding the
forbidden call in a helper or an alias does not help; and since a computed name
(``getattr(torch, "sig" + "moid")``) cannot be checked by reading, dynamic lookups
anywhere in the file count as uses too.
"""

from __future__ import annotations

import ast

# Ways to reach an object by a computed name, or to rewrite the module from inside.
DYNAMIC_CALLS = frozenset(
    {
        "getattr",
        "setattr",
        "delattr",
        "eval",
        "exec",
        "compile",
        "__import__",
        "globals",
        "vars",
        "locals",
    }
)
DYNAMIC_NAMES = frozenset({"importlib", "builtins", "__builtins__"})
DYNAMIC_ATTRIBUTES = frozenset({"__dict__", "__getattribute__", "modules", "__globals__"})


def forbidden_uses(
    tree: ast.Module | None,
    function: str,
    attributes: frozenset[str],
    modules: tuple[str, ...] = (),
) -> list[str]:
    """Snippets of ``function`` (and what it reaches) that use a forbidden name."""
    if tree is None:
        return []
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    assignments = _module_assignments(tree)
    forbidden_aliases = _forbidden_aliases(tree, attributes, modules)
    found: list[str] = dynamic_lookups(tree)
    visited: set[str] = set()
    pending: list[ast.AST] = [functions[function]] if function in functions else []
    while pending:
        for node in ast.walk(pending.pop()):
            if isinstance(node, ast.Attribute) and node.attr in attributes:
                found.append(ast.unparse(node))
            elif isinstance(node, ast.Name) and node.id not in visited:
                if node.id in forbidden_aliases:
                    found.append(node.id)
                visited.add(node.id)
                if node.id in functions:
                    pending.append(functions[node.id])
                pending += assignments.get(node.id, [])
            elif isinstance(node, ast.Constant) and node.value in attributes:
                found.append(repr(node.value))  # getattr(torch, "sigmoid")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                found += _forbidden_imports(node, attributes, modules)
    return sorted(set(found))


def dynamic_lookups(tree: ast.Module) -> list[str]:
    """Computed-name lookups anywhere in the module, which reading cannot follow."""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in DYNAMIC_CALLS
        ):
            found.append(f"{node.func.id}(...)")
        elif isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in DYNAMIC_ATTRIBUTES:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            found += [
                f"import {name}"
                for name in names
                if name.split(".")[0] in DYNAMIC_NAMES | {"grader"}
            ]
    return found


def _module_assignments(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """For each global name assigned at module level, the expressions assigned to it."""
    values: dict[str, list[ast.AST]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        values.setdefault(name.id, []).append(node.value)
    return values


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
