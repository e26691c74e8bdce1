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

# Ways to reach an object by a computed name, or to undo the grader's run-time records.
DYNAMIC_NAMES = frozenset(
    {"getattr", "setattr", "delattr", "eval", "exec", "compile", "__import__", "globals",
     "vars", "locals", "importlib", "builtins", "__builtins__", "attrgetter", "methodcaller"}
)  # fmt: skip
DYNAMIC_ATTRIBUTES = frozenset(
    {"__dict__", "__getattribute__", "modules", "__globals__", "__wrapped__", "attrgetter",
     "methodcaller", "__closure__", "cell_contents", "__code__"}
)  # fmt: skip


def forbidden_uses(
    tree: ast.Module | None,
    function: str,
    attributes: frozenset[str],
    modules: tuple[str, ...] = (),
) -> list[str]:
    """Snippets of ``function`` (and what it reaches) that use a forbidden name.

    ``tree`` is None when the source could not be parsed here: that counts as a use,
    since nothing could be checked.
    """
    if tree is None:
        return ["(a file the grader could not read, e.g. nested too deeply)"]
    functions: dict[str, list[ast.AST]] = {}
    assignments: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):  # definitions at any depth: in classes, under if or try
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            functions.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign) and node.value:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for name in (n for target in targets for n in ast.walk(target)):
                if isinstance(name, ast.Name):
                    assignments.setdefault(name.id, []).append(node.value)
    forbidden_aliases = _forbidden_aliases(tree, attributes, modules)
    found: list[str] = dynamic_lookups(tree)
    visited: set[str] = {function}
    pending = [*functions.get(function, []), *assignments.get(function, [])]
    while pending:
        for node in ast.walk(pending.pop()):
            name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", None)
            if isinstance(node, ast.Attribute) and node.attr in attributes:
                found.append(ast.unparse(node))
            elif isinstance(node, ast.Name) and node.id in forbidden_aliases:
                found.append(node.id)
            elif isinstance(node, ast.Constant) and node.value in attributes:
                found.append(repr(node.value))  # getattr(torch, "sigmoid")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                found += _forbidden_imports(node, attributes, modules)
            if isinstance(name, str) and name not in visited:  # follow helpers and aliases
                visited.add(name)
                pending += [*functions.get(name, []), *assignments.get(name, [])]
    return sorted(set(found))


def dynamic_lookups(tree: ast.Module) -> list[str]:
    """Computed-name lookups anywhere in the module, which reading cannot follow."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in DYNAMIC_NAMES:
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in DYNAMIC_ATTRIBUTES:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
            )
            imported = [a.name for a in node.names]
            found += [f"import {n}" for n in names if n.split(".")[0] in DYNAMIC_NAMES | {"grader"}]
            found += [f"import {n}" for n in imported if n in DYNAMIC_NAMES]
    return found


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
