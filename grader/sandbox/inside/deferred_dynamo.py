"""Import ``torch._dynamo`` (the compiler behind ``torch.compile``) only when it is used.

An optimizer's first ``step()`` imports ``torch._dynamo`` just to call two functions that
do nothing unless code is being compiled: ``graph_break()`` (an empty function) and
``disable(fn)`` (which marks ``fn`` as not to be compiled). That import costs about 1.6 s
and 70 MiB in every process that trains a model, and each fork of the zygote pays again
for those pages. Grading compiles nothing (a sandboxed child cannot start a compiler
anyway), so :func:`install` puts a stand-in package in ``sys.modules`` that answers those
two calls itself. The first use of anything else (another attribute, a submodule,
``torch.compile``) imports the real package, which takes over from then on; functions
marked by the stand-in before that stay unmarked, which only matters when compiling.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

NAME = "torch._dynamo"


class _Deferred(types.ModuleType):
    """Stands for torch._dynamo until something needs more than it answers itself."""

    def graph_break(self, msg: str = "") -> None:
        if not isinstance(sys.modules.get(NAME), _Deferred):
            sys.modules[NAME].graph_break(msg)

    def disable(self, fn: Callable[..., Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(sys.modules.get(NAME), _Deferred):
            return sys.modules[NAME].disable(fn, *args, **kwargs)
        return fn if fn is not None else (lambda function: function)

    def __getattr__(self, name: str) -> Any:  # only called for what the stand-in lacks
        if name.startswith("__") and name != "__path__":
            # Tools that walk sys.modules ask every module for __file__ and the like: that is
            # no use of the package. __path__ is: a submodule is being imported.
            raise AttributeError(name)
        return getattr(real(), name)


def install() -> None:
    """Put the stand-in in place, unless torch._dynamo is imported already."""
    import torch

    if NAME not in sys.modules:
        sys.modules[NAME] = torch._dynamo = _Deferred(NAME, __doc__)


def real() -> types.ModuleType:
    """The real torch._dynamo, imported now if it was not yet."""
    if isinstance(sys.modules.get(NAME), _Deferred):
        del sys.modules[NAME]
        import torch

        del torch._dynamo  # so that the import sets it to the real package
    return importlib.import_module(NAME)


def deferred() -> bool:
    """True while the real package has not been imported."""
    return isinstance(sys.modules.get(NAME), _Deferred)
