"""Correct submissions written the way real students write them: each must earn full marks.

Every entry starts from the reference solutions and changes only style: other answers that
are right (loops, helpers, constants, other built-ins, ``torch.autograd.grad``), other file
habits (tabs, CRLF, a BOM, prints, stray imports, a ``__main__`` demo, backup copies beside
the real file, a notebook with magics). A check that takes a point from any of them is a bug.
"""

from __future__ import annotations

import re
import shutil
import textwrap
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course import Course
from samples.make_class import fill_notebook, with_answer

FILES = ("ex1_forward.py", "ex2_backward.py", "ex3_module.py", "ex4_training.py")


@dataclass(frozen=True)
class Fair:
    student: str
    what: str
    answers: dict[tuple[str, str], str] = field(default_factory=dict)  # (exercise, function)
    edit: Callable[[str, str], str] | None = None  # (file name, source) -> source, every file
    extra_files: dict[str, str] = field(default_factory=dict)  # name -> text, beside the files
    notebooks: bool = False  # hand in ex*.ipynb instead of ex*.py
    zipped: bool = False  # hand in one zip, the files in a folder inside it


def _tabs(name: str, source: str) -> str:
    return re.sub(r"^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4), source, flags=re.M)


def _crlf(name: str, source: str) -> str:
    return source.replace("\n", "\r\n")


def _bom_and_unicode(name: str, source: str) -> str:
    return "\ufeff# -*- coding: utf-8 -*-\n# Élève : Zoë Müller — 学生\n" + source


def _prints(name: str, source: str) -> str:
    """Debug prints at import time and in every function body."""
    source = re.sub(
        r"^(    )### BEGIN SOLUTION\n",
        lambda m: f'{m.group(0)}{m.group(1)}print("debug: in", __name__)\n',
        source,
        flags=re.M,
    )
    return source + '\nprint("loaded", __name__, "ok")\n'


STDLIB_IMPORTS = (
    "import pdb, doctest, pprint, typing, dataclasses, functools, itertools, collections\n"
    "import math, random, time, json, csv, sqlite3, tracemalloc, os, sys, pathlib, logging\n"
    "import subprocess, socket, argparse, unittest, statistics, copy, warnings\n"
)


def _stdlib(name: str, source: str) -> str:
    return _after_imports(source, STDLIB_IMPORTS)


def _main_block(name: str, source: str) -> str:
    demo = {
        "ex1_forward.py": "print(forward(torch.tensor(1.0), torch.tensor(2.0), "
        "torch.tensor(0.1), torch.tensor(0.2), torch.tensor(0.3)))",
        "ex2_backward.py": "w = (torch.tensor(0.0),) * 3\n"
        "    print(autograd_gradients(torch.ones(3), torch.ones(3), *w, torch.ones(3)))",
        "ex3_module.py": "print(count_parameters(OurFirstNeuralNetwork()))",
        "ex4_training.py": "import matplotlib.pyplot as plt\n"
        "    x, y = make_data()\n"
        "    print(train(make_model(), x, y, n_epochs=3))\n"
        "    plt.show()",
    }[name]
    return source + f'\n\nif __name__ == "__main__":\n    {demo}\n'


def _appended(file: str, text: str) -> Callable[[str, str], str]:
    """An edit that adds ``text`` at the end of ``file`` only."""
    return lambda name, source: source + text if name == file else source


def _after_imports(source: str, text: str) -> str:
    """``text`` inserted after the module's first import line."""
    match = re.search(r"^(import |from )", source, flags=re.M)
    assert match, "no import line"
    return source[: match.start()] + text + source[match.start() :]


def _constants_for_defaults(name: str, source: str) -> str:
    if name != "ex4_training.py":
        return source
    signature = "n_epochs: int = 100, lr: float = 0.1"
    assert signature in source
    source = source.replace(signature, "n_epochs=N_EPOCHS, lr=LEARNING_RATE")
    return _after_imports(source, "N_EPOCHS = 100\nLEARNING_RATE = 1e-1\n\n")


def _prints_per_epoch(name: str, source: str) -> str:
    marker = "        losses.append(loss.item())\n"
    return source.replace(marker, marker + '        print("epoch loss", losses[-1])\n')


_PLOT_AT_IMPORT = """

import matplotlib.pyplot as plt

_x, _y = make_data()
_x_train, _y_train, _x_test, _y_test = train_test_split(_x, _y)
_model = make_model()
train(_model, _x_train, _y_train, n_epochs=20)
plot_predictions(_model, _x_test, _y_test)
plt.plot([0, 1], [0, 1])
plt.savefig("predictions.png")
plt.show()
"""

_NEURON = '''

class Neuron:
    """The neuron as a class, though functions would do."""

    @staticmethod
    def sigmoid(z):
        positive = 1 / (1 + torch.exp(-z.clamp(min=0)))
        e = torch.exp(z.clamp(max=0))
        return torch.where(z >= 0, positive, e / (1 + e))

    @staticmethod
    def forward(x1, x2, w1, w2, w3, b=1.0):
        return Neuron.sigmoid(weighted_sum(x1, x2, w1, w2, w3, b))
'''

_ACTIVATE = """

import torch.nn.functional as F


def _activate(t, layer=None):
    return F.relu(t)
"""


FAIR: tuple[Fair, ...] = (
    Fair("tabs", "indented with tabs throughout", edit=_tabs),
    Fair("crlf", "Windows line endings", edit=_crlf),
    Fair("bom_unicode", "a UTF-8 BOM, a coding line and non-ASCII comments", edit=_bom_and_unicode),
    Fair("prints", "debug prints at import and in every answer", edit=_prints),
    Fair("stdlib_imports", "pdb, doctest, sqlite3, subprocess… imported, unused", edit=_stdlib),
    Fair("main_block", "an if __name__ == '__main__' demo in every file", edit=_main_block),
    Fair("module_constants", "train's defaults spelled as module-level constants",
         edit=_constants_for_defaults),
    Fair(
        "autograd_grad",
        "torch.autograd.grad for autograd_gradients, same local names in backward",
        answers={
            ("ex2_backward", "backward"): """
                h1 = x1 * w1 + x2 * w2 + b * w3
                y_hat = torch.sigmoid(h1)
                delta = 2 * (y_hat - target) / target.numel() * sigmoid_grad(h1)
                dw1 = (delta * x1).sum()
                dw2 = (delta * x2).sum()
                dw3 = (delta * b).sum()
                return dw1, dw2, dw3
            """,
            ("ex2_backward", "autograd_gradients"): """
                leaves = [w.detach().clone().requires_grad_() for w in (w1, w2, w3)]
                with torch.enable_grad():
                    loss = mse_loss(forward(x1.detach(), x2.detach(), *leaves, b), target.detach())
                    dw1, dw2, dw3 = torch.autograd.grad(loss, leaves)
                return dw1, dw2, dw3
            """,
        },
    ),
    Fair(
        "helpers",
        "answers split into module-level helper functions",
        answers={
            ("ex1_forward", "sigmoid"): """
                return _where_stable(z)
            """,
            ("ex2_backward", "backward"): """
                delta = _output_delta(x1, x2, w1, w2, w3, target, b)
                pairs = ((x1, w1), (x2, w2), (b, w3))
                return tuple(_weight_gradient(delta, x, w) for x, w in pairs)
            """,
            ("ex3_module", "count_parameters"): """
                return _count(model.parameters())
            """,
        },
        edit=lambda name, source: source
        + {
            "ex1_forward.py": '''

def _where_stable(z):
    """Each branch only ever sees the side of z where its exponential cannot overflow."""
    return torch.where(z >= 0, _positive_side(z.clamp(min=0)), _negative_side(z.clamp(max=0)))


def _positive_side(z):
    return 1 / (1 + torch.exp(-z))


def _negative_side(z):
    return torch.exp(z) / (1 + torch.exp(z))
''',
            "ex2_backward.py": '''

def _output_delta(x1, x2, w1, w2, w3, target, b):
    hidden = x1 * w1 + x2 * w2 + b * w3
    return 2 * (torch.sigmoid(hidden) - target) / target.numel() * sigmoid_grad(hidden)


def _weight_gradient(delta, x, w):
    return (delta * x).sum().reshape(w.shape)
''',
            "ex3_module.py": '''

def _count(parameters):
    return sum(p.numel() for p in parameters if p.requires_grad)
''',
            "ex4_training.py": "",
        }[name],
    ),
    Fair(
        "loops",
        "explicit Python loops instead of comprehensions and sum()",
        answers={
            ("ex2_backward", "sgd_step"): """
                new_weights = []
                for i in range(len(weights)):
                    new_weights.append(weights[i] - lr * grads[i])
                return tuple(new_weights)
            """,
            ("ex2_backward", "backward"): """
                hidden = x1 * w1 + x2 * w2 + b * w3
                s = torch.sigmoid(hidden)
                delta = 2 * (s - target) / target.numel() * s * (1 - s)
                gradients = []
                for x, w in [(x1, w1), (x2, w2), (b, w3)]:
                    gradients.append(torch.sum(delta * x).reshape(w.shape))
                return gradients[0], gradients[1], gradients[2]
            """,
            ("ex3_module", "count_parameters"): """
                total = 0
                for parameter in model.parameters():
                    if parameter.requires_grad:
                        total += parameter.numel()
                return total
            """,
        },
    ),
    Fair(
        "torch_functions",
        "torch.mul/add/square/mean and functional calls instead of operators",
        answers={
            ("ex1_forward", "weighted_sum"): """
                return torch.add(torch.add(torch.mul(x1, w1), torch.mul(x2, w2)), torch.mul(b, w3))
            """,
            ("ex1_forward", "mse_loss"): """
                return torch.mean(torch.square(torch.sub(prediction, target)))
            """,
            ("ex2_backward", "sgd_step"): """
                return tuple(torch.sub(w, g, alpha=lr) for w, g in zip(weights, grads))
            """,
            ("ex3_module", "count_parameters"): """
                trained = filter(lambda p: p.requires_grad, model.parameters())
                return int(sum(map(lambda p: p.numel(), trained)))
            """,
        },
    ),
    Fair(
        "training_variants",
        "set_to_none, float(loss), progress prints, inference_mode, pyplot figure",
        answers={
            ("ex4_training", "train"): """
                criterion = nn.MSELoss(reduction="mean")
                optimizer = torch.optim.Adam(params=model.parameters(), lr=lr)
                history = []
                for epoch in range(1, n_epochs + 1):
                    model.train()
                    optimizer.zero_grad(set_to_none=True)
                    loss = criterion(model(x_train), y_train)
                    history.append(float(loss))
                    loss.backward()
                    optimizer.step()
                    if epoch % 10 == 0:
                        print(f"epoch {epoch:3d}  loss {history[-1]:.4f}")
                return history
            """,
            ("ex4_training", "evaluate"): """
                model.eval()
                with torch.inference_mode():
                    prediction = model(x)
                    return float(torch.mean((prediction - y) ** 2))
            """,
            ("ex4_training", "plot_predictions"): """
                import matplotlib.pyplot as plt

                model.eval()
                with torch.no_grad():
                    predicted = model(x)
                fig, ax = plt.subplots(figsize=(6, 4))
                ax.plot(x.numpy().ravel(), y.numpy().ravel(), "o", label="expected")
                ax.plot(x.numpy().ravel(), predicted.numpy().ravel(), "x", label="predicted")
                ax.set(xlabel="x", ylabel="y", title="Test set: predicted vs expected")
                ax.legend(loc="best")
                return fig
            """,
        },
    ),
    Fair(
        "data_variants",
        "a generator seeded in two steps, len(), index_select, reordered sums",
        answers={
            ("ex4_training", "make_data"): """
                g = torch.Generator()
                g.manual_seed(seed)
                x = torch.randn((n, 1), generator=g)
                epsilon = torch.randn((n, 1), generator=g)
                return x, 1 + 2 * x + 0.3 * epsilon
            """,
            ("ex4_training", "train_test_split"): """
                g = torch.Generator()
                g.manual_seed(seed)
                permutation = torch.randperm(len(x), generator=g)
                cut = round(len(x) * train_fraction)
                train_idx, test_idx = permutation[:cut], permutation[cut:]
                return (
                    x.index_select(0, train_idx),
                    y.index_select(0, train_idx),
                    x.index_select(0, test_idx),
                    y.index_select(0, test_idx),
                )
            """,
        },
    ),
    Fair(
        "module_variants",
        "ex3 built with keyword arguments, forward in steps, a docstring kept",
        answers={
            ("ex3_module", "OurFirstNeuralNetwork.__init__"): """
                self.fc1 = nn.Linear(in_features=1, out_features=hidden_size, bias=True)
                self.non_linearity_fc1 = nn.ReLU(inplace=False)
                self.fc2 = nn.Linear(in_features=hidden_size, out_features=1)
            """,
            ("ex3_module", "OurFirstNeuralNetwork.forward"): """
                out = self.fc1(x)
                out = self.non_linearity_fc1(out)
                out = self.fc2(out)
                return out
            """,
        },
    ),
    Fair(
        "backup_copies",
        "stray backup copies and notes beside the real files",
        extra_files={
            "ex2_backward_old.py": "def backward(*args):\n    raise RuntimeError('old try')\n",
            "ex1_forward.py.bak": "this is not python {\n",
            "ex3_module (1).py": "import torch\nclass OurFirstNeuralNetwork: pass\n",
            "backup/ex4_training.py": "def train(*a, **k):\n    return []\n",
            "notes.txt": "remember: zero_grad before backward\n",
        },
    ),
    Fair("notebooks", "Jupyter notebooks with magics, shell escapes and print cells",
         notebooks=True),
    Fair(
        "unicode_names",
        "non-ASCII identifiers: σ, ŷ, δ",
        answers={
            ("ex2_backward", "backward"): """
                ŷ = torch.sigmoid(x1 * w1 + x2 * w2 + b * w3)
                δ = 2 * (ŷ - target) / target.numel() * ŷ * (1 - ŷ)
                pairs = ((x1, w1), (x2, w2), (b, w3))
                return tuple((δ * x).sum().reshape(w.shape) for x, w in pairs)
            """,
            ("ex2_backward", "sigmoid_grad"): """
                σ = torch.sigmoid(z)
                return σ * (1 - σ)
            """,
        },
    ),
    Fair("thousand_prints", "a thousand lines printed at import, one per epoch in train",
         edit=lambda name, source: _prints_per_epoch(name, source)
         + "\nfor _line in range(1000):\n    print('debug line', _line)\n"),
    Fair("plot_at_import", "ex4 trains and draws its plot when imported",
         edit=_appended("ex4_training.py", _PLOT_AT_IMPORT)),
    Fair(
        "classes",
        "answers delegated to a class of static methods named like the functions",
        answers={
            ("ex1_forward", "sigmoid"): """
                return Neuron.sigmoid(z)
            """,
            ("ex1_forward", "forward"): """
                return Neuron.forward(x1, x2, w1, w2, w3, b)
            """,
        },
        edit=_appended("ex1_forward.py", _NEURON),
    ),
    Fair(
        "relu_helper",
        "F.relu in a helper, and the model's layers used through it",
        answers={
            ("ex3_module", "OurFirstNeuralNetwork.forward"): """
                return self.fc2(_activate(self.fc1(x), self.non_linearity_fc1))
            """,
        },
        edit=_appended("ex3_module.py", _ACTIVATE),
    ),
    Fair(
        "numpy_roundtrip",
        "evaluation and the loss list computed through numpy",
        answers={
            ("ex4_training", "evaluate"): """
                model.eval()
                with torch.no_grad():
                    errors = (model(x) - y).numpy()
                return float(np.mean(errors.astype(np.float32) ** 2))
            """,
        },
        edit=lambda name, source: _after_imports(source, "import numpy as np\n"),
    ),
    Fair(
        "zip_with_checkpoints",
        "a zip: the files in a folder, notebook checkpoints and an older copy deeper inside",
        zipped=True,
        extra_files={
            ".ipynb_checkpoints/ex2_backward-checkpoint.py": "def backward(*a):\n    return None\n",
            "old/ex2_backward.py": "def backward(*a):\n    raise RuntimeError('first try')\n",
            "__MACOSX/._ex1_forward.py": "\x00\x05\x16\x07",
        },
    ),
)  # fmt: skip


NOTEBOOK_HABITS = (
    nbformat.v4.new_markdown_cell("My notes: *remember* `zero_grad`."),
    nbformat.v4.new_code_cell("%matplotlib inline\n!pip list | head -3\nprint('hello')"),
    nbformat.v4.new_code_cell("import pdb\nx = 1 + 1\nx"),
)


def write_fair(dest: Path, course: Course, fair: Fair) -> None:
    """``fair``'s submission in ``dest``: the reference solutions restyled."""
    dest.mkdir(parents=True, exist_ok=True)
    for exercise in course.exercises:
        source = (course.solutions_dir / exercise.file).read_text(encoding="utf-8")
        for (exercise_id, function), answer in fair.answers.items():
            if exercise_id == exercise.id:
                source = with_answer(source, function, textwrap.dedent(answer), exercise.file)
        if fair.edit is not None:
            source = fair.edit(exercise.file, source)
        if fair.notebooks:
            released = course.exercises_dir / exercise.file.replace(".py", ".ipynb")
            notebook = fill_notebook(released, source)
            notebook.cells[1:1] = [nbformat.from_dict(c) for c in NOTEBOOK_HABITS]
            nbformat.write(notebook, dest / released.name)
        else:
            (dest / exercise.file).write_bytes(source.encode("utf-8"))
    for name, text in fair.extra_files.items():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(text, encoding="utf-8")
    if fair.zipped:
        archive = dest.with_name(dest.name + ".zip")
        with zipfile.ZipFile(archive, "w") as zipped:
            for path in sorted(dest.rglob("*")):
                zipped.write(path, Path("homework") / path.relative_to(dest))
        shutil.rmtree(dest)
