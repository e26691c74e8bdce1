"""Import two heavy parts of PyTorch only when something really uses them.

- ``torch._dynamo``, the compiler behind ``torch.compile``: an optimizer's first ``step()``
  imports it (1.6 s, 70 MiB) just to call ``graph_break()`` (an empty function) and
  ``disable(fn)`` (which marks ``fn`` as not to be compiled).
- ``torch.fx.experimental.symbolic_shapes``, with sympy and mpmath: ``backward(gradient)``
  and ``torch.autograd.grad(..., grad_outputs)`` import it (0.45 s, 33 MiB) just to compare
  the gradient's shape with the output's through ``sym_eq`` and ``expect_true``, which on
  plain integers are ``==`` and the identity.

Grading compiles nothing and traces no shapes (a sandboxed child cannot start a compiler
anyway), and every fork of the zygote pays for each page it holds, so :func:`install` puts a
stand-in in ``sys.modules`` for each, answering those calls itself when their arguments are
plain values. Anything else (another attribute, a submodule, a symbolic integer,
``torch.compile``) imports the real module, which takes over from then on; functions marked
by the dynamo stand-in before that stay unmarked, which only matters when compiling.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

DYNAMO = "torch._dynamo"
SHAPES = "torch.fx.experimental.symbolic_shapes"


class _Deferred(types.ModuleType):
    """Stands for a module until something needs more than it answers itself."""

    def __getattr__(self, name: str) -> Any:  # only called for what the stand-in lacks
        if name.startswith("__") and not (name == "__path__" and self.__name__ in _PACKAGES):
            # Tools that walk sys.modules ask every module for __file__ and the like: that is
            # no use of the module. A package's __path__ is: a submodule is being imported.
            raise AttributeError(name)
        return getattr(real(self.__name__), name)


def _graph_break(msg: str = "") -> None:
    if not deferred(DYNAMO):
        sys.modules[DYNAMO].graph_break(msg)


def _disable(fn: Callable[..., Any] | None = None, *args: Any, **kwargs: Any) -> Any:
    if not deferred(DYNAMO):
        return sys.modules[DYNAMO].disable(fn, *args, **kwargs)
    return fn if fn is not None else (lambda function: function)


def _sym_eq(x: Any, y: Any) -> Any:
    if deferred(SHAPES):  # what the real one computes, on plain integers or sizes of them
        if type(x) is int and type(y) is int:
            return x == y
        if (
            isinstance(x, tuple | list)
            and isinstance(y, tuple | list)
            and all(type(size) is int for size in (*x, *y))
        ):
            return len(x) == len(y) and all(a == b for a, b in zip(x, y, strict=True))
    return real(SHAPES).sym_eq(x, y)


def _expect_true(a: Any, skip: int = 0) -> Any:
    if deferred(SHAPES) and type(a) is bool:
        return a
    return real(SHAPES).expect_true(a, skip + 1)


_PACKAGES = {DYNAMO}
_ANSWERS: dict[str, dict[str, Callable[..., Any]]] = {
    DYNAMO: {"graph_break": _graph_break, "disable": _disable},
    SHAPES: {"sym_eq": _sym_eq, "expect_true": _expect_true},
}


def install() -> None:
    """Put the stand-ins in place, for each module that is not imported already."""
    import torch.fx.experimental  # noqa: F401  (the parents: nothing to pay once torch is in)

    for name, answers in _ANSWERS.items():
        if name not in sys.modules:
            stand_in = _Deferred(name, __doc__)
            stand_in.__dict__.update(answers)
            parent, _, child = name.rpartition(".")
            sys.modules[name] = stand_in
            setattr(sys.modules[parent], child, stand_in)


def real(name: str) -> types.ModuleType:
    """The real module ``name``, imported now if it was not yet."""
    if deferred(name):
        del sys.modules[name]
        parent, _, child = name.rpartition(".")
        delattr(sys.modules[parent], child)  # so that the import sets it to the real module
    return importlib.import_module(name)


def deferred(name: str) -> bool:
    """True while the real module ``name`` has not been imported."""
    return isinstance(sys.modules.get(name), _Deferred)
