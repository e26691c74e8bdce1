"""Exercise 1 (ex1_forward): the forward pass of the "Back to Basics" network.

The network has two inputs x1 and x2, a bias unit b (a constant input, 1 unless said
otherwise) and a single neuron. Each input reaches the neuron through a weight:
w1 for x1, w2 for x2 and w3 for the bias unit.

    x1 ──w1──┐
    x2 ──w2──┼──▶ [ summation → transformation ] ──▶ O1 = ŷ
    b  ──w3──┘

The neuron works in two steps:

    H1 = x1·w1 + x2·w2 + b·w3          summation: a weighted sum of the inputs
    O1 = σ(H1) = 1 / (1 + e^(−H1))     transformation: the sigmoid squashes H1 into (0, 1)

There is no hidden layer, so the neuron's output O1 is the network's prediction ŷ.
How wrong is it? The mean squared error compares the prediction with the target y:

    L = mean((ŷ − y)²)

Everything below works on tensors: give x1 and x2 of shape (N,) and you get N
predictions in one call, with the 0-dim weights broadcast over the batch.
"""

import torch
from torch import Tensor


def sigmoid(z: Tensor) -> Tensor:
    """Return σ(z) = 1 / (1 + e^(−z)), elementwise, with the shape and dtype of ``z``.

    The formula as written breaks for large |z|. For z = −1e4, e^(−z) = e^(1e4) overflows
    to inf: the value 1 / (1 + inf) = 0 is still right, but autograd's gradient becomes
    inf / inf = nan. Rewriting it as e^z / (1 + e^z) only moves the problem to z = +1e4.

    The stable form uses each rewriting where it is safe, so that exp only ever sees a
    number ≤ 0 and returns something in (0, 1]:

        σ(z) = 1 / (1 + e^(−z))     for z ≥ 0
        σ(z) = e^z / (1 + e^z)      for z < 0

    Both branches are computed for every element (tensors have no per-element "if"), so
    each branch must also stay finite where it is not used: clamp its input to the side
    where it is safe, then pick with ``torch.where``.

    Write it yourself: do not call ``torch.sigmoid``, ``Tensor.sigmoid``,
    ``torch.special.expit``, ``torch.nn.functional.sigmoid`` or ``nn.Sigmoid``.
    Do not modify ``z`` in place.

    >>> sigmoid(torch.tensor([0.0, 1e4, -1e4]))
    tensor([0.5000, 1.0000, 0.0000])
    """
    ### BEGIN SOLUTION
    exp_of_negative_part = torch.exp(-z.clamp(min=0))  # e^(−z) where z ≥ 0, else 1
    exp_of_positive_part = torch.exp(z.clamp(max=0))  # e^z where z < 0, else 1
    return torch.where(
        z >= 0,
        1 / (1 + exp_of_negative_part),
        exp_of_positive_part / (1 + exp_of_positive_part),
    )
    ### END SOLUTION


def weighted_sum(
    x1: Tensor, x2: Tensor, w1: Tensor, w2: Tensor, w3: Tensor, b: float = 1.0
) -> Tensor:
    """The summation step: H1 = x1·w1 + x2·w2 + b·w3.

    ``x1`` and ``x2`` may be a batch of shape (N,) while the weights are 0-dim tensors:
    broadcasting multiplies every example by the same weight.

    >>> weighted_sum(torch.tensor(2.0), torch.tensor(3.0),
    ...              torch.tensor(0.5), torch.tensor(-1.0), torch.tensor(0.25))
    tensor(-1.7500)
    """
    ### BEGIN SOLUTION
    return x1 * w1 + x2 * w2 + b * w3
    ### END SOLUTION


def forward(x1: Tensor, x2: Tensor, w1: Tensor, w2: Tensor, w3: Tensor, b: float = 1.0) -> Tensor:
    """The whole forward pass: O1 = σ(H1), the sigmoid of the weighted sum.

    With a single neuron and no hidden layer, O1 is the prediction ŷ.
    Build it from ``weighted_sum`` and ``sigmoid`` above.
    """
    ### BEGIN SOLUTION
    return sigmoid(weighted_sum(x1, x2, w1, w2, w3, b))
    ### END SOLUTION


def mse_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error: the mean over all elements of (prediction − target)².

    Returns a 0-dim tensor, the same number as ``torch.nn.MSELoss()(prediction, target)``.
    The order matters by convention: prediction first, target second (the loss
    functions of torch.nn all take the model's output first).

    >>> mse_loss(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 1.0, 1.0]))
    tensor(1.6667)
    """
    ### BEGIN SOLUTION
    return ((prediction - target) ** 2).mean()
    ### END SOLUTION
