"""The source rules judge what a function really reaches, as Python resolves its names."""

import ast
import textwrap

import pytest

from grader.grading.source_rules import forbidden_uses

AUTOGRAD = frozenset({"backward", "autograd", "func"})
MODULES = ("torch.autograd", "torch.func", "functorch")

AUTOGRAD_GRADIENTS = """
def autograd_gradients(x1, x2, b, y, w1, w2, w3):
    leaves = [w.detach().requires_grad_() for w in (w1, w2, w3)]
    loss = ((y - x1 * leaves[0]) ** 2).mean()
    dw1, dw2, dw3 = torch.autograd.grad(loss, leaves)
    return dw1, dw2, dw3
"""

# Correct hand-written backward passes, next to code that legitimately uses autograd.
FAIR = {
    "same local names as autograd_gradients": AUTOGRAD_GRADIENTS
    + """
def backward(x1, x2, b, y, w1, w2, w3):
    dw1 = (x1 * w1).mean()
    dw2 = (x2 * w2).mean()
    dw3 = (b * w3).mean()
    return dw1, dw2, dw3
""",
    "a local named like an imported autograd function": """
from torch.autograd import grad

def autograd_gradients(loss, leaves):
    return grad(loss, leaves)

def backward(x, y):
    grad = 2 * (x - y)
    return grad.mean()
""",
    "import torch.autograd binds only torch": """
import torch
import torch.autograd

def backward(x, y):
    return torch.mean(2 * (x - y))
""",
    "a demo block checks against autograd": """
import torch

def helper(x):
    return 2 * x

def backward(x, y):
    d = helper(x - y)
    return d.mean()

if __name__ == "__main__":
    d = torch.autograd.grad(torch.ones(1, requires_grad=True).sum(), [])
    print(backward(torch.ones(3), torch.zeros(3)))
""",
    "comprehensions, lambdas and nested helpers with their own locals": AUTOGRAD_GRADIENTS
    + """
def backward(x1, x2, b, y, w1, w2, w3):
    scale = lambda dw1: dw1 * 2
    def mean(dw2):
        return dw2.mean()
    return tuple(scale(mean(dw3)) for dw3 in (x1, x2, b))
""",
    "a parameter shadows a module-level autograd alias": """
import torch
g = torch.autograd.grad

def backward(x, g):
    return g * x
""",
}


def _calls_g(setup: str) -> str:
    """A backward that calls a module-level `g`, which `setup` makes autograd."""
    return f"import torch\n{setup}\ndef backward(l, w):\n    return g(l, w)\n"


# Hiding autograd from backward, every way the reader must see through.
EVASIONS = {
    "direct": "def backward(loss):\n    loss.backward()\n",
    "module alias": _calls_g("g = torch.autograd.grad"),
    "helper": AUTOGRAD_GRADIENTS + "def backward(*a):\n    return autograd_gradients(*a)\n",
    "import as": "import torch.autograd as ag\ndef backward(l, w):\n    return ag.grad(l, w)\n",
    "from import as": _calls_g("from torch.autograd import grad as g"),
    "from torch import autograd": _calls_g("from torch import autograd\ng = autograd.grad"),
    "default argument": """
import torch
a = torch.autograd.grad
def backward(l, w, g=a):
    return g(l, w)
""",
    "decorator": """
import torch
def wrap(f):
    return lambda l, w: torch.autograd.grad(l, w)
@wrap
def backward(l, w):
    return None
""",
    "global statement": """
import torch
G = None
def setup():
    global G
    G = torch.autograd.grad
def backward(l, w):
    global G
    return G(l, w)
""",
    "for-loop header": _calls_g("for g in [torch.autograd.grad]:\n    pass"),
    "walrus at module level": _calls_g("if (g := torch.autograd.grad):\n    pass"),
    "assigned in a try block": _calls_g(
        "try:\n    g = torch.autograd.grad\nexcept Exception:\n    g = None"
    ),
    "comprehension variable shadows nothing outside it": """
import torch
g = torch.autograd.grad
def backward(l, w):
    [g for g in range(1)]
    return g(l, w)
""",
    "nested function reads the alias": """
import torch
g = torch.autograd.grad
def backward(l, w):
    def inner():
        return g(l, w)
    return inner()
""",
    "method of a helper class": """
class Helper:
    def compute(self, loss):
        loss.backward()
def backward(loss):
    return Helper().compute(loss)
""",
    "class attribute": _calls_g("class H:\n    f = torch.autograd.grad\ng = H.f"),
    "backward assigned from a factory": """
import torch
def make():
    def inner(l, w):
        return torch.autograd.grad(l, w)
    return inner
backward = make()
""",
    "self-import": _calls_g(
        "import ex2_backward as me\nfrom torch.autograd import grad\ng = me.grad"
    ),
    "torch.func": "import torch\ndef backward(f, w):\n    return torch.func.grad(f)(w)\n",
    "functorch": "import functorch\ndef backward(f, w):\n    return functorch.grad(f)(w)\n",
}


SIGMOIDS = frozenset({"sigmoid", "sigmoid_", "expit", "Sigmoid"})
OWN_CLASS = """
import torch
class Neuron:
    @staticmethod
    def sigmoid(z):
        return 1 / (1 + torch.exp(-z))
"""
CALLS_NEURON = "def sigmoid(z):\n    return Neuron.sigmoid(z)\n"
SIGMOID_CASES = {
    "a class of its own with a method named sigmoid": (OWN_CLASS + CALLS_NEURON, False),
    "the class's method uses the built-in": (
        OWN_CLASS.replace("1 / (1 + torch.exp(-z))", "torch.sigmoid(z)") + CALLS_NEURON, True
    ),
    "a class attribute aliases the built-in": (
        "import torch\nclass Neuron:\n    sigmoid = torch.sigmoid\n" + CALLS_NEURON, True
    ),
    "a subclass of Tensor": ("import torch\nclass Neuron(torch.Tensor):\n    pass\n" + CALLS_NEURON,
                             True),
    "a parameter shadows the class": (
        OWN_CLASS + "def sigmoid(z, Neuron=torch):\n    return Neuron.sigmoid(z)\n", True
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", SIGMOID_CASES)
def test_own_methods_named_like_a_builtin(name: str) -> None:
    source, convicted = SIGMOID_CASES[name]
    uses = forbidden_uses(ast.parse(source), "sigmoid", SIGMOIDS)
    assert bool(uses) == convicted, uses


def _uses(source: str) -> list[str]:
    return forbidden_uses(ast.parse(textwrap.dedent(source)), "backward", AUTOGRAD, MODULES)


@pytest.mark.parametrize("name", FAIR)
def test_correct_code_is_not_convicted(name: str) -> None:
    assert _uses(FAIR[name]) == []


@pytest.mark.parametrize("name", EVASIONS)
def test_hidden_autograd_is_found(name: str) -> None:
    assert _uses(EVASIONS[name]), name


def test_unparsable_source_counts_as_a_use() -> None:
    assert forbidden_uses(None, "backward", AUTOGRAD, MODULES)
