"""Exercise 4 (ex4_training): data, a train/test split, the training loop, a plot.

We teach the network of exercise 3 a straight line from noisy examples:

    y = 1 + 2·x + 0.3·ε,    x ~ N(0, 1),  ε ~ N(0, 1)

The recipe of every PyTorch training run:

1. Make the data and split it. Shuffle *before* splitting: data often arrives sorted
   (by date, by label…), and an unshuffled split tests the model on a different kind
   of example than it learned from. Keep 70 % for training and hold back 30 % to
   measure how well the model does on examples it never saw.
2. Train. Each epoch, on the whole training set at once:

       model.train()                  # layers like dropout behave differently in training
       optimizer.zero_grad()          # backward() ADDS to .grad: clear last epoch's gradients
       prediction = model(x_train)    # forward
       loss = loss_fn(prediction, y_train)   # prediction first, target second
       loss.backward()                # dL/dθ for every parameter θ, into θ.grad
       optimizer.step()               # θ ← θ − (Adam's version of) lr·dL/dθ

   Leave out ``zero_grad`` and every step uses the sum of all past gradients; leave out
   ``backward`` or ``step`` and nothing is learned at all. The data never needs
   ``requires_grad``: we train the parameters, not the data.
3. Evaluate on the test set in eval mode and without building a graph
   (``torch.no_grad()``), and look at the predictions next to the expected values.

The network of exercise 3 is provided below as ``make_model`` so that this file stands
alone. Run this file (``python ex4_training.py``) to train it and save the plot.
"""

from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")  # draw into files, never open a window

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn, optim


def make_model(hidden_size: int = 5) -> nn.Module:
    """Provided: the network of exercise 3, Linear(1, 5) → ReLU → Linear(5, 1)."""
    return nn.Sequential(
        OrderedDict(
            fc1=nn.Linear(1, hidden_size),
            non_linearity_fc1=nn.ReLU(),
            fc2=nn.Linear(hidden_size, 1),
        )
    )


def make_data(n: int = 100, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Return (x, y), both float32 of shape (n, 1), with y = 1 + 2·x + 0.3·ε.

    Draw x and ε from N(0, 1) with a ``torch.Generator`` seeded with ``seed``
    (``torch.randn(n, 1, generator=generator)``): the same seed gives the same data,
    and the global random state (``torch.manual_seed``) is left alone, so making data
    does not change how anything else is initialised. The data does not require grad.
    """
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=generator)
    noise = torch.randn(n, 1, generator=generator)
    y = 1 + 2 * x + 0.3 * noise
    return x, y
    ### END SOLUTION


def train_test_split(
    x: Tensor, y: Tensor, train_fraction: float = 0.7, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Shuffle the rows, then split: return (x_train, y_train, x_test, y_test).

    Draw a random permutation of the n row indices from a ``torch.Generator`` seeded
    with ``seed`` (``torch.randperm``); the first ``round(train_fraction * n)`` indices
    are the training rows, the rest the test rows. Index x and y with the same
    indices so that every x stays with its own y.
    """
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(x.shape[0], generator=generator)
    n_train = round(train_fraction * x.shape[0])
    train_rows, test_rows = order[:n_train], order[n_train:]
    return x[train_rows], y[train_rows], x[test_rows], y[test_rows]
    ### END SOLUTION


def train(
    model: nn.Module, x_train: Tensor, y_train: Tensor, n_epochs: int = 100, lr: float = 0.1
) -> list[float]:
    """Train ``model`` in place, full batch, and return the loss of every epoch.

    Use ``optim.Adam(model.parameters(), lr=lr)`` and ``nn.MSELoss()``. Each epoch:
    train mode, zero the gradients, forward, loss(prediction, target), backward, step
    (see the top of this file). Entry i of the returned list is the loss before step i,
    as a Python float (``loss.item()``): keeping the tensor would keep its whole graph
    alive. Do not modify the data.
    """
    ### BEGIN SOLUTION
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(n_epochs):
        model.train()
        optimizer.zero_grad()
        prediction = model(x_train)
        loss = loss_fn(prediction, y_train)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
    ### END SOLUTION


def evaluate(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Return the mean squared error of ``model`` on (x, y) as a Python float.

    Switch to eval mode (``model.eval()``) and compute under ``torch.no_grad()``:
    evaluation must not build a graph or touch the parameters or their ``.grad``.
    """
    ### BEGIN SOLUTION
    model.eval()
    with torch.no_grad():
        return nn.MSELoss()(model(x), y).item()
    ### END SOLUTION


def plot_predictions(model: nn.Module, x: Tensor, y: Tensor) -> Figure:
    """Return a figure of the model's predictions next to the expected values.

    One Axes with two labelled series (say, a scatter of (x, y) labelled "expected" and
    a scatter of (x, model(x)) labelled "predicted"), a legend, axis labels and a title.
    Compute the predictions in eval mode under ``torch.no_grad()``.

    Build the figure with ``matplotlib.figure.Figure()`` and return it; do not call
    ``plt.show()``: the caller decides whether to show it, save it or test it.
    """
    ### BEGIN SOLUTION
    model.eval()
    with torch.no_grad():
        predictions = model(x)
    figure = Figure()
    axes = figure.add_subplot()
    axes.scatter(x.squeeze(1), y.squeeze(1), color="tab:green", label="expected")
    axes.scatter(x.squeeze(1), predictions.squeeze(1), color="tab:orange", label="predicted")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.set_title("Predictions vs expected values on the test set")
    axes.legend()
    return figure
    ### END SOLUTION


if __name__ == "__main__":
    torch.manual_seed(0)  # the model's initial weights come from the global generator
    x, y = make_data()
    x_train, y_train, x_test, y_test = train_test_split(x, y)
    model = make_model()
    losses = train(model, x_train, y_train)
    print(f"training loss: {losses[0]:.3f} at the start, {losses[-1]:.3f} at the end")
    print(f"test MSE: {evaluate(model, x_test, y_test):.3f} (the noise alone gives 0.09)")
    plot_predictions(model, x_test, y_test).savefig("predictions.png")
    print("saved predictions.png")
