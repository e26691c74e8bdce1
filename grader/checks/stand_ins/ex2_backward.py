"""Stand-ins for the functions ``backward`` and ``fit_by_hand`` call (see __init__.py).

``backward``'s stand-in uses autograd: only ``fit_by_hand`` runs with it, and no check of
``fit_by_hand`` asks how the gradients were computed. ``sigmoid_grad``'s uses none, since
``backward`` must not.
"""

import torch
from torch import Tensor


def sigmoid_grad(z: Tensor) -> Tensor:
    e = torch.exp(-z.abs())  # σ'(z) = e^(−|z|) / (1 + e^(−|z|))², symmetric in z
    return e / (1 + e) ** 2


def backward(
    x1: Tensor, x2: Tensor, w1: Tensor, w2: Tensor, w3: Tensor, target: Tensor, b: float = 1.0
) -> tuple[Tensor, Tensor, Tensor]:
    leaves = [w.detach().clone().requires_grad_(True) for w in (w1, w2, w3)]
    with torch.enable_grad():
        prediction = torch.sigmoid(
            x1.detach() * leaves[0] + x2.detach() * leaves[1] + b * leaves[2]
        )
        loss = torch.nn.functional.mse_loss(prediction, target.detach().expand_as(prediction))
        return torch.autograd.grad(loss, leaves)


def sgd_step(
    weights: tuple[Tensor, ...], grads: tuple[Tensor, ...], lr: float
) -> tuple[Tensor, ...]:
    return tuple(torch.sub(w, g, alpha=lr) for w, g in zip(weights, grads, strict=True))
