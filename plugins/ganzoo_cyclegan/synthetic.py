"""``shapes2stripes``: an embedded unpaired dataset whose hidden ground-truth mapping is known.

Domain A: a few shapes (ellipses, boxes, triangles) with plain fills on a sky-and-grass background. Domain B: the same
kind of scenes with every shape's fill broken by zebra-like dark stripes, anchored to the shape so that they
follow it under cropping and flipping: wavy horizontal stripes on ellipses, vertical bars on boxes, chevrons on
triangles. Every scene is drawn from its own seed, so for any A image the dataset renders its true B counterpart
(same scene, striped) and for any B image its true A (same scene, plain): translation quality can be measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.data import sample_seed
from ganzoo.errors import SplitNotFound
from ganzoo.images import PairedTransform, Preprocess, from_tensor

ELLIPSE, BOX, TRIANGLE = 0, 1, 2
STRIPE_PERIOD = 1 / 12  # in image widths: 21 px at 256, 5 px at 64
WAVE_PERIOD = 1 / 5
DARK = -0.85
# Backgrounds keep close to one palette, like horse2zebra's sky and grass: an instance-normalised generator cannot
# see an image's mean colour (it is invariant to adding a constant colour), so it must be able to infer it.
SKY, GROUND, JITTER = (-0.35, 0.05, 0.6), (-0.15, 0.25, -0.45), 0.1
SPLITS = {"train": 0, "test": 1}
DOMAINS = {"A": 0, "B": 1}


@dataclass(frozen=True)
class Shape:
    kind: int
    cx: float
    cy: float
    r: float
    aspect: float
    colour: tuple[float, float, float]


@dataclass(frozen=True)
class Scene:
    sky: tuple[float, float, float]
    ground: tuple[float, float, float]
    horizon: float
    shapes: tuple[Shape, ...]


def make_scene(g: torch.Generator, max_shapes: int) -> Scene:
    """Sky, ground, horizon and 1..max_shapes shapes, in coordinates relative to the image side."""
    def u(lo: float, hi: float, n: int = 1) -> list[float]:
        return (torch.rand(n, generator=g) * (hi - lo) + lo).tolist()

    sky = [c + d for c, d in zip(SKY, u(-JITTER, JITTER, 3))]
    ground = [c + d for c, d in zip(GROUND, u(-JITTER, JITTER, 3))]
    horizon = u(0.4, 0.65)[0]
    shapes = []
    for _ in range(int(torch.randint(1, max_shapes + 1, (), generator=g))):
        colour = torch.rand(3, generator=g) * 1.2 - 0.2
        colour = colour + max(0.0, 0.5 - float(colour.max()))  # keep fills well apart from the dark stripes
        kind = int(torch.randint(0, 3, (), generator=g))
        cx, cy, r, aspect = u(0.2, 0.8) + u(0.2, 0.8) + u(0.12, 0.25) + u(0.7, 1.4)
        shapes.append(Shape(kind, cx, cy, r, aspect, tuple(colour.clamp(-1, 1).tolist())))
    return Scene(tuple(sky), tuple(ground), horizon, tuple(shapes))


def _coverage(shape: Shape, x: Tensor, y: Tensor, size: int) -> Tensor:
    """Anti-aliased inside mask in [0, 1] from an approximate signed distance (in pixels)."""
    dx, dy = x - shape.cx, y - shape.cy
    if shape.kind == ELLIPSE:
        a, b = shape.r * shape.aspect, shape.r / shape.aspect
        dist = (torch.sqrt((dx / a) ** 2 + (dy / b) ** 2) - 1) * min(a, b)
    elif shape.kind == BOX:
        dist = torch.maximum(dx.abs() - shape.r * shape.aspect, dy.abs() - shape.r / shape.aspect)
    else:  # upright isosceles triangle, symmetric about its vertical axis
        r = shape.r  # apex (0, -r), base corners (+-r, 0.8 r): sides along (1, 1.8)
        side = (1.8 * dx.abs() - (dy + r)) / math.hypot(1.8, 1.0)
        dist = torch.maximum(side, dy - 0.8 * r)
    return (0.5 - dist * size).clamp(0, 1)


def _stripes(shape: Shape, x: Tensor, y: Tensor, size: int) -> Tensor:
    """Dark-stripe mask in [0, 1], symmetric about the shape's vertical axis (so flips commute with it)."""
    dx, dy = x - shape.cx, y - shape.cy
    if shape.kind == ELLIPSE:
        u = dy + 0.35 * STRIPE_PERIOD * torch.cos(2 * math.pi * dx / WAVE_PERIOD)
    elif shape.kind == BOX:
        u = dx
    else:
        u = dy - 0.8 * dx.abs()
    sharp = STRIPE_PERIOD * size / (2 * math.pi)  # about one pixel of anti-aliasing
    return (0.5 + sharp * torch.cos(2 * math.pi * u / STRIPE_PERIOD)).clamp(0, 1)


