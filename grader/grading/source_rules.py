"""Read a submission's source (never run it) to find names a rule forbids.

Run-time records in the sandbox can be undone by a hostile submission; the syntax tree
read in the trusted process cannot. A rule says which attribute names are forbidden
(``torch.sigmoid``, ``loss.backward``) and from which modules nothing may be imported
(``torch.autograd``). The search judges what the function really reaches, as Python's own
scoping resolves it: its body, and every module-level definition or assignment of a global
name it (or what it reaches) reads, calls or takes as a default, so hiding the forbidden call
in a helper or an alias does not help, while a local variable that happens to share a name
with another function's local is just a local. Methods are followed by attribute name. Since
a computed name (``getattr(torch, "sig" + "moid")``) cannot be checked by reading, dynamic
lookups anywhere in the file count as uses too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

# Ways to reach an object by a computed name, or to undo the grader's run-time records.
DYNAMIC_NAMES = frozenset(
    {"getattr", "setattr", "delattr", "eval", "exec", "compile", "__import__", "globals",
     "vars", "locals", "importlib", "builtins", "__builtins__", "attrgetter", "methodcaller"}
)  # fmt: skip
DYNAMIC_ATTRIBUTES = frozenset(
    {"__dict__", "__getattribute__", "modules", "__globals__", "__wrapped__", "attrgetter",
     "methodcaller", "__closure__", "cell_contents", "__code__"}
)  # fmt: skip

_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_SCOPES = (*_FUNCTIONS, ast.ClassDef, *_COMPREHENSIONS)


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
    bindings = _module_bindings(tree)
    methods: dict[str, list[ast.AST]] = {}
    for node in ast.walk(tree):  # obj.name may call a method, or a function of any depth
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            methods.setdefault(node.name, []).append(node)
    found: list[str] = dynamic_lookups(tree)
    reached: set[str] = set()
    pending: list[ast.AST] = []

    def reach(name: str, via_attribute: bool = False) -> None:
        key = ("." if via_attribute else "") + name
        if key in reached:
            return
        reached.add(key)
        for source in bindings.get(name, []):
            if isinstance(source, ast.Import | ast.ImportFrom):  # judge only what binds `name`
                found.extend(_forbidden_binding(source, name, attributes, modules))
            else:
                pending.append(source)
        if via_attribute:
            pending.extend(methods.get(name, []))

    def own_class(base: ast.expr, global_names: set[ast.Name]) -> bool:
        """`base` names a class of this file that inherits nothing, so `base.sigmoid` is the
        student's own (reached, and read, like any other definition)."""
        sources = bindings.get(base.id, []) if isinstance(base, ast.Name) else []
        return (
            base in global_names
            and bool(sources)
            and all(isinstance(c, ast.ClassDef) and not (c.bases or c.keywords) for c in sources)
        )

    reach(function)
    while pending:
        node = pending.pop()
        global_names = set(_global_reads(node))
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute):
                if sub.attr in attributes and not own_class(sub.value, global_names):
                    found.append(ast.unparse(sub))
                reach(sub.attr, via_attribute=True)
            elif isinstance(sub, ast.Constant) and sub.value in attributes:
                found.append(repr(sub.value))  # getattr(torch, "sigmoid")
            elif isinstance(sub, ast.Import | ast.ImportFrom):
                found += _forbidden_imports(sub, attributes, modules)
        for name in global_names:
            reach(name.id)
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


# --- scopes, as Python resolves names -------------------------------------------------------


def _body(scope: ast.AST) -> list[ast.AST]:
    """The parts of a scope evaluated in its own namespace."""
    if isinstance(scope, ast.Lambda):
        return [scope.body]
    if isinstance(scope, _COMPREHENSIONS):
        elements = [scope.key, scope.value] if isinstance(scope, ast.DictComp) else [scope.elt]
        generators: list[ast.AST] = []
        for i, generator in enumerate(scope.generators):
            generators += [generator.target, *generator.ifs, *([generator.iter] if i else [])]
        return elements + generators
    return list(scope.body)  # type: ignore[attr-defined]  # module, function, class


def _header(scope: ast.AST) -> list[ast.AST]:
    """The parts of a nested scope evaluated in the enclosing one: defaults, decorators, bases."""
    if isinstance(scope, _COMPREHENSIONS):
        return [scope.generators[0].iter]
    if isinstance(scope, ast.ClassDef):
        return [*scope.decorator_list, *scope.bases, *(k.value for k in scope.keywords)]
    assert isinstance(scope, _FUNCTIONS)
    arguments = scope.args
    parts: list[ast.AST] = [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]
    if not isinstance(scope, ast.Lambda):
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        every += [a for a in (arguments.vararg, arguments.kwarg) if a]
        parts += [*scope.decorator_list, *(a.annotation for a in every if a.annotation)]
        parts += [scope.returns] if scope.returns else []
    return parts


