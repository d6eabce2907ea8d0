"""Paired image datasets read from folders: the pix2pix releases' side-by-side layout, and two matched folders."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset

from ganzoo.errors import DataError, SplitNotFound
from ganzoo.images import (PairedTransform, Preprocess, describe_skipped, first_decodable, list_images, open_image,
                           require_dir, screen)

ALIGNED_LAYOUT = "ROOT/train/, ROOT/val/, ROOT/test/ holding images with A and B side by side (A|B), as in the " \
                 "pix2pix facades/maps/edges2shoes releases"
PAIRED_LAYOUT = "ROOT/A/<split>/ and ROOT/B/<split>/ (split: train, val, test) with matching file names, " \
                "e.g. ROOT/A/train/1.jpg and ROOT/B/train/1.png"


def _split_dir(path: Path, split: str, layout: str, root: Path | None = None) -> Path:
    """``path`` if it is a folder; SplitNotFound (optional for test/val, an error for train) otherwise."""
    if not path.is_dir():
        guess = _other_layout(root, layout) if root is not None else None
        raise SplitNotFound(f"no {split} split: {path} does not exist" + (f"; {guess}" if guess else ""),
                            hint=f"expected layout: {layout}")
    return path


def _other_layout(root: Path, layout: str) -> str | None:
    """What ``root`` looks like when it does not have this dataset's layout (a common mix-up), else None."""
    if any((root / f"{s}A").is_dir() for s in ("train", "test")):
        return (f"{root} holds trainA/ trainB/: this looks like unaligned_folder's layout (unpaired domains, "
                f"for recipes/cyclegan.yaml)")
    if layout == ALIGNED_LAYOUT and (root / "A").is_dir() and (root / "B").is_dir():
        return f"{root} holds A/ and B/: this looks like paired_folders' layout (data.name: paired_folders)"
    if layout == PAIRED_LAYOUT and (root / "train").is_dir():
        return f"{root} holds train/: this looks like aligned_folder's layout (data.name: aligned_folder)"
    return None


def _images(folder: Path, layout: str) -> list[Path]:
    found = list_images(folder)
    if not found:
        raise DataError(f"no images in {folder}", hint=f"expected layout: {layout}")
    return found


class _PairedImages(Dataset):
    """Shared loading: decode a pair, transform both identically; an undecodable file is replaced by the next.

    Headers are screened up front (``skipped`` lists what was left out). A file whose header reads but whose
    pixels do not (a truncated download) is only found when loaded: it is then replaced by the next pair and
    reported with a warning rather than stopping the epoch. ``strict`` decodes every file up front instead and
    makes any bad one an error before training starts.
    """

    keys = ("A", "B")

    def __init__(self, split: str, load_size: int, crop_size: int, preprocess: Preprocess, flip: bool,
                 grayscale: bool, strict: bool):
        self.transform = PairedTransform(load_size, crop_size, preprocess, flip, train=split == "train")
        self.mode = "L" if grayscale else "RGB"
        self.strict = strict
        self.skipped: list[tuple[Path, str]] = []

    #: the files of each item: one side-by-side image, or an (A, B) pair of files
    items: list[tuple[Path, ...]]

    def __len__(self) -> int:
        return len(self.items)

    def pair(self, images: list[Image.Image]) -> tuple[Image.Image, Image.Image]:
        """(A, B) from the decoded files of one item."""
        return images[0], images[1]

    def _decode(self, index: int) -> list[Image.Image]:
        return [open_image(path, self.mode) for path in self.items[index]]

    def __getitem__(self, index: int) -> dict[str, Tensor]:
        images = first_decodable(index, len(self), self._decode, strict=self.strict, skipped=self.skipped, what="pair")
        a, b = self.transform(*self.pair(images))
        return {"A": a, "B": b}


