"""Unconditional images from a folder tree."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.errors import DataError, SplitNotFound
from ganzoo.images import IMAGE_SUFFIXES, first_decodable, list_images, open_image, require_dir, screen, to_tensor

LAYOUT = "ROOT/**/*.png|jpg|... (any folder tree of images; all of it is the train split)"


def resize_center_crop(img: Image.Image, size: int) -> Image.Image:
    """Scale the shorter side to ``size`` (keeping the aspect ratio), then crop the centre square."""
    w, h = img.size
    scale = size / min(w, h)
    if (w, h) != (size, size):
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BICUBIC)
    w, h = img.size
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


class ImageFolder(Dataset):
    """Every readable image under ``root`` (recursively), resized and centre-cropped to ``image_size``.

    ``channels`` 3 = RGB, 1 = grayscale. Unreadable files are skipped and reported: headers are screened up front,
    and a file that only fails to decode (a truncated download) is replaced by the next image with a warning.
    ``strict: true`` decodes every file up front and makes any bad one an error. There is one split, ``train``.
    """

    keys = ("x",)

    def __init__(self, *, split: str = "train", root: str = "datasets/images", image_size: int = 64,
                 channels: Literal[1, 3] = 3, strict: bool = False):
        if split != "train":
            raise SplitNotFound(f"image_folder has only a train split, not {split!r}")
        if image_size < 1:
            raise ValueError(f"image_size must be >= 1, got {image_size}")
        folder = require_dir(Path(root), LAYOUT)
        found = list_images(folder)
        self.paths, self.skipped = screen(found, strict)
        if not self.paths:
            what = f"no readable images ({len(self.skipped)} unreadable)" if self.skipped else "no images"
            raise DataError(f"{what} in {folder}",
                            hint=f"expected layout: {LAYOUT}; suffixes: {', '.join(sorted(IMAGE_SUFFIXES))}")
        self.image_size, self.mode, self.strict = image_size, "L" if channels == 1 else "RGB", strict

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        img = first_decodable(index, len(self.paths), lambda i: open_image(self.paths[i], self.mode),
                              strict=self.strict, skipped=self.skipped)
        return {"x": to_tensor(resize_center_crop(img, self.image_size))}
