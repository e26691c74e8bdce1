"""Hidden checks of ex4_training: data, split, loop, evaluation, plot. Points: course.yml.

One module per exercise (the one-id rule): this exercise has the most checks, hence its length.
"""

from __future__ import annotations

import pytest
import torch

from grader.checks.inputs import network_weights
from grader.grading.inputs import random_tensor
from grader.grading.student import Inputs

pytestmark = pytest.mark.ex4_training


def _seed(rng):
    return int(torch.randint(0, 10_000, (), generator=rng))


def _expect_column(expect, tensor, n, what, about):
    expect.true(
        isinstance(tensor, torch.Tensor)
        and tuple(tensor.shape) == (n, 1)
        and tensor.dtype == torch.float32,
        summary=f"{what} is not a float32 tensor of shape ({n}, 1)",
        about=about,
        expected=f"float32, shape ({n}, 1)",
        got=f"{tensor.dtype}, shape {tuple(tensor.shape)}"
        if isinstance(tensor, torch.Tensor)
        else str(type(tensor)),
        hint="torch.randn(n, 1, generator=generator) gives float32 of shape (n, 1)",
    )


def test_make_data_shapes(student, rng, expect):
    cases = []
    for n in (None, 1, 7):  # None: the defaults, n=100
        kwargs = {} if n is None else {"n": n, "seed": _seed(rng)}
        about = f"make_data({', '.join(f'{k}={v}' for k, v in kwargs.items())})"
        cases.append(Inputs(kwargs=kwargs, about=about))
    for case, call in zip(cases, student.call_each("make_data", cases), strict=False):
        about = case.about
        x, y = expect.tensors(call.value, 2, what="make_data", about=about)
        n = case.kwargs.get("n", 100)
        for name, tensor in (("x", x), ("y", y)):
            _expect_column(expect, tensor, n, name, about)
            expect.true(
                not tensor.requires_grad,
                summary=f"{name} requires grad",
                about=about,
                hint="the data is not trained: do not set requires_grad on it",
            )


