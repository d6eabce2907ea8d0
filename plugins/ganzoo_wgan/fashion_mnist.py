"""Fashion-MNIST from local IDX files (never downloaded): Debian's layout or torchvision's."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.errors import DataError, SplitNotFound

#: where Debian's dataset-fashion-mnist package installs the four .gz files
DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"
PREFIX = {"train": "train", "test": "t10k"}
IDX_UBYTE = 0x08  # IDX type code of unsigned bytes


def candidates(root: Path, split: str) -> list[Path]:
    """Image files that may hold ``split``: flat (Debian, Zalando's repo) or torchvision's FashionMNIST/raw."""
    name = f"{PREFIX[split]}-images-idx3-ubyte"
    folders = [root, root / "FashionMNIST" / "raw", root / "raw"]
    return [folder / (name + suffix) for folder in folders for suffix in ("", ".gz")]


def read_idx_images(path: Path) -> Tensor:
    """An IDX3 unsigned-byte file (gzipped or plain) as a uint8 tensor (N, H, W)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if len(data) < 16 or data[:2] != b"\0\0" or data[2] != IDX_UBYTE or data[3] != 3:
        raise DataError(f"{path} is not an IDX file of unsigned-byte images (bad header)")
    n, h, w = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    if len(data) != 16 + n * h * w:
        raise DataError(f"{path} is truncated: header says {n} images of {h}x{w}, file has {len(data) - 16} bytes")
    return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(n, h, w)


class FashionMNIST(Dataset):
    """Fashion-MNIST images (28x28 grayscale): as they are at ``image_size: 28``, else padded to 32 and resized.

    ``root`` holds ``train-images-idx3-ubyte`` / ``t10k-images-idx3-ubyte`` (``.gz`` or plain): directly (the
    Debian package ``dataset-fashion-mnist`` installs them in /usr/share/datasets/fashion-mnist) or in
    torchvision's ``ROOT/FashionMNIST/raw``. ``channels: 3`` repeats the gray channel for RGB networks.
    ``image_size: 28`` keeps the original pixels (the protocol of the published FIDs, Lucic et al. 2018); other
    sizes suit power-of-two networks: a 2-pixel black border makes 32, which is then resized if needed.
    """

    keys = ("x",)
    random_items = False  # items are the files' pixels: real features are cached once for every seed

    def __init__(self, *, split: str = "train", root: str = DEFAULT_ROOT, image_size: int = 32,
                 channels: Literal[1, 3] = 1):
        if split not in PREFIX:
            raise SplitNotFound(f"fashion_mnist has the splits train and test, not {split!r}")
        if image_size < 8:
            raise ValueError(f"image_size must be >= 8, got {image_size}")
        root_path = Path(root)
        found = next((p for p in candidates(root_path, split) if p.is_file()), None)
        if found is None:
            raise DataError(
                f"no Fashion-MNIST {split} images in {root_path}: expected {PREFIX[split]}-images-idx3-ubyte[.gz] "
                f"in it or in {root_path / 'FashionMNIST' / 'raw'}",
                hint="on Debian/Ubuntu: apt install dataset-fashion-mnist (installs them in "
                     f"{DEFAULT_ROOT}); or set data.root to a folder holding the IDX files",
            )
        self.path = found
        self.images = read_idx_images(found)
        self.image_size, self.channels = image_size, channels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        x = self.images[index].float().div(127.5).sub(1.0)[None]  # (1, 28, 28) in [-1, 1]
        if x.shape[-1] == self.image_size:
            return {"x": x.expand(self.channels, -1, -1).contiguous()}
        pad = max(0, 32 - x.shape[-1]) // 2
        x = F.pad(x, (pad, pad, pad, pad), value=-1.0)  # black border, like the images' own background
        if x.shape[-1] != self.image_size:
            x = F.interpolate(x[None], size=(self.image_size, self.image_size), mode="bilinear",
                              antialias=True, align_corners=False)[0].clamp(-1, 1)
        return {"x": x.expand(self.channels, -1, -1).contiguous()}
