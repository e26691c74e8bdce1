"""Stand-ins for the functions ``forward`` calls (see __init__.py)."""

import torch
from torch import Tensor


def sigmoid(z: Tensor) -> Tensor:
    return torch.sigmoid(z)


def weighted_sum(
    x1: Tensor, x2: Tensor, w1: Tensor, w2: Tensor, w3: Tensor, b: float = 1.0
) -> Tensor:
    return torch.addcmul(torch.addcmul(b * w3, x1, w1), x2, w2)
