"""facades_synthetic: procedural building facades, label map <-> rendering, generated per index (no files).

Each item is drawn from its own seed (dataset seed, split, index), so the dataset is identical everywhere and
its splits never share a building. The rendering is deliberately not a per-pixel colour lookup of the label
map: walls are bricks (with mortar) or stucco depending on whether the building has pillars, windows have
frames, mullions, recess shadows and a sky reflection graded over each window, protruding elements cast
shadows down and to the right, pillars are fluted and lit from the left, and light falls off across the
building. A generator has to learn shapes and context, not colours alone; some things (exact wall tint, the
sky's clouds) are random and can only be guessed.
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.errors import SplitNotFound
from ganzoo.images import PairedTransform, Preprocess

# label id -> (name, colour of the label map); the colours follow the spirit of the CMP facades palette
CLASSES = (
    ("background", (0, 0, 170)),
    ("wall", (0, 85, 255)),
    ("window", (0, 170, 255)),
    ("door", (170, 255, 85)),
    ("cornice", (255, 85, 0)),
    ("sill", (255, 170, 0)),
    ("balcony", (170, 0, 0)),
    ("shop", (255, 255, 0)),
    ("pillar", (85, 255, 170)),
    ("deco", (255, 0, 0)),
)
BACKGROUND, WALL, WINDOW, DOOR, CORNICE, SILL, BALCONY, SHOP, PILLAR, DECO = range(len(CLASSES))
PALETTE = torch.tensor([c for _, c in CLASSES], dtype=torch.uint8)
PROTRUDING = (CORNICE, SILL, BALCONY, DECO)  # elements that cast shadows on the wall
SPLITS = {"train": 400, "val": 100, "test": 106}  # the sizes of the CMP facades release


def _rgb(*c: float) -> Tensor:
    return torch.tensor(c, dtype=torch.float32).view(3, 1, 1)


class _Facade:
    """One building drawn into a label map (S, S) and an RGB rendering (3, S, S) in [0, 1]."""

    def __init__(self, size: int, rng: random.Random, gen: torch.Generator):
        self.s, self.rng, self.gen = size, rng, gen
        self.label = torch.full((size, size), BACKGROUND, dtype=torch.uint8)
        self._windows: dict[tuple[int, int], Tensor] = {}  # a building's windows share a few sizes
        ramp = torch.linspace(0, 1, size).view(1, size, 1)
        self.img = _rgb(0.42, 0.58, 0.86) * (1 - ramp) + _rgb(0.78, 0.84, 0.92) * ramp  # sky, paler at horizon
        self.img = self.img.expand(3, size, size) + 0.08 * self._smooth(4)  # clouds

    # Helpers -------------------------------------------------------------------------------------------------
    def _smooth(self, cells: int) -> Tensor:
        """Low-frequency noise in about [-1, 1] (a cells x cells grid, bilinearly upsampled)."""
        grid = torch.rand(1, 1, cells, cells, generator=self.gen) * 2 - 1
        return F.interpolate(grid, size=(self.s, self.s), mode="bilinear", align_corners=True)[0]

    def _px(self, fraction: float) -> int:
        return int(round(fraction * self.s))

    def fill(self, y0: int, y1: int, x0: int, x1: int, cls: int, colour: Tensor) -> tuple[int, int, int, int]:
        """Paint a clipped rectangle with a label and a colour (3, 1, 1) or texture (3, h, w); returns it clipped."""
        s = self.s
        y0, y1, x0, x1 = max(0, y0), min(s, y1), max(0, x0), min(s, x1)
        if y1 > y0 and x1 > x0:
            self.label[y0:y1, x0:x1] = cls
            solid = colour.shape[1:] == (1, 1)
            self.img[:, y0:y1, x0:x1] = colour if solid else colour[:, : y1 - y0, : x1 - x0]
        return y0, y1, x0, x1

    # Elements ------------------------------------------------------------------------------------------------
    def wall(self, y0: int, x0: int, x1: int, brick: bool, tint: Tensor) -> None:
        s, h = self.s, self.s - y0
        if brick:
            bh = max(2, s // 48)
            bw = bh * 5 // 2
            yy = torch.arange(h).view(h, 1)
            xx = torch.arange(x1 - x0).view(1, -1)
            row = yy // bh
            col = (xx + (row % 2) * (bw // 2)) // bw
            jitter = torch.rand(int(row.max()) + 1, int(col.max()) + 1, generator=self.gen)[row, col]
            mortar = ((yy % bh) == 0) | (((xx + (row % 2) * (bw // 2)) % bw) == 0)
            tex = tint * (0.85 + 0.3 * jitter)
            tex = torch.where(mortar, _rgb(0.72, 0.7, 0.66), tex)
        else:
            tex = tint * (1 + 0.06 * self._smooth(6)[:, y0:, x0:x1])
            tex = tex + 0.03 * (torch.rand(1, h, x1 - x0, generator=self.gen) - 0.5)
        self.fill(y0, s, x0, x1, WALL, tex)

    def window(self, y0: int, y1: int, x0: int, x1: int, frame: Tensor) -> None:
        """Recessed glass reflecting the sky (lighter at the top), a frame, a cross mullion, a shadow at the top."""
        h, w = y1 - y0, x1 - x0
        if h < 3 or w < 3:
            return
        if (h, w) not in self._windows:
            self._windows[h, w] = self._glass(h, w, frame)
        self.fill(y0, y1, x0, x1, WINDOW, self._windows[h, w])

    @staticmethod
    def _glass(h: int, w: int, frame: Tensor) -> Tensor:
        v = torch.linspace(0, 1, h).view(1, h, 1)
        glass = _rgb(0.5, 0.6, 0.7) * (1 - v) + _rgb(0.12, 0.15, 0.22) * v
        glass = glass.expand(3, h, w).clone()
        t = max(1, min(h, w) // 10)
        recess = max(1, h // 8)
        glass[:, t:t + recess, t:w - t] *= 0.55
        glass[:, :t] = frame
        glass[:, h - t:] = frame
        glass[:, :, :t] = frame
        glass[:, :, w - t:] = frame
        glass[:, :, w // 2 - t // 2: w // 2 - t // 2 + t] = frame
        glass[:, h * 2 // 5: h * 2 // 5 + t] = frame
        return glass

    def band(self, y0: int, y1: int, x0: int, x1: int, cls: int, stone: Tensor) -> None:
        """A horizontal stone element (cornice, sill, lintel): lit top edge, dentils under cornices."""
        h, w = y1 - y0, x1 - x0
        if h < 1 or w < 1:
            return
        tex = stone.expand(3, h, w).clone()
        tex[:, : max(1, h // 4)] *= 1.12
        if cls == CORNICE and h >= 4:
            period = max(3, h // 2)
            dentil = (torch.arange(w) % period) < period // 2
            tex[:, h // 2:, dentil] *= 0.75
        if cls == DECO and w >= 5:
            tex[:, :, w // 2 - w // 10: w // 2 + w // 10 + 1] *= 0.8  # keystone
        self.fill(y0, y1, x0, x1, cls, tex)

    def balcony(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """Iron railing in front of whatever is behind (darkened), a slab at the bottom."""
        y0, y1, x0, x1 = max(0, y0), min(self.s, y1), max(0, x0), min(self.s, x1)
        h, w = y1 - y0, x1 - x0
        if h < 3 or w < 3:
            return
        tex = self.img[:, y0:y1, x0:x1] * 0.5
        period = max(3, self.s // 64)
        bars = (torch.arange(w) % period) == 0
        tex[:, :, bars] = _rgb(0.08, 0.08, 0.1)
        tex[:, : max(1, h // 8)] = _rgb(0.08, 0.08, 0.1)
        tex[:, h - max(1, h // 6):] = _rgb(0.7, 0.68, 0.64)
        self.fill(y0, y1, x0, x1, BALCONY, tex)

    def door(self, y0: int, y1: int, x0: int, x1: int) -> None:
        h, w = y1 - y0, x1 - x0
        if h < 4 or w < 4:
            return
        grain = torch.sin(torch.arange(w, dtype=torch.float32) * 1.7).view(1, 1, w)
        tex = _rgb(0.36, 0.21, 0.11) * (1 + 0.12 * grain)
        tex = tex.expand(3, h, w).clone()
        m = max(1, w // 6)
        tex[:, m:h // 2 - m // 2, m:w - m] *= 0.75  # panels
        tex[:, h // 2 + m // 2:h - m, m:w - m] *= 0.75
        tex[:, h // 2: h // 2 + max(1, m // 2), w - 2 * m: w - m] = _rgb(0.9, 0.8, 0.4)  # handle
        self.fill(y0, y1, x0, x1, DOOR, tex)

    def shop(self, y0: int, y1: int, x0: int, x1: int) -> None:
        """A lit shop front: dark sign band above, warm interior behind mullions."""
        h, w = y1 - y0, x1 - x0
        if h < 6 or w < 6:
            return
        v = torch.linspace(0, 1, h).view(1, h, 1)
        tex = (_rgb(0.95, 0.82, 0.5) * (1 - v) + _rgb(0.55, 0.4, 0.25) * v).expand(3, h, w).clone()
        tex[:, : h // 5] = _rgb(0.16, 0.16, 0.2)
        period = max(6, w // 4)
        tex[:, h // 5:, (torch.arange(w) % period) < max(1, self.s // 128)] = _rgb(0.15, 0.15, 0.15)
        self.fill(y0, y1, x0, x1, SHOP, tex)

    def pillar(self, y0: int, y1: int, x0: int, x1: int, stone: Tensor) -> None:
        """A fluted pillar, lit from the left (brighter on its left half)."""
        w = x1 - x0
        if w < 2:
            return
        u = torch.linspace(0, 1, w)
        light = 1.15 - 0.35 * u + 0.08 * torch.cos(u * 6.283 * max(1, w // 4))
        self.fill(y0, y1, x0, x1, PILLAR, stone * light.view(1, 1, w))

    # Whole-image passes --------------------------------------------------------------------------------------
    def shade(self, left: int, right: int) -> None:
        """Light falling off to the right, cast shadows of protruding elements, sensor noise."""
        s = self.s
        building = self.label != BACKGROUND
        falloff = 1.0 - 0.22 * (torch.arange(s, dtype=torch.float32) - left) / max(1, right - left)
        self.img = torch.where(building, self.img * falloff.view(1, 1, s), self.img)
        protruding = torch.zeros(s, s, dtype=torch.bool)
        for cls in PROTRUDING:
            protruding |= self.label == cls
        shadow = torch.zeros_like(protruding)
        for k in range(1, max(2, s // 48) + 1):  # light from the upper left: shadows fall down and to the right
            dx = k // 2
            shadow[k:, dx:] |= protruding[:-k, : s - dx]
        shadow &= ~protruding & building
        self.img = torch.where(shadow, self.img * 0.6, self.img)
        self.img = self.img + 0.04 * (torch.rand(3, s, s, generator=self.gen) - 0.5)


def draw_facade(size: int, rng: random.Random, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """A random building: (label map (S, S) of class ids, rendering (3, S, S) in [0, 1])."""
    f, r = _Facade(size, rng, gen), rng
    px = f._px
    left = px(r.choice((0.0, 0.0, r.uniform(0.02, 0.12))))
    right = size - px(r.choice((0.0, 0.0, r.uniform(0.02, 0.12))))
    top = px(r.uniform(0.03, 0.18))
    pillars = r.random() < 0.4
    brick = not pillars  # the material follows from the labels: pillared buildings are stucco
    tint = (_rgb(0.55, 0.25, 0.18) if brick else _rgb(0.86, 0.8, 0.66)) * r.uniform(0.85, 1.1)
    tint = tint * _rgb(*(r.uniform(0.93, 1.07) for _ in range(3)))
    frame = _rgb(0.9, 0.9, 0.86) if brick else _rgb(0.3, 0.22, 0.15)
    stone = _rgb(0.82, 0.8, 0.74) * r.uniform(0.92, 1.05)
    f.wall(top, left, right, brick, tint)

    cornice_h = max(2, px(r.uniform(0.025, 0.045)))
    f.band(top, top + cornice_h, left, right, CORNICE, stone)
    pw = max(2, px(r.uniform(0.03, 0.05))) if pillars else 0
    inner_l, inner_r = left + pw, right - pw
    if pillars:
        f.pillar(top + cornice_h, size, left, inner_l, stone)
        f.pillar(top + cornice_h, size, inner_r, right, stone)

    body_top = top + cornice_h
    ground_h = int((size - body_top) * r.uniform(0.2, 0.28))
    ground_top = size - ground_h
    floors = r.randint(2, 5)
    floor_h = (ground_top - body_top) / floors
    cols = r.randint(2, 6)
    col_w = (inner_r - inner_l) / cols
    win_w, win_h = r.uniform(0.35, 0.6) * col_w, r.uniform(0.45, 0.68) * floor_h
    win_top = r.uniform(0.15, 0.3) * floor_h
    lintels, sills = r.random() < 0.5, r.random() < 0.7
    sill_h = max(1, size // 100)
    for fl in range(floors):
        y0 = int(body_top + fl * floor_h + win_top)
        y1 = int(y0 + win_h)
        railing = r.random() < 0.3
        for c in range(cols):
            cx = inner_l + (c + 0.5) * col_w
            x0, x1 = int(cx - win_w / 2), int(cx + win_w / 2)
            f.window(y0, y1, x0, x1, frame)
            if lintels:
                f.band(y0 - max(2, sill_h * 2), y0, x0 - sill_h, x1 + sill_h, DECO, stone)
            if railing:
                f.balcony(y1 - int(win_h * 0.35), y1 + sill_h, x0 - 2 * sill_h, x1 + 2 * sill_h)
            elif sills:
                f.band(y1, y1 + sill_h, x0 - sill_h, x1 + sill_h, SILL, stone)
    if r.random() < 0.6:  # string course between the ground floor and the rest
        f.band(ground_top - max(2, sill_h * 2), ground_top, left, right, CORNICE, stone)
    gy0 = ground_top + int(ground_h * 0.15)
    door_col = r.randrange(cols)
    shop = r.random() < 0.5
    if shop:
        f.shop(gy0, size - max(1, ground_h // 12), inner_l + int(col_w * 0.1), inner_l + int(col_w * door_col))
        f.shop(gy0, size - max(1, ground_h // 12), inner_l + int(col_w * (door_col + 1)), inner_r - int(col_w * 0.1))
    for c in range(cols):
        cx = inner_l + (c + 0.5) * col_w
        if c == door_col:
            dw = max(win_w, col_w * 0.5)
            f.door(gy0, size, int(cx - dw / 2), int(cx + dw / 2))
        elif not shop:
            f.window(gy0, gy0 + int(ground_h * 0.6), int(cx - win_w / 2), int(cx + win_w / 2), frame)
    f.shade(left, right)
    return f.label, f.img.clamp(0, 1)


def _to_pil(chw: Tensor) -> Image.Image:
    return Image.fromarray(chw.permute(1, 2, 0).contiguous().numpy())


class FacadesSynthetic(Dataset):
    """Procedural building facades (no files): A = rendered photo, B = label map, as in the CMP facades release.

    Translate labels to photos with ``model.direction: BtoA`` (the pix2pix facades setting). Splits train (400),
    val (100) and test (106) hold distinct buildings; items are generated on the fly at ``image_size`` px,
    deterministically from (``seed``, split, index), then go through the usual paired transform.
    """

    keys = ("A", "B")
    key_descriptions = {"A": "photo", "B": "label map"}

    def __init__(
        self,
        *,
        split: str = "train",
        seed: int = 0,
        image_size: int = 256,
        load_size: int = 286,
        crop_size: int = 256,
        preprocess: Preprocess = "resize_and_crop",
        flip: bool = True,
        grayscale: bool = False,
    ):
        if split not in SPLITS:
            raise SplitNotFound(f"facades_synthetic has no split {split!r}", hint=f"splits: {', '.join(SPLITS)}")
        if image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {image_size}")
        self.split, self.seed, self.image_size = split, seed, image_size
        self.mode = "L" if grayscale else "RGB"
        self.transform = PairedTransform(load_size, crop_size, preprocess, flip, train=split == "train")
        self.skipped: list = []  # nothing to skip: no files

    def __len__(self) -> int:
        return SPLITS[self.split]

    def draw(self, index: int) -> tuple[Tensor, Tensor]:
        """(rendering, label map) as uint8 (3, S, S) tensors, before any transform."""
        rng = random.Random(f"facades_synthetic/{self.seed}/{self.split}/{index}")
        gen = torch.Generator().manual_seed(rng.getrandbits(63))
        label, photo = draw_facade(self.image_size, rng, gen)
        return (photo * 255).round().to(torch.uint8), PALETTE[label.long()].permute(2, 0, 1)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        photo, labels = self.draw(index)
        a, b = (_to_pil(t).convert(self.mode) for t in (photo, labels))
        a, b = self.transform(a, b)
        return {"A": a, "B": b}