def test_make_data_statistics(student, rng, expect):
    n, seed = 20_000, _seed(rng)
    about = f"make_data({expect.describe(n=n, seed=seed)})"
    x, y = expect.tensors(
        student.call("make_data", kwargs={"n": n, "seed": seed}, about=about).value,
        2,
        what="make_data",
        about=about,
    )
    _expect_column(expect, x, n, "x", about)
    _expect_column(expect, y, n, "y", about)
    x, y = x.double().flatten(), y.double().flatten()
    slope = float(((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum())
    intercept = float(y.mean() - slope * x.mean())
    residual = y - (intercept + slope * x)
    facts = [
        ("the mean of x", float(x.mean()), 0.0, 0.05, "x ~ N(0, 1): torch.randn"),
        (
            "the standard deviation of x",
            float(x.std()),
            1.0,
            0.05,
            "x ~ N(0, 1): torch.randn, not rand",
        ),
        ("the slope of y against x", slope, 2.0, 0.03, "y = 1 + 2·x + 0.3·ε"),
        ("the intercept of y against x", intercept, 1.0, 0.03, "y = 1 + 2·x + 0.3·ε"),
        (
            "the noise's standard deviation",
            float(residual.std()),
            0.3,
            0.02,
            "the noise is 0.3·ε with ε ~ N(0, 1)",
        ),
        (
            "the correlation of the noise with x",
            float(torch.corrcoef(torch.stack([x, residual]))[0, 1]),
            0.0,
            0.05,
            "draw ε separately from x",
        ),
    ]
    for what, got, want, slack, hint in facts:
        expect.true(
            abs(got - want) <= slack,
            summary=f"{what} is off",
            about=about,
            expected=f"{want:g} ± {slack:g}",
            got=f"{got:.4f}",
            hint=hint,
        )


def test_make_data_seeded(student, rng, expect):
    seed = _seed(rng)
    runs = []
    seeds = (seed, seed, seed + 1)
    abouts = [f"make_data(n=50, seed={s})" for s in seeds]
    each = [{"function": "make_data", "args": [], "kwargs": {"n": 50, "seed": s}} for s in seeds]
    replies = student.probe_each("call_watching_rng", each, function="make_data", abouts=abouts)
    for about, reply in zip(abouts, replies, strict=False):
        expect.true(
            not reply.result["global_rng_changed"],
            summary="make_data changed the global random state",
            about=about,
            hint="draw from torch.Generator().manual_seed(seed) (generator=...), not "
            "torch.manual_seed",
        )
        runs.append(expect.tensors(reply.result["value"], 2, what="make_data", about=about))
    same = all(torch.equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
    expect.true(
        same,
        summary="make_data gave different data for the same seed",
        about=f"make_data(n=50, seed={seed}) twice",
        hint="seed a torch.Generator with seed and draw everything from it",
    )
    expect.true(
        not torch.equal(runs[0][0], runs[2][0]),
        summary="make_data ignores its seed",
        about=f"seeds {seed} and {seed + 1}",
        hint="use the seed argument",
    )


def _rows(n):
    x = torch.arange(n, dtype=torch.float32).reshape(n, 1)
    return x, 1000 + x  # row i is (i, 1000 + i): pairing is easy to see


def _splits(student, expect, cases):
    """train_test_split of each (n, fraction, seed) of ``cases`` on ``_rows(n)``, in one
    round trip: yields (x_train, y_train, x_test, y_test), about."""
    calls = []
    for n, fraction, seed in cases:
        described = expect.describe(train_fraction=fraction, seed=seed)
        kwargs = {"train_fraction": fraction, "seed": seed}
        calls.append(Inputs(_rows(n), kwargs, f"train_test_split(x, y, {described}), {n} rows"))
    for call, inputs in zip(student.call_each("train_test_split", calls), calls, strict=False):
        yield (
            expect.tensors(call.value, 4, what="train_test_split", about=inputs.about),
            inputs.about,
        )


def _split(student, expect, n, fraction, seed):
    return next(_splits(student, expect, [(n, fraction, seed)]))


def test_split_sizes(student, rng, expect):
    cases = [(n, f, _seed(rng)) for n, f in ((100, 0.7), (10, 0.5), (7, 0.7), (50, 0.8), (9, 0.25))]
    for (n, fraction, _), (split, about) in zip(
        cases, _splits(student, expect, cases), strict=False
    ):
        x_train, y_train, x_test, y_test = split
        n_train = round(fraction * n)
        sizes = tuple(
            len(t) if isinstance(t, torch.Tensor) else -1
            for t in (x_train, y_train, x_test, y_test)
        )
        expect.true(
            sizes == (n_train, n_train, n - n_train, n - n_train),
            summary="the split has the wrong sizes",
            about=about,
            expected=f"{n_train} training rows and {n - n_train} test rows",
            got=f"sizes {sizes}",
            hint="n_train = round(train_fraction * n); the rest is the test set",
        )


def test_split_pairing(student, rng, expect):
    n = 97
    (x_train, y_train, x_test, y_test), about = _split(student, expect, n, 0.7, _seed(rng))
    for name, tensor in (
        ("x_train", x_train),
        ("y_train", y_train),
        ("x_test", x_test),
        ("y_test", y_test),
    ):
        expect.true(
            isinstance(tensor, torch.Tensor) and tensor.dim() == 2 and tensor.shape[1] == 1,
            summary=f"{name} is not a tensor of shape (k, 1)",
            about=about,
            hint="index the rows of x and y; keep the column dimension",
        )
    expect.true(
        torch.equal(y_train, 1000 + x_train) and torch.equal(y_test, 1000 + x_test),
        summary="some x is no longer next to its own y",
        about=about + " where y = 1000 + x",
        hint="index x and y with the same permutation",
    )
    rows = sorted(torch.cat([x_train, x_test]).flatten().tolist())
    expect.true(
        rows == list(range(n)),
        summary="the training and test rows do not use every row exactly once",
        about=about,
        hint="split a single permutation of all n indices into two parts",
    )


def test_split_shuffled(student, rng, expect):
    seed = _seed(rng)
    cases = [(100, 0.7, seed), (100, 0.7, seed), (100, 0.7, seed + 1)]
    (first, about), (again, _), (other, _) = _splits(student, expect, cases)
    order = first[0].flatten().tolist()
    expect.true(
        order != sorted(order) and sorted(order) != list(range(70)),
        summary="the training set is not shuffled",
        about=about,
        hint="shuffle before splitting: data often arrives sorted; use torch.randperm",
    )
    expect.true(
        torch.equal(first[0], again[0]),
        summary="the split differs for the same seed",
        about=about + " twice",
        hint="draw the permutation from torch.Generator().manual_seed(seed)",
    )
    expect.true(
        not torch.equal(first[0], other[0]),
        summary="the split ignores its seed",
        about=f"seeds {seed} and {seed + 1}",
        hint="use the seed argument",
    )


def _reference_network(reference, state):
    network = reference.make_model(hidden_size=state["fc1.weight"].shape[0])
    network.load_state_dict(state)
    return network


def _training_data(reference, seed):
    x, y = reference.make_data(100, seed)
    return reference.train_test_split(x, y, 0.7, seed)


def _train(student, state, x, y, n_epochs, lr, about, shared=False):
    inputs = {"state": state, "x": x, "y": y, "n_epochs": n_epochs, "lr": lr}
    return student.probe("train", inputs, function="train", about=about, shared=shared)


def _loop_diagnosis(events, n_epochs, lr):
    """What the records of the child say about the loop, to put in a hint."""
    counts, notes = events["counts"], events["notes"]
    optimizers = [
        note.removeprefix("optimizer ") for note in notes if note.startswith("optimizer ")
    ]
    findings = []
    if optimizers != [f"Adam(lr={lr})"]:
        findings.append(
            f"optimizers created: {', '.join(optimizers) or 'none'} (expected one Adam(lr={lr}))"
        )
    if counts.get("optimizer.step", 0) != n_epochs:
        findings.append(
            f"optimizer.step() ran {counts.get('optimizer.step', 0)} times in {n_epochs} epochs"
        )
    if counts.get("optimizer.zero_grad", 0) < n_epochs:
        findings.append(
            f"zero_grad() ran {counts.get('optimizer.zero_grad', 0)} times in {n_epochs} epochs"
        )
    if counts.get("autograd", 0) < n_epochs:
        findings.append(
            f"loss.backward() ran {counts.get('autograd', 0)} times in {n_epochs} epochs"
        )
    return (
        "; ".join(findings)
        or "each epoch: zero_grad, forward, loss(prediction, target), backward, step"
    )


STANDARD_EPOCHS = 40  # the tutorial trains 100; 40 already separate right from wrong loops


def _standard_run(student, reference, rng_for, once):
    """The tutorial's run, shared by two checks: lr=0.1 on make_data(100) split 70/30.

    Returns the submission's reply and the reference's losses and final weights, both
    from the same initial weights and data (each computed once).
    """
    rng = rng_for("standard run")
    seed, state = _seed(rng), network_weights(rng, scale=0.5)
    x_train, y_train, x_test, y_test = _training_data(reference, seed)
    about = (
        f"train(model, x_train, y_train, n_epochs={STANDARD_EPOCHS}, lr=0.1) "
        "on make_data(100) split 70/30"
    )
    reply = _train(student, state, x_train, y_train, STANDARD_EPOCHS, 0.1, about, shared=True)
    expected = once(
        "standard run",
        lambda: _reference_train(reference, state, x_train, y_train, STANDARD_EPOCHS, 0.1),
    )
    return reply, expected, (x_test, y_test), about


def _reference_train(reference, state, x, y, n_epochs, lr):
    network = _reference_network(reference, state)
    losses = reference.train(network, x, y, n_epochs=n_epochs, lr=lr)
    return losses, {name: value.detach().clone() for name, value in network.state_dict().items()}


def _expect_run(expect, reply, expected, n_epochs, lr, about):
    want_losses, want_state = expected
    hint = _loop_diagnosis(reply.events, n_epochs, lr)
    expect.trajectory(
        reply.result["value"],
        want_losses,
        what="losses",
        about=about,
        hint=hint,
        tolerance="float32",
    )
    for name, want in want_state.items():
        expect.close(
            reply.result["state"][name], want, what=f"{name} after training", about=about, hint=hint
        )


def test_train_trajectory(student, reference, rng, rng_for, expect, once):
    reply, expected, _, about = _standard_run(student, reference, rng_for, once)
    _expect_run(expect, reply, expected, STANDARD_EPOCHS, 0.1, about)
    # A second, short run with another learning rate catches a hard-coded lr.
    state, (x_train, y_train, _, _) = (
        network_weights(rng, scale=0.5),
        _training_data(reference, _seed(rng)),
    )
    about = "train(model, x_train, y_train, n_epochs=10, lr=0.05)"
    reply = _train(student, state, x_train, y_train, 10, 0.05, about)
    expected = once(
        "short run", lambda: _reference_train(reference, state, x_train, y_train, 10, 0.05)
    )
    _expect_run(expect, reply, expected, 10, 0.05, about)


def test_train_loop_details(student, rng, expect):
    defaults = student.defaults("train")  # by value: n_epochs=N_EPOCHS with N_EPOCHS = 100 is 100
    wanted = {"n_epochs": 100, "lr": 0.1}
    expect.true(
        all(
            type(defaults.get(name)) in (int, float) and defaults[name] == value
            for name, value in wanted.items()
        ),
        summary="train's default arguments are not the exercise's",
        expected="train(model, x_train, y_train, n_epochs=100, lr=0.1)",
        got=", ".join(f"{name}={value!r}" for name, value in defaults.items()) or "no defaults",
        hint="keep the signature of the exercise: other code relies on its defaults",
    )
    state = network_weights(rng, scale=0.5)
    x, y = random_tensor(rng, (30, 1), torch.float32), random_tensor(rng, (30, 1), torch.float32)
    about = "train(model, x, y, n_epochs=5, lr=0.1) with the model in eval mode beforehand"
    reply = _train(student, state, x, y, 5, 0.1, about)
    expect.float_list(reply.result["value"], 5, what="losses", about=about)
    expect.unchanged(
        [x, y], reply.result["args"], names=("x_train", "y_train"), what="train", about=about
    )
    modes = reply.result["modes"]
    expect.true(
        bool(modes) and all(training and grad for training, grad in modes),
        summary="the model did not run forward in training mode with autograd on",
        about=about,
        hint="call model.train() at the start of each epoch (evaluate() may have switched to "
        "eval mode), and do not train under torch.no_grad()",
    )
    expect.true(
        reply.events["counts"].get("loss(target, prediction)", 0) == 0,
        summary="the loss was called as loss_fn(target, prediction)",
        about=about,
        hint="PyTorch's losses take the prediction first: loss_fn(prediction, y_train). MSE "
        "does not mind, but most other losses (cross-entropy, BCE) do",
    )


def test_train_fits_the_data(student, reference, rng_for, expect, once):
    reply, (_, want_state), (x_test, y_test), about = _standard_run(
        student, reference, rng_for, once
    )
    want = reference.evaluate(_reference_network(reference, want_state), x_test, y_test)
    got = reference.evaluate(_reference_network(reference, reply.result["state"]), x_test, y_test)
    limit = 1.5 * want + 0.05
    expect.true(
        got <= limit,
        summary="the trained model does not fit the test data well",
        about=about,
        expected=f"a test MSE of at most {limit:.3f} (the reference reaches {want:.3f})",
        got=f"a test MSE of {got:.3f}",
        hint=_loop_diagnosis(reply.events, STANDARD_EPOCHS, 0.1),
    )


def test_evaluate_values(student, reference, rng, expect):
    runs, abouts = [], []
    for n in (30, 1):
        state = network_weights(rng, scale=0.5)
        x, y = random_tensor(rng, (n, 1), torch.float32), random_tensor(rng, (n, 1), torch.float32)
        runs.append({"state": state, "x": x, "y": y})
        abouts.append(f"evaluate(model, x, y) on {n} rows")
    replies = student.probe_each("evaluate", runs, function="evaluate", abouts=abouts)
    for run, about, reply in zip(runs, abouts, replies, strict=False):
        got = reply.result["value"]
        want = reference.evaluate(_reference_network(reference, run["state"]), run["x"], run["y"])
        expect.true(
            type(got) is float,
            summary=f"evaluate returned {type(got).__name__}, not a Python float",
            about=about,
            hint="return loss.item()",
        )
        expect.true(
            abs(got - want) <= 1e-6 + 1e-4 * abs(want),
            summary="evaluate returned the wrong MSE",
            about=about,
            expected=f"{want:.6g}",
            got=f"{got:.6g}",
            hint="nn.MSELoss()(model(x), y).item(): the mean, not the sum",
        )


def test_evaluate_eval_mode_no_grad(student, rng, expect):
    state = network_weights(rng, scale=0.5)
    x, y = random_tensor(rng, (20, 1), torch.float32), random_tensor(rng, (20, 1), torch.float32)
    about = "evaluate(model, x, y) on a model in training mode whose parameters hold a .grad"
    reply = student.probe(
        "evaluate", {"state": state, "x": x, "y": y}, function="evaluate", about=about
    )
    modes = reply.result["modes"]
    expect.true(
        bool(modes) and all(not training for training, _ in modes),
        summary="evaluate ran the model in training mode",
        about=about,
        hint="call model.eval() before the forward pass",
    )
    expect.true(
        all(not grad for _, grad in modes),
        summary="evaluate ran the model with autograd on",
        about=about,
        hint="wrap the forward pass in `with torch.no_grad():`",
    )
    for name, value in state.items():
        after = reply.result["state"][name]
        expect.true(
            torch.equal(after, value),
            summary=f"evaluate changed {name}",
            about=about,
            hint="evaluation must not train: no optimizer step",
        )
        grad = reply.result["grads"][name]
        expect.true(
            grad is not None and bool((grad == 0.5).all()),
            summary=f"evaluate changed {name}.grad",
            about=about,
            hint="do not call backward() or zero_grad() when evaluating",
        )


def _matching(series, expected):
    """Series whose y values are the expected values (in any order)."""
    want = expected.double().flatten().sort().values
    return [
        s
        for s in series
        if len(s[3]) == len(want) and torch.allclose(s[3].sort().values, want, rtol=1e-4, atol=1e-5)
    ]


def test_plot_predictions_content(student, reference, rng, expect):
    state = network_weights(rng, scale=0.5)
    x = random_tensor(rng, (25, 1), torch.float32, scale=1.5)
    y = 1 + 2 * x + 0.3 * random_tensor(rng, (25, 1), torch.float32)
    about = "plot_predictions(model, x, y) with 25 points"
    reply = student.probe(
        "plot_predictions",
        {"state": state, "x": x, "y": y},
        function="plot_predictions",
        about=about,
    )
    figure = reply.result["figure"]
    expect.true(
        reply.events["counts"].get("plt.show", 0) == 0,
        summary="plot_predictions called plt.show()",
        about=about,
        hint="return the figure; the caller decides whether to show it",
    )
    expect.true(
        figure["type"] == "matplotlib.figure.Figure" and len(figure["axes"]) == 1,
        summary="plot_predictions did not return a Figure with one Axes",
        about=about,
        got=f"{figure['type']} with {len(figure['axes'])} Axes",
        hint="figure = Figure(); axes = figure.add_subplot(); ...; return figure",
    )
    axes = figure["axes"][0]
    for part in ("title", "xlabel", "ylabel"):
        expect.true(
            bool(axes[part].strip()),
            summary=f"the plot has no {part}",
            about=about,
            hint=f"axes.set_{part}(...)",
        )
    expect.true(
        axes["legend"] is not None and len(axes["legend"]) >= 2,
        summary="the plot has no legend with the two series",
        about=about,
        hint="give each series a label=... and call axes.legend()",
    )
    with torch.no_grad():
        predictions = _reference_network(reference, state).eval()(x)
    labelled = [s for s in axes["series"] if s[1]]
    for what, values in (("the expected values y", y), ("the model's predictions", predictions)):
        expect.true(
            bool(_matching(labelled, values)),
            summary=f"no labelled series shows {what}",
            about=about,
            got="labelled series: "
            + (", ".join(f"{s[1]!r} ({len(s[3])} points)" for s in labelled) or "none"),
            hint="plot y and model(x) (computed in eval mode under torch.no_grad()) against x, "
            "each with a label",
        )
