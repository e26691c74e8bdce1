"""Self-checks for exercise 4. Run: pytest -m ex4_training"""

import pytest
import torch
from ex4_training import (
    evaluate,
    make_data,
    make_model,
    plot_predictions,
    train,
    train_test_split,
)
from selfcheck import expect

pytestmark = pytest.mark.ex4_training


def test_make_data_shapes_and_dtype():
    x, y = make_data(n=10, seed=1)
    for name, tensor in (("x", x), ("y", y)):
        expect(
            tuple(tensor.shape) == (10, 1)
            and tensor.dtype == torch.float32
            and not tensor.requires_grad,
            call="make_data(n=10, seed=1)",
            expected=f"{name} of shape (10, 1), float32, requires_grad=False",
            got=f"shape {tuple(tensor.shape)}, {tensor.dtype}, "
            f"requires_grad={tensor.requires_grad}",
            hint="torch.randn(n, 1, generator=generator); the data is not trained, so no "
            "requires_grad",
        )


def test_make_data_is_reproducible_and_leaves_the_global_rng_alone():
    state = torch.get_rng_state()
    first, second = make_data(n=5, seed=3), make_data(n=5, seed=3)
    expect(
        torch.equal(first[0], second[0]) and torch.equal(first[1], second[1]),
        call="make_data(n=5, seed=3) twice",
        expected="the same data both times",
        got=(first, second),
        hint="draw from torch.Generator().manual_seed(seed)",
    )
    expect(
        torch.equal(state, torch.get_rng_state()),
        call="make_data(n=5, seed=3)",
        expected="the global random state unchanged",
        got="it changed",
        hint="pass generator= to torch.randn instead of calling torch.manual_seed",
    )


def test_make_data_follows_the_line():
    x, y = make_data(n=2000, seed=0)
    residual = y - (1 + 2 * x)
    expect(
        abs(residual.mean().item()) < 0.05 and abs(residual.std().item() - 0.3) < 0.05,
        call="make_data(n=2000, seed=0)",
        expected="y − (1 + 2x) with mean ≈ 0 and standard deviation ≈ 0.3",
        got=f"mean {residual.mean().item():.3f}, std {residual.std().item():.3f}",
        hint="y = 1 + 2·x + 0.3·ε with a second, independent draw ε ~ N(0, 1)",
    )


def test_split_sizes_pairs_and_shuffle():
    x = torch.arange(10.0).reshape(10, 1)
    y = 100 + x  # row i is (i, 100 + i): easy to see whether rows stay paired
    x_train, y_train, x_test, y_test = train_test_split(x, y, train_fraction=0.7, seed=0)
    expect(
        (len(x_train), len(y_train), len(x_test), len(y_test)) == (7, 7, 3, 3),
        call="train_test_split(10 rows, train_fraction=0.7)",
        expected="7 training rows and 3 test rows",
        got=(len(x_train), len(y_train), len(x_test), len(y_test)),
        hint="n_train = round(train_fraction * n)",
    )
    expect(
        torch.equal(y_train, 100 + x_train) and torch.equal(y_test, 100 + x_test),
        call="train_test_split(x = 0..9, y = 100 + x)",
        expected="every y still next to its own x",
        got=(x_train.flatten(), y_train.flatten()),
        hint="index x and y with the same permutation",
    )
    rows = sorted(torch.cat([x_train, x_test]).flatten().tolist())
    expect(
        rows == list(range(10)),
        call="train_test_split(x = 0..9, ...)",
        expected="every row exactly once, in training or in test",
        got=rows,
        hint="split one permutation of all n indices",
    )
    expect(
        x_train.flatten().tolist() != list(range(7)),
        call="train_test_split(x = 0..9, ...)",
        expected="shuffled rows in the training set",
        got=x_train.flatten().tolist(),
        hint="shuffle before splitting: torch.randperm(n, generator=generator)",
    )


def test_train_returns_falling_python_floats_and_leaves_the_data_alone():
    torch.manual_seed(0)
    model = make_model()
    x = torch.linspace(-2, 2, 50).reshape(50, 1)
    y = 1 + 2 * x
    x_before, y_before = x.clone(), y.clone()
    losses = train(model, x, y, n_epochs=30, lr=0.1)
    expect(
        len(losses) == 30 and all(type(loss) is float for loss in losses),
        call="train(model, x, y, n_epochs=30)",
        expected="30 losses, each a Python float",
        got=f"{len(losses)} entries of types {sorted({type(loss).__name__ for loss in losses})}",
        hint="append loss.item() once per epoch",
    )
    expect(
        losses[-1] < 0.5 * losses[0],
        call="train(model, x, y, n_epochs=30, lr=0.1)",
        expected="the last loss well below the first",
        got=f"first {losses[0]:.4f}, last {losses[-1]:.4f}",
        hint="each epoch: zero_grad, forward, loss, backward, step",
    )
    expect(
        torch.equal(x, x_before) and torch.equal(y, y_before) and not x.requires_grad,
        call="train(model, x, y, ...)",
        expected="x and y unchanged, without requires_grad",
        got=f"requires_grad: x {x.requires_grad}, y {y.requires_grad}",
        hint="train the parameters, not the data",
    )


def test_evaluate_is_the_mse_as_a_float():
    model = make_model()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()  # the model now predicts 0 everywhere
    x = torch.tensor([[1.0], [2.0]])
    y = torch.tensor([[1.0], [3.0]])
    got = evaluate(model, x, y)
    expect(
        type(got) is float and abs(got - 5.0) < 1e-6,
        call="evaluate(a model that predicts 0, x = [[1], [2]], y = [[1], [3]])",
        expected="(1² + 3²) / 2 = 5.0 as a Python float",
        got=repr(got),
        hint="nn.MSELoss()(model(x), y).item(), in eval mode under torch.no_grad()",
    )


def test_plot_predictions_draws_two_labelled_series():
    model = make_model()
    x = torch.linspace(-1, 1, 8).reshape(8, 1)
    y = 1 + 2 * x
    figure = plot_predictions(model, x, y)
    axes = figure.get_axes() if hasattr(figure, "get_axes") else []
    legend = axes[0].get_legend() if len(axes) == 1 else None
    labels = [text.get_text() for text in legend.get_texts()] if legend else []
    expect(
        len(axes) == 1 and len(labels) == 2,
        call="plot_predictions(model, x, y)",
        expected="a Figure with one Axes and a legend of two labelled series",
        got=f"{type(figure).__name__} with {len(axes)} Axes and legend labels {labels}",
        hint="scatter (or plot) expected and predicted values with label=..., then legend()",
    )
    expect(
        all([axes[0].get_xlabel(), axes[0].get_ylabel(), axes[0].get_title()]),
        call="plot_predictions(model, x, y)",
        expected="axis labels and a title",
        got=(axes[0].get_xlabel(), axes[0].get_ylabel(), axes[0].get_title()),
        hint="set_xlabel, set_ylabel, set_title",
    )
