"""An embedded synthetic image dataset: colourful shapes drawn on the fly, so image recipes run offline."""

from __future__ import annotations

from typing import Literal

import torch
from PIL import Image, ImageDraw
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.data import sample_seed
from ganzoo.errors import SplitNotFound
from ganzoo.images import to_tensor

KINDS = ("circle", "square", "triangle")
SUPERSAMPLE = 2  # drawn at twice the size and downscaled: smooth (antialiased) edges


def _colour(g: torch.Generator, low: int, high: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in torch.randint(low, high, (3,), generator=g))


class Shapes(Dataset):
    """Procedural images: 1 to ``max_shapes`` bright circles, squares or triangles on a dark background.

    Item ``i`` is drawn from a generator seeded by (``seed``, i): the same image every time, for any number of
    workers, with nothing stored on disk. A quick, offline stand-in for a real image folder.
    """

    keys = ("x",)

    def __init__(self, *, split: str = "train", size: int = 20_000, image_size: int = 64,
                 channels: Literal[1, 3] = 3, max_shapes: int = 2, seed: int = 0):
        if split != "train":
            raise SplitNotFound(f"shapes has only a train split, not {split!r}")
        if size < 1 or image_size < 8 or max_shapes < 1:
            raise ValueError(f"need size >= 1, image_size >= 8 and max_shapes >= 1 "
                             f"(got {size}, {image_size}, {max_shapes})")
        self.size, self.image_size, self.channels = size, image_size, channels
        self.max_shapes, self.seed = max_shapes, seed

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        g = torch.Generator().manual_seed(sample_seed(self.seed, 0, index))
        side = self.image_size * SUPERSAMPLE
        img = Image.new("RGB", (side, side), _colour(g, 0, 70))
        draw = ImageDraw.Draw(img)
        for _ in range(int(torch.randint(1, self.max_shapes + 1, (), generator=g))):
            kind = KINDS[int(torch.randint(len(KINDS), (), generator=g))]
            r = float(torch.empty(()).uniform_(0.12, 0.3, generator=g)) * side
            cx, cy = (float(v) * (side - 2 * r) + r for v in torch.rand(2, generator=g))
            fill = _colour(g, 90, 256)
            if kind == "circle":
                draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
            elif kind == "square":
                draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=fill)
            else:
                draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
        img = img.reduce(SUPERSAMPLE)  # box filter: smooth edges at a fraction of a resampling filter's cost
        if self.channels == 1:
            img = img.convert("L")
        return {"x": to_tensor(img)}
