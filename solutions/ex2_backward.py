"""Exercise 2 (ex2_backward): gradients by hand with the chain rule, then by autograd.

Training means changing the weights w1, w2, w3 so that the loss L goes down. Gradient
descent needs, for every weight, how L changes when that weight changes: dL/dw.

L is a chain of simple functions of w1:

    H1 = x1·w1 + x2·w2 + b·w3      ŷ = σ(H1)      L = mean((ŷ − y)²)

so the chain rule multiplies the derivative of each link, from the loss back to w1:

    dL/dw1 = dL/dŷ · dŷ/dH1 · dH1/dw1

    dL/dŷ_i   = 2·(ŷ_i − y_i) / N      (the mean's 1/N, the square's 2)
    dŷ/dH1    = σ'(H1) = σ(H1)·(1 − σ(H1))
    dH1/dw1   = x1,   dH1/dw2 = x2,   dH1/dw3 = b

Over a batch, every example pushes on the same weight, so the per-example terms add up:

    dL/dw1 = Σ_i  2·(ŷ_i − y_i)/N · σ'(H1_i) · x1_i

PyTorch's autograd does the same bookkeeping for you. A tensor created with
``requires_grad=True`` is a *leaf*; every operation on it records a ``grad_fn`` (look at
``loss.grad_fn``: it names the last operation, and its ``next_functions`` lead back
through the graph). ``loss.backward()`` walks that graph backwards and stores dL/dw in
``w.grad`` for every leaf w. Intermediate results such as H1 are not leaves: their
``.grad`` stays ``None`` unless you ask for it with ``retain_grad()``. And the data
(x1, x2, y) never needs ``requires_grad``: we do not train the data.

The forward pass of exercise 1 is provided below (written with PyTorch's built-ins so
that this file stands alone).
"""

import torch
from torch import Tensor

Weights = tuple[Tensor, Tensor, Tensor]


def forward(x1: Tensor, x2: Tensor, w1: Tensor, w2: Tensor, w3: Tensor, b: float = 1.0) -> Tensor:
    """Provided: the prediction ŷ = σ(x1·w1 + x2·w2 + b·w3) of exercise 1."""
    return torch.sigmoid(x1 * w1 + x2 * w2 + b * w3)


def mse_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Provided: the mean squared error of exercise 1, a 0-dim tensor."""
    return ((prediction - target) ** 2).mean()


def sigmoid_grad(z: Tensor) -> Tensor:
    """Return the derivative of the sigmoid, σ'(z) = σ(z)·(1 − σ(z)), elementwise.

    It is largest at z = 0 (σ'(0) = 1/4) and tends to 0 on both sides. It must be finite
    for every finite z, ±1e4 included: compute σ(z) in a stable way first (here you may
    use ``torch.sigmoid``, which is stable) rather than expanding e^(−z) yourself.

    >>> sigmoid_grad(torch.tensor([0.0, 1e4, -1e4]))
    tensor([0.2500, 0.0000, 0.0000])
    """
    ### BEGIN SOLUTION
    s = torch.sigmoid(z)
    return s * (1 - s)
    ### END SOLUTION


def backward(
    x1: Tensor,
    x2: Tensor,
    w1: Tensor,
    w2: Tensor,
    w3: Tensor,
    target: Tensor,
    b: float = 1.0,
) -> Weights:
    """Return (dL/dw1, dL/dw2, dL/dw3) for L = mse_loss(forward(x1, x2, w1, w2, w3, b), target).

    Write the chain rule out (see the top of this file): compute H1 and ŷ, then
    dL/dŷ, then dL/dH1 = dL/dŷ · σ'(H1), then multiply by x1, x2 and b and sum over the
    batch. Each gradient has the shape of its weight (0-dim).

    No autograd here: no ``.backward()``, no ``torch.autograd.grad``, no ``torch.func``.
    Your function must give the right answer when called under ``torch.no_grad()``
    with inputs that do not require grad.

    Worked example: x1 = 1, x2 = 2, all weights 0, target 1, b = 1. Then H1 = 0,
    ŷ = 0.5, dL/dŷ = 2·(0.5 − 1)/1 = −1, σ'(0) = 0.25, so dL/dH1 = −0.25 and the
    gradients are (−0.25·1, −0.25·2, −0.25·1) = (−0.25, −0.5, −0.25).
    """
    ### BEGIN SOLUTION
    hidden = x1 * w1 + x2 * w2 + b * w3
    prediction = torch.sigmoid(hidden)
    error = prediction - target
    dloss_dprediction = 2 * error / error.numel()
    dloss_dhidden = dloss_dprediction * sigmoid_grad(hidden)
    return (
        (dloss_dhidden * x1).sum().reshape(w1.shape),
        (dloss_dhidden * x2).sum().reshape(w2.shape),
        (dloss_dhidden * b).sum().reshape(w3.shape),
    )
    ### END SOLUTION


def autograd_gradients(
    x1: Tensor,
    x2: Tensor,
    w1: Tensor,
    w2: Tensor,
    w3: Tensor,
    target: Tensor,
    b: float = 1.0,
) -> Weights:
    """The same three gradients as ``backward``, computed by autograd.

    Make leaf copies of the weights that require grad (``w.detach().clone()`` then
    ``requires_grad_()``), compute the loss with the provided ``forward`` and
    ``mse_loss``, call ``loss.backward()`` and read ``.grad`` of each copy.

    Working on copies keeps the caller's tensors untouched: their values,
    ``requires_grad`` and ``.grad`` are the same afterwards. Detach the data too, so
    that no gradient flows into it even if the caller's data requires grad.
    """
    ### BEGIN SOLUTION
    leaves = [w.detach().clone().requires_grad_(True) for w in (w1, w2, w3)]
    with torch.enable_grad():
        prediction = forward(x1.detach(), x2.detach(), *leaves, b)
        loss = mse_loss(prediction, target.detach())
        loss.backward()
    return tuple(leaf.grad for leaf in leaves)
    ### END SOLUTION


def sgd_step(weights: Weights, grads: Weights, lr: float) -> Weights:
    """One step of gradient descent: return a new tuple of w − lr·g, one per weight.

    Step *against* the gradient: it points uphill. Build new tensors; do not change
    ``weights`` or ``grads`` in place.

    >>> sgd_step((torch.tensor(1.0),), (torch.tensor(0.5),), lr=0.1)
    (tensor(0.9500),)
    """
    ### BEGIN SOLUTION
    return tuple(w - lr * g for w, g in zip(weights, grads, strict=True))
    ### END SOLUTION


def fit_by_hand(
    x1: Tensor,
    x2: Tensor,
    target: Tensor,
    weights: Weights,
    lr: float = 0.5,
    n_steps: int = 100,
    b: float = 1.0,
) -> tuple[Weights, list[float]]:
    """Plain gradient descent with your ``backward``: return (final_weights, losses).

    Repeat ``n_steps`` times: record the loss at the current weights as a Python float
    (``losses[i]`` is the loss *before* step i), compute the gradients with
    ``backward``, take an ``sgd_step``. ``losses`` has ``n_steps`` entries and should
    go down.
    """
    ### BEGIN SOLUTION
    losses = []
    for _ in range(n_steps):
        losses.append(mse_loss(forward(x1, x2, *weights, b), target).item())
        grads = backward(x1, x2, *weights, target, b)
        weights = sgd_step(weights, grads, lr)
    return tuple(weights), losses
    ### END SOLUTION