def _own_nodes(roots: list[ast.AST]) -> Iterator[ast.AST]:
    """Nodes evaluated in one namespace: nested scopes are yielded, and their headers walked,
    but their bodies are not entered."""
    stack = list(roots)
    while stack:
        node = stack.pop()
        yield node
        stack += _header(node) if isinstance(node, _SCOPES) else ast.iter_child_nodes(node)


def _stores(roots: list[ast.AST]) -> tuple[set[str], set[str]]:
    """Names bound in the namespace of `roots`, and those declared global or nonlocal there."""
    names: set[str] = set()
    declared: set[str] = set()
    for node in _own_nodes(roots):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"}
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            declared |= set(node.names)
    return names, declared


def _bound_names(scope: ast.AST) -> set[str]:
    """Names local to a function or comprehension: a read of one never reaches the module."""
    names, declared = _stores(_body(scope))
    if isinstance(scope, _FUNCTIONS):
        arguments = scope.args
        every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        names |= {a.arg for a in [*every, arguments.vararg, arguments.kwarg] if a}
    return names - declared


def _global_reads(node: ast.AST, local: frozenset[str] = frozenset()) -> list[ast.Name]:
    """The name nodes in `node`, evaluated where `local` names are bound, that the module
    resolves.

    A class body's own names are not treated as bound (its methods cannot see them, and
    counting them global only makes the search follow more)."""
    reads: list[ast.Name] = []
    for sub in _own_nodes([node]):
        if isinstance(sub, _SCOPES):
            inner = local if isinstance(sub, ast.ClassDef) else local | _bound_names(sub)
            for part in _body(sub):
                reads += _global_reads(part, frozenset(inner))
        elif isinstance(sub, ast.Name) and sub.id not in local:
            reads.append(sub)
    return reads


def _module_bindings(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """For each name bound at module level, what to read to know what it holds.

    A definition is its whole node; an assignment, import or other simple statement is that
    statement; a name bound by a compound statement's header (``for``, ``with``, ``match``) is
    that header, not the block beneath it: an ``if __name__ == "__main__":`` block is not the
    value of every name it assigns.
    """
    bindings: dict[str, list[ast.AST]] = {}

    def visit(statements: list[ast.stmt]) -> None:
        for statement in statements:
            blocks = [
                value
                for field, value in ast.iter_fields(statement)
                if field in ("body", "orelse", "finalbody") and isinstance(value, list)
            ]
            blocks += [h.body for h in getattr(statement, "handlers", [])]
            blocks += [c.body for c in getattr(statement, "cases", [])]
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                parts: list[ast.AST] = [statement]
                blocks = []
            elif blocks:
                parts = [
                    child
                    for child in ast.iter_child_nodes(statement)
                    if not isinstance(child, ast.stmt | ast.excepthandler | ast.match_case)
                ]
                parts += [c.pattern for c in getattr(statement, "cases", [])]
            else:
                parts = [statement]
            names, _ = _stores(parts)  # a definition's own node binds its name
            for name in names:
                bindings.setdefault(name, []).extend(parts)
            for block in blocks:
                visit(block)

    visit(tree.body)
    # `global G` in a function makes its assignments to G module-level bindings too: read the
    # whole function (over-reading only makes the search follow more).
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            declared = {
                name
                for declaration in _own_nodes(_body(node))
                if isinstance(declaration, ast.Global)
                for name in declaration.names
            }
            if declared:  # rare: only then is it worth finding what the function assigns
                stored, _ = _stores(_body(node))
                for name in declared & stored:
                    bindings.setdefault(name, []).append(node)
    return bindings


def _is_in(name: str, modules: tuple[str, ...]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def _forbidden_imports(
    node: ast.Import | ast.ImportFrom, attributes: frozenset[str], modules: tuple[str, ...]
) -> list[str]:
    """An import inside reached code: forbidden if it imports from a forbidden module at all."""
    if isinstance(node, ast.ImportFrom):
        source = node.module or ""
        if _is_in(source, modules) or any(alias.name in attributes for alias in node.names):
            return [ast.unparse(node)]
        return []
    return [ast.unparse(node) for alias in node.names if _is_in(alias.name, modules)]


def _forbidden_binding(
    node: ast.Import | ast.ImportFrom,
    name: str,
    attributes: frozenset[str],
    modules: tuple[str, ...],
) -> list[str]:
    """A module-level import of a name the function reads: forbidden if that name is bound to a
    forbidden module or object (``import torch.autograd`` binds ``torch``, which is not)."""
    for alias in node.names:
        if (alias.asname or alias.name.split(".")[0]) != name:
            continue
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            bad = alias.name in attributes or _is_in(f"{source}.{alias.name}", modules)
            bad = bad or _is_in(source, modules)
        else:
            bad = _is_in(alias.name if alias.asname else name, modules)
        if bad:
            return [ast.unparse(node)]
    return []
