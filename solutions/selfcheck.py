"""What the self-checks use to compare your results and explain a difference."""

import torch


def expect_close(got, expected, *, call, hint, rtol=1e-5, atol=1e-7):
    """Fail with a readable message unless ``got`` is a tensor like ``expected``.

    ``call`` says what was run, e.g. "sigmoid(tensor([0.]))"; ``hint`` says where to look.
    """
    __tracebackhide__ = True  # show the failing check, not this helper
    expected = torch.as_tensor(expected)
    if not isinstance(got, torch.Tensor):
        problem = f"a {type(got).__name__}, but a torch.Tensor was expected"
    elif got.shape != expected.shape:
        problem = f"shape {tuple(got.shape)}, but shape {tuple(expected.shape)} was expected"
    elif got.dtype != expected.dtype:
        problem = f"dtype {got.dtype}, but {expected.dtype} was expected"
    elif not torch.allclose(got.detach(), expected, rtol=rtol, atol=atol):
        problem = "different values"
    else:
        return
    raise AssertionError(explain(call, expected, got, hint, problem))


def expect(condition, *, call, expected, got, hint):
    """Fail with a readable message unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        raise AssertionError(explain(call, expected, got, hint))


def explain(call, expected, got, hint, problem=None):
    lines = [
        f"checked:  {call}",
        f"expected: {expected}",
        f"got:      {got}" + (f"  ({problem})" if problem else ""),
        f"hint:     {hint}",
    ]
    return "\n".join(lines)


def check_notebook(exercise, namespace):
    """Run an exercise's self-checks on the functions a notebook defined.

    Call it from the notebook, next to test_<exercise>.py: check_notebook("ex1_forward", globals()).
    """
    import sys
    import types

    import pytest

    module = types.ModuleType(exercise)
    module.__dict__.update(namespace)
    sys.modules[exercise] = module  # `from ex1_forward import sigmoid` now finds the notebook's
    sys.modules.pop(f"test_{exercise}", None)  # import the checks afresh: they see the latest code
    pytest.main(["-q", "-p", "no:cacheprovider", f"test_{exercise}.py"])