class AlignedFolder(_PairedImages):
    """Paired images stored side by side (A|B) in ROOT/<split>/: the pix2pix releases' layout (facades, maps, ...).

    Each image is cut down the middle: the left half is A, the right half B (so its width must be even).
    ``preprocess``: resize_and_crop (to load_size, random crop_size crop), crop, resize (to crop_size), none.
    """

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
        strict: bool = False,
    ):
        super().__init__(split, load_size, crop_size, preprocess, flip, grayscale, strict)
        base = require_dir(Path(root), ALIGNED_LAYOUT)
        folder = _split_dir(base / split, split, ALIGNED_LAYOUT, base)
        good, self.skipped = screen(_images(folder, ALIGNED_LAYOUT), strict)
        if not good:
            raise DataError(f"no readable images in {folder}: {describe_skipped(self.skipped)}")
        odd = [(p, w) for p in good if (w := _width(p)) % 2]
        if odd:
            examples = ", ".join(f"{p.name} ({w} px)" for p, w in odd[:3])
            raise DataError(f"{len(odd)} image(s) in {folder} have an odd width, so they cannot hold A and B "
                            f"side by side: {examples}{', ...' if len(odd) > 3 else ''}",
                            hint=f"expected layout: {ALIGNED_LAYOUT}; for separate A and B files use paired_folders")
        self.items = [(p,) for p in good]
        self.key_descriptions = {"A": "left half", "B": "right half"}

    def pair(self, images: list[Image.Image]) -> tuple[Image.Image, Image.Image]:
        (image,) = images
        w, h = image.size
        return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))


def _width(path: Path) -> int:
    with Image.open(path) as img:  # header only
        return img.size[0]


class PairedFolders(_PairedImages):
    """Paired images in two folders, ROOT/A/<split>/ and ROOT/B/<split>/, matched by file name.

    Names match without their suffix (labels may be .png, photos .jpg) and may sit in sub-folders; a name found
    on one side only is an error that lists some of them.
    """

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
        strict: bool = False,
    ):
        super().__init__(split, load_size, crop_size, preprocess, flip, grayscale, strict)
        base = require_dir(Path(root), PAIRED_LAYOUT)
        for side in ("A", "B"):
            if not (base / side).is_dir() and (guess := _other_layout(base, PAIRED_LAYOUT)):
                raise DataError(f"{base / side} does not exist; {guess}", hint=f"expected layout: {PAIRED_LAYOUT}")
            require_dir(base / side, PAIRED_LAYOUT)
        sides = {s: _by_name(_images(_split_dir(base / s / split, split, PAIRED_LAYOUT), PAIRED_LAYOUT),
                             base / s / split) for s in ("A", "B")}
        only = {s: sorted(set(sides[s]) - set(sides[o])) for s, o in (("A", "B"), ("B", "A"))}
        if only["A"] or only["B"]:
            parts = [f"{len(v)} only in {base / s / split} ({', '.join(v[:3])}{', ...' if len(v) > 3 else ''})"
                     for s, v in only.items() if v]
            raise DataError(f"unpaired images: {'; '.join(parts)}", hint=f"expected layout: {PAIRED_LAYOUT}")
        names = sorted(sides["A"])
        good_a, bad_a = screen([sides["A"][n] for n in names], strict)
        good_b, bad_b = screen([sides["B"][n] for n in names], strict)
        good = set(good_a + good_b)
        self.items = [(sides["A"][n], sides["B"][n]) for n in names
                      if sides["A"][n] in good and sides["B"][n] in good]
        self.skipped = bad_a + bad_b
        if not self.items:
            raise DataError(f"no readable pairs under {base}: {describe_skipped(self.skipped)}")
        self.key_descriptions = {"A": f"{base / 'A'}/", "B": f"{base / 'B'}/"}

    def pair(self, images: list[Image.Image]) -> tuple[Image.Image, Image.Image]:
        a, b = images
        # B at A's size, so that crop-only preprocessing cuts the same region from both
        return a, (b if b.size == a.size else b.resize(a.size, Image.BICUBIC))


def _by_name(paths: list[Path], folder: Path) -> dict[str, Path]:
    """Relative path without suffix -> file; two files with one name (a.png, a.jpg) are ambiguous."""
    named: dict[str, Path] = {}
    for p in paths:
        key = p.relative_to(folder).with_suffix("").as_posix()
        if key in named:
            raise DataError(f"{named[key]} and {p} have the same name: which one pairs with the other side?",
                            hint="keep one file per name")
        named[key] = p
    return named
