"""A procedural paired dataset: random stripes (A) and their blurred, tinted version (B)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ganzoo.errors import SplitNotFound


class StripesPairs(Dataset):
    """Random oriented stripes (A) and the same stripes blurred and tinted orange (B), generated from a seed."""

    keys = ("A", "B")

    def __init__(self, *, split: str = "train", size: int = 64, image_size: int = 32, seed: int = 0):
        if split not in ("train", "test"):
            raise SplitNotFound(f"stripes_pairs has no {split!r} split (train, test)")
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        self.size, self.image_size = size, image_size
        self.seed = seed * 2 + (split == "test")  # disjoint streams for the two splits

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        angle, freq, phase = (torch.rand(3, generator=g) * torch.tensor([math.pi, 0.6, 6.28]) + torch.tensor(
            [0.0, 0.2, 0.0])).tolist()
        n = self.image_size
        yy, xx = torch.meshgrid(torch.arange(n, dtype=torch.float32), torch.arange(n, dtype=torch.float32),
                                indexing="ij")
        wave = torch.sin(freq * (xx * math.cos(angle) + yy * math.sin(angle)) + phase)
        a = wave.expand(3, n, n).clone()
        blurred = F.avg_pool2d(wave[None, None], 3, stride=1, padding=1, count_include_pad=False)[0]
        tint = torch.tensor([1.0, 0.6, 0.2]).view(3, 1, 1)
        b = (blurred * tint).clamp(-1, 1)
        return {"A": a, "B": b}
