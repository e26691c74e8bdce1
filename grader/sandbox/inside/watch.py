"""Record which PyTorch and matplotlib entry points a submission calls.

Installed once in the zygote, so every sandboxed child starts with the wrappers in
place before any student code is imported (``from torch import sigmoid`` then binds the
wrapper too). The records are evidence for feedback ("your loop never called
optimizer.step()"), never proof: a hostile submission can unwrap them, which is why
the rules they back are also checked by reading the source in the trusted process.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_counts: Counter[str] = Counter()
_notes: list[str] = []
_paused = [False]
_MAX_NOTES = 50


def events() -> dict[str, Any]:
    """What was recorded since the last ``reset``: counts per entry point and notes."""
    return {"counts": dict(_counts), "notes": list(_notes)}


def reset() -> None:
    _counts.clear()
    _notes.clear()


@contextmanager
def paused() -> Iterator[None]:
    """Do not record the grader's own calls (a probe computing gradients, say)."""
    _paused[0] = True
    try:
        yield
    finally:
        _paused[0] = False


def note(text: str) -> None:
    if not _paused[0] and len(_notes) < _MAX_NOTES:
        _notes.append(text)


def install() -> None:
    """Wrap the watched entry points; call once, before any submission is imported."""
    import matplotlib.pyplot as plt
    import torch
    import torch.autograd.functional
    import torch.func
    import torch.nn.functional
    from torch import nn, optim
    from torch.optim.optimizer import register_optimizer_step_post_hook

    watched: list[tuple[Any, str, str]] = [
        (torch, "sigmoid", "torch.sigmoid"),
        (torch, "sigmoid_", "torch.sigmoid"),
        (torch.Tensor, "sigmoid", "torch.sigmoid"),
        (torch.Tensor, "sigmoid_", "torch.sigmoid"),
        (torch.special, "expit", "torch.sigmoid"),
        (torch.nn.functional, "sigmoid", "torch.sigmoid"),
        (nn.Sigmoid, "forward", "torch.sigmoid"),
        (torch.Tensor, "backward", "autograd"),
        (torch.autograd, "backward", "autograd"),
        (torch.autograd, "grad", "autograd"),
        (plt, "show", "plt.show"),
        (optim.Optimizer, "zero_grad", "optimizer.zero_grad"),
        (nn.Module, "zero_grad", "optimizer.zero_grad"),
    ]
    watched += [
        (torch.func, name, "autograd")
        for name in ("grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian")
    ]
    watched += [
        (torch.autograd.functional, name, "autograd")
        for name in ("jacobian", "hessian", "vjp", "jvp", "vhp", "hvp")
    ]
    for owner, name, event in watched:
        if hasattr(owner, name):
            setattr(owner, name, _counting(getattr(owner, name), event))

    original_init = optim.Optimizer.__init__

    @functools.wraps(original_init)
    def optimizer_init(self: optim.Optimizer, params: Any, defaults: dict[str, Any]) -> None:
        note(f"optimizer {type(self).__name__}(lr={defaults.get('lr')})")
        original_init(self, params, defaults)

    del optimizer_init.__wrapped__
    optim.Optimizer.__init__ = optimizer_init
    register_optimizer_step_post_hook(lambda *_: _count("optimizer.step"))

    original_mse = nn.MSELoss.forward

    @functools.wraps(original_mse)
    def mse_forward(self: nn.MSELoss, input: Any, target: Any) -> Any:
        # The prediction is the argument with a graph behind it.
        if getattr(target, "grad_fn", None) is not None and getattr(input, "grad_fn", None) is None:
            _count("loss(target, prediction)")
        return original_mse(self, input, target)

    del mse_forward.__wrapped__
    nn.MSELoss.forward = mse_forward


def _count(event: str) -> None:
    if not _paused[0]:
        _counts[event] += 1


def _counting(function: Callable[..., Any], event: str) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _count(event)
        return function(*args, **kwargs)

    del wrapper.__wrapped__  # no handle on the unwatched original
    return wrapper
