"""The zygote's warm-up leaves nothing for a grading to import.

Every sandboxed child is a fresh fork of the zygote: a module the warm-up did not import
is imported again by every child that needs it (sympy, behind an explicit gradient, took
0.3 s a check), and a module it imports needlessly is paid for by every fork.
"""

import json
import subprocess
import sys

import pytest

from tests.helpers import ROOT

# What students' code and the probes do with PyTorch and matplotlib, on the reference
# solutions, after the warm-up; then which modules that imported.
_SCRIPT = """
import json, sys
from grader.sandbox.inside import deferred_imports, probes, watch, zygote
zygote.prepare()
watch.install()
probes.load(["grader.checks.probes"])
sys.path.insert(0, "solutions")
import gc, torch
frozen = gc.get_freeze_count() > 10 * len(gc.get_objects())
before = set(sys.modules)
import ex1_forward, ex2_backward, ex3_module, ex4_training
z = torch.linspace(-5, 5, 7)
probes.PROBES["call_with_gradients"].run(
    ex1_forward, "sigmoid", [z], {}, wrt=[0], grad_output=torch.ones(7)
)
ex1_forward.forward(*torch.randn(5).requires_grad_(True).unbind()).backward(torch.tensor(2.0))
weights = torch.randn(3)
ex2_backward.fit_by_hand(torch.randn(8), torch.randn(8), torch.rand(8), tuple(weights), n_steps=3)
ex2_backward.autograd_gradients(torch.randn(8), torch.randn(8), *weights, torch.rand(8))
x, y = ex4_training.make_data(40)
x_train, y_train, x_test, y_test = ex4_training.train_test_split(x, y)
model = ex4_training.make_model()
ex4_training.train(model, x_train, y_train, n_epochs=3)
torch.optim.SGD(model.parameters(), lr=0.1).step()
ex4_training.evaluate(model, x_test, y_test)
ex3_module.count_parameters(ex3_module.OurFirstNeuralNetwork())
probes.describe_figure(ex4_training.plot_predictions(model, x_test, y_test))
solutions = {"ex1_forward", "ex2_backward", "ex3_module", "ex4_training"}
new = sorted(set(sys.modules) - before - solutions)
deferred = [deferred_imports.deferred(deferred_imports.DYNAMO),
            deferred_imports.deferred(deferred_imports.SHAPES)]
print(json.dumps({"new": new, "deferred": deferred, "frozen": frozen}))
"""


def test_a_grading_imports_nothing_the_warm_up_did_not():
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, check=True
    )
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["new"] == []
    # an optimizer step no longer needs the compiler, nor an explicit gradient sympy
    assert report["deferred"] == [True, True]
    assert report["frozen"]  # what the warm-up loaded is left out of garbage collections


_DEFERRED = """
import inspect, json, sys, torch
from grader.sandbox.inside import deferred_imports
deferred_imports.install()
NAME = deferred_imports.MODULE
inspect.getmodule(torch.ones)  # walks sys.modules asking each for __file__: no use
torch._dynamo.graph_break()  # answered by the stand-ins themselves
leaf = torch.ones(3, requires_grad=True)
(leaf * 2).backward(torch.ones(3))
states = [deferred_imports.deferred(NAME), leaf.grad.tolist() == [2.0, 2.0, 2.0]]
USE
module = sys.modules[NAME]
states += [deferred_imports.deferred(NAME), type(module).__name__, eval(NAME) is module]
print(json.dumps(states))
"""
_DYNAMO, _SHAPES = "DYNAMO", "SHAPES"


@pytest.mark.parametrize(
    ("module", "use", "imported"),
    [
        (_DYNAMO, "import torch._dynamo.config\n"
                  "states.append(torch._dynamo.config.cache_size_limit > 0)", True),
        (_DYNAMO, "states.append(callable(torch._dynamo.reset))", True),
        (_DYNAMO, "from torch._dynamo import reset; states.append(callable(reset))", True),
        (_DYNAMO, "f = torch.compile(lambda x: x + 1, backend='eager')\n"
                  "states.append(f(torch.ones(1)).item() == 2)", True),
        (_DYNAMO, "torch.optim.Adam([leaf], lr=0.1).step(); states.append(True)", False),
        (_SHAPES, "from torch.fx.experimental.symbolic_shapes import ShapeEnv\n"
                  "states.append(callable(ShapeEnv))", True),
        (_SHAPES, "shapes = torch.fx.experimental.symbolic_shapes\n"
                  "states.append(shapes.guard_or_false(True))", True),
        (_SHAPES, "x = torch.zeros(2, 3, requires_grad=True)\n"
                  "g, = torch.autograd.grad((x * 3).sum(1), x, torch.ones(2))\n"
                  "states.append(bool((g == 3).all()))", False),
        (_SHAPES, "try:\n    (leaf * 2).backward(torch.ones(4))\nexcept RuntimeError as e:\n"
                  "    states.append('Mismatch in shape' in str(e))", False),
    ],
    ids=["dynamo-submodule", "dynamo-attribute", "dynamo-from-import", "dynamo-compile",
         "dynamo-optimizer-step", "shapes-from-import", "shapes-attribute",
         "shapes-explicit-gradient", "shapes-wrong-gradient"],
)  # fmt: skip
def test_a_deferred_module_is_there_when_something_needs_it(module, use, imported):
    script = _DEFERRED.replace("MODULE", module).replace("USE", use)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == [
        True, True, True, not imported, "module" if imported else "_Deferred", True
    ]  # fmt: skip
