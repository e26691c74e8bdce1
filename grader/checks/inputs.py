"""Random inputs shaped for this course: the Back to Basics neuron's and the network's weights."""

from __future__ import annotations

import torch

from grader.grading.inputs import random_tensor


def neuron_inputs(
    rng: torch.Generator, n: int | None, dtype: torch.dtype, weight_scale: float = 1.0
) -> list[torch.Tensor]:
    """[x1, x2, w1, w2, w3, target] for the Back to Basics neuron.

    x1, x2 and target have shape (n,) (0-dim for n = None), target in [0, 1); the
    weights are 0-dim.
    """
    shape = () if n is None else (n,)
    x1, x2 = random_tensor(rng, shape, dtype), random_tensor(rng, shape, dtype)
    target = torch.rand(shape, generator=rng, dtype=torch.float64).to(dtype)
    weights = [random_tensor(rng, (), dtype, scale=weight_scale) for _ in range(3)]
    return [x1, x2, *weights, target]


def network_weights(
    rng: torch.Generator, hidden_size: int = 5, scale: float = 1.0
) -> dict[str, torch.Tensor]:
    """Random weights for the course's network (fc1 → ReLU → fc2), as a state dict.

    ``scale`` shrinks all but fc1's weight: smaller outputs train more gently.
    """
    return {
        "fc1.weight": random_tensor(rng, (hidden_size, 1), torch.float32),
        "fc1.bias": random_tensor(rng, (hidden_size,), torch.float32, scale),
        "fc2.weight": random_tensor(rng, (1, hidden_size), torch.float32, scale),
        "fc2.bias": random_tensor(rng, (1,), torch.float32, scale),
    }
