"""Random inputs any course's checks can use, the same numbers whatever the dtype."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


def random_tensor(
    rng: torch.Generator, shape: tuple[int, ...], dtype: torch.dtype, scale: float = 1.0
) -> torch.Tensor:
    """Normal random values drawn in float64 (the same numbers whatever the dtype)."""
    return (torch.randn(shape, generator=rng, dtype=torch.float64) * scale).to(dtype)


def elementwise_inputs(
    rng: torch.Generator, shapes: Sequence[tuple[int, ...]], scale: float
) -> Iterator[torch.Tensor]:
    """z of each shape in float32 and float64; where there is room, z starts -1, 0, 1."""
    for dtype in (torch.float32, torch.float64):
        for shape in shapes:
            z = random_tensor(rng, shape, dtype, scale)
            if z.numel() >= 3:
                z.view(-1)[:3] = torch.tensor([-1.0, 0.0, 1.0])
            yield z
