"""``unaligned_folder``: two folders of unpaired images in the horse2zebra layout."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.errors import DataError, SplitNotFound
from ganzoo.images import (PairedTransform, Preprocess, describe_skipped, first_decodable, list_images, open_image,
                           require_dir, screen)

LAYOUT = "ROOT/trainA/, ROOT/trainB/ (and optionally testA/, testB/), image files in each (horse2zebra layout)"


class UnalignedFolder(Dataset):
    """Unpaired images from ROOT/<split>A/ and ROOT/<split>B/ (the horse2zebra layout).

    Item ``i`` is A image ``i`` (cycling when B has more) with a B image drawn at random each time (torch RNG)
    or B image ``i`` with ``serial: true`` (always so for evaluation splits). Each image gets its own resize to
    ``load_size`` -> random ``crop_size`` crop -> random flip, as in pix2pix. Length: the larger domain.
    Unreadable files are skipped (listed in ``skipped``), or an error with ``strict: true``.
    """

    keys = ("A", "B")

    def __init__(
        self,
        *,
        split: str = "train",
        root: str,
        load_size: int = 286,
        crop_size: int = 256,
        preprocess: Preprocess = "resize_and_crop",
        flip: bool = True,
        grayscale: bool = False,
        serial: bool = False,
        strict: bool = False,
    ):
        base = require_dir(Path(root).expanduser(), LAYOUT)
        if not (base / "trainA").is_dir() and (base / "train").is_dir():
            raise DataError(f"{base} has train/ but no trainA/: this looks like aligned_folder's layout (A|B "
                            f"pairs side by side, for recipes/pix2pix.yaml)", hint=f"expected layout: {LAYOUT}")
        if split != "train" and not (base / f"{split}A").is_dir() and not (base / f"{split}B").is_dir():
            raise SplitNotFound(f"{base} has no {split}A/ or {split}B/", hint=f"expected layout: {LAYOUT}")
        self.skipped: list[tuple[Path, str]] = []
        self.files = {domain: self._domain(base / f"{split}{domain}", strict) for domain in ("A", "B")}
        self.mode = "L" if grayscale else "RGB"
        self.serial, self.strict = serial or split != "train", strict
        self.transform = PairedTransform(load_size, crop_size, preprocess, flip, train=split == "train")

    def _domain(self, folder: Path, strict: bool) -> list[Path]:
        require_dir(folder, LAYOUT)
        found = list_images(folder)
        if not found:
            raise DataError(f"no images in {folder}", hint=f"expected layout: {LAYOUT}")
        good, bad = screen(found, strict)
        self.skipped += bad
        if not good:
            raise DataError(f"no readable images in {folder}: {describe_skipped(bad)}")
        return good

    def __len__(self) -> int:
        return max(len(self.files["A"]), len(self.files["B"]))

    def _load(self, domain: str, index: int) -> Tensor:
        """Image ``index`` of a domain; a file that fails to decode (truncated, ...) gives way to the next one."""
        files = self.files[domain]
        image = first_decodable(index, len(files), lambda i: open_image(files[i], self.mode), strict=self.strict,
                                skipped=self.skipped)
        return self.transform(image)[0]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        n_b = len(self.files["B"])
        j = index % n_b if self.serial else int(torch.randint(0, n_b, ()))
        return {"A": self._load("A", index % len(self.files["A"])), "B": self._load("B", j)}