def render(scene: Scene, size: int, striped: bool) -> Tensor:
    """The scene as a (3, size, size) image in [-1, 1], plain (domain A) or striped (domain B)."""
    t = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y, x = torch.meshgrid(t, t, indexing="ij")
    sky, ground = torch.tensor(scene.sky).view(3, 1, 1), torch.tensor(scene.ground).view(3, 1, 1)
    sky = sky + 0.3 * (y / scene.horizon).clamp(max=1)  # paler towards the horizon
    below = (0.5 + (y - scene.horizon) * size).clamp(0, 1)
    image = sky * (1 - below) + ground * below
    for shape in scene.shapes:
        fill = torch.tensor(shape.colour).view(3, 1, 1).expand(3, size, size)
        if striped:
            dark = _stripes(shape, x, y, size)
            fill = fill * (1 - dark) + DARK * dark
        inside = _coverage(shape, x, y, size)
        image = image * (1 - inside) + fill * inside
    return image.clamp(-1, 1)


class ShapesStripes(Dataset):
    """Embedded unpaired dataset: plain shapes (A) <-> zebra-striped shapes (B), with a hidden true mapping.

    Procedural and deterministic: scene ``i`` of a domain and split is drawn from its own seed (no files).
    Train items pair A scene ``i`` with a random B scene (torch RNG, or scene ``i`` with ``serial: true``), each
    resized to ``load_size``, randomly cropped to ``crop_size`` and flipped on its own; test items are resized
    to ``crop_size`` and also carry the ground truth: ``A_true_B`` (A's scene striped) and ``B_true_A``.
    ``paired: true`` yields A and its true B as ``A``/``B`` (one crop and flip for both), e.g. for pix2pix.
    ``load_size`` and ``crop_size`` default to 286/256 of ``image_size`` and to ``image_size``; ``size`` (scenes
    per domain) to 1000 for train and 50 for test.
    """

    def __init__(
        self,
        *,
        split: str = "train",
        image_size: int = 256,
        load_size: int | None = None,
        crop_size: int | None = None,
        preprocess: Preprocess = "resize_and_crop",
        flip: bool = True,
        size: int | None = None,
        max_shapes: int = 3,
        paired: bool = False,
        serial: bool = False,
        seed: int = 0,
    ):
        if split not in SPLITS:
            raise SplitNotFound(f"shapes2stripes has no {split!r} split", hint="splits: train, test")
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        if max_shapes < 1:
            raise ValueError(f"max_shapes must be >= 1, got {max_shapes}")
        self.size = (1000 if split == "train" else 50) if size is None else size
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")
        self.split, self.image_size, self.max_shapes = split, image_size, max_shapes
        self.paired, self.serial, self.seed = paired, serial or split != "train", seed
        self.transform = PairedTransform(
            load_size=load_size if load_size is not None else round(image_size * 286 / 256),
            crop_size=crop_size if crop_size is not None else image_size,
            preprocess=preprocess, flip=flip, train=split == "train",
        )
        with_truth = split == "test" and not paired
        self.keys = ("A", "B", "A_true_B", "B_true_A") if with_truth else ("A", "B")

    def __len__(self) -> int:
        return self.size

    def scene(self, domain: str, index: int) -> Scene:
        """Scene ``index`` of a domain ("A" or "B") in this split: the same every time."""
        stream = (self.seed * len(SPLITS) + SPLITS[self.split]) * len(DOMAINS) + DOMAINS[domain]
        g = torch.Generator().manual_seed(sample_seed(stream, 0, index))
        return make_scene(g, self.max_shapes)

    def _images(self, scene: Scene, *styles: bool) -> list[Tensor]:
        """The scene in each style (True = striped), through one shared transform (same crop and flip)."""
        return self.transform(*(from_tensor(render(scene, self.image_size, s)) for s in styles))

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        scene_a = self.scene("A", index)
        if self.paired:
            a, b = self._images(scene_a, False, True)
            return {"A": a, "B": b}
        j = index if self.serial else int(torch.randint(0, self.size, ()))
        scene_b = self.scene("B", j)
        if "A_true_B" in self.keys:
            a, a_true_b = self._images(scene_a, False, True)
            b, b_true_a = self._images(scene_b, True, False)
            return {"A": a, "B": b, "A_true_B": a_true_b, "B_true_A": b_true_a}
        (a,), (b,) = self._images(scene_a, False), self._images(scene_b, True)
        return {"A": a, "B": b}
