"""2-D toy distributions: a ring and a grid of Gaussians (with mode coverage) and the swiss roll."""

from __future__ import annotations

import math
from typing import Callable, Literal

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.errors import SplitNotFound

from .coverage import EVAL_SAMPLES, mode_coverage

Distribution = Literal["ring", "grid", "swissroll"]


def ring_modes(n: int = 8, radius: float = 1.0) -> Tensor:
    angles = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return torch.stack([angles.cos(), angles.sin()], 1).float() * radius


def grid_modes(side: int = 5, spacing: float = 2.0) -> Tensor:
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing  # -4, -2, 0, 2, 4
    return torch.cartesian_prod(coords, coords)


# name -> (modes, std); the published protocol: 8 modes on the unit circle with std 0.01, 25 on {-4..4}^2 with 0.05
MIXTURES: dict[str, tuple[Callable[[], Tensor], float]] = {"ring": (ring_modes, 0.01), "grid": (grid_modes, 0.05)}


def swissroll(n: int, generator: torch.Generator, noise: float = 0.25) -> Tensor:
    """The swiss roll of sklearn's make_swiss_roll (x, z coordinates), scaled by 1/7.5 as in the WGAN-GP paper."""
    t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator, dtype=torch.float64))
    points = torch.stack([t * t.cos(), t * t.sin()], 1)
    points += noise * torch.randn(n, 2, generator=generator, dtype=torch.float64)
    return (points / 7.5).float()


class Toy2D(Dataset):
    """2-D toy points: a ring or a grid of Gaussians (scored by mode coverage), or the swiss roll.

    ``ring``: 8 Gaussians on the unit circle, std 0.01; ``grid``: 25 Gaussians at {-4,-2,0,2,4}^2, std 0.05;
    ``swissroll``. Points are precomputed from ``seed`` at construction.

    For the mixtures, ``modes`` (drawn on scatter plots) and ``evaluate_samples`` (mode coverage on 2,500
    generated samples: modes captured, % high quality, reverse KL), logged at each sample step.
    """

    keys = ("x",)

    def __init__(self, *, split: str = "train", distribution: Distribution = "grid", size: int = 100_000,
                 seed: int = 0):
        if split != "train":
            raise SplitNotFound(f"toy2d has only a train split, not {split!r}")
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        g = torch.Generator().manual_seed(seed)
        if distribution == "swissroll":
            self.modes, self.std = None, None
            self.points = swissroll(size, g)
        else:
            make_modes, self.std = MIXTURES[distribution]
            self.modes = make_modes()
            which = torch.randint(len(self.modes), (size,), generator=g)
            self.points = self.modes[which] + self.std * torch.randn(size, 2, generator=g)
        self.distribution = distribution

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        return {"x": self.points[index]}

    def evaluate_samples(self, generate: Callable[[int], Tensor]) -> dict[str, float]:
        """Mode coverage of ``generate(2500)``; empty for the swiss roll, which has no modes."""
        if self.modes is None:
            return {}
        return mode_coverage(generate(EVAL_SAMPLES), self.modes, self.std)
