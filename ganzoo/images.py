"""Image files for dataset plugins and the CLI: listing, safe decoding, and transforms shared by paired images."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Literal, Sequence, TypeVar

import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from .errors import DataError, UnreadableImage

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".gif"}
Preprocess = Literal["resize_and_crop", "crop", "resize", "none"]

# Guard against decompression bombs in downloaded datasets: refuse images over ~180 megapixels.
Image.MAX_IMAGE_PIXELS = 180_000_000


def list_images(root: Path, recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by suffix), sorted; hidden files skipped."""
    root = Path(root)
    pattern = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in pattern if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not p.name.startswith("."))


def require_dir(path: Path, layout: str) -> Path:
    """``path`` if it is a directory; otherwise a DataError naming it and the layout expected."""
    path = Path(path)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise DataError(f"{path} {what}", hint=f"expected layout: {layout}")
    return path


def open_image(path: Path, mode: str = "RGB") -> Image.Image:
    """Decode an image fully (so truncated files fail here), converted to ``mode`` ("RGB" or "L").

    Any bit depth and colour model Pillow reads comes out at 8 bits per channel over its full range: 16-bit
    images are scaled (not clipped at 255), see :func:`to_8bit`; transparency is composited over white;
    palette, 1-bit, CMYK and YCbCr images are converted to ``mode``.
    """
    try:
        with Image.open(path) as img:
            img.load()
            return flatten_alpha(to_8bit(img)).convert(mode)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        raise UnreadableImage(Path(path), str(exc) or type(exc).__name__) from None


def to_8bit(img: Image.Image) -> Image.Image:
    """A single-channel image of more than 8 bits as 8-bit grayscale ("L"), scaled from the range of its format.

    16-bit (``I;16*``, and PNG's 16-bit grayscale): 0..65535. 32-bit integer (``I``, TIFF): the full range of the
    stored bit depth, 0..2^bits - 1 (signed: 0..2^(bits-1) - 1, negatives at 0). 32-bit float (``F``): 0..1,
    values outside clipped. Pillow's own ``convert`` would clip all of these at 255 (a 16-bit ramp turns white).
    Other modes are returned unchanged.
    """
    if not (img.mode.startswith("I") or img.mode == "F"):
        return img
    import numpy as np

    values = np.asarray(img).astype(np.float64)
    if img.mode == "F":
        top = 1.0
    elif img.mode.startswith("I;16") or img.format == "PNG":
        top = 65535.0
    else:
        tags = getattr(img, "tag_v2", {})
        bits = (tags.get(258) or (32,))[0] if hasattr(tags, "get") else 32
        signed = hasattr(tags, "get") and (tags.get(339) or (1,))[0] == 2
        top = float(2 ** (bits - 1 if signed else bits) - 1)
    scaled = np.clip(np.nan_to_num(values / top), 0.0, 1.0) * 255.0
    return Image.fromarray(np.round(scaled).astype(np.uint8))


def flatten_alpha(img: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """An image with transparency (RGBA, LA, PA, or a palette/RGB/L image with a transparent colour) composited
    over ``background`` (white), as viewers show it; images without transparency are returned unchanged."""
    if img.mode not in ("RGBA", "LA", "PA", "RGBa", "La") and "transparency" not in img.info:
        return img
    rgba = img.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (*background, 255)), rgba).convert("RGB")


def readable(path: Path, decode: bool = False) -> str | None:
    """None if the image reads; otherwise the reason. Cheap by default (the header only); ``decode`` reads the
    pixels too, which is what finds a truncated file."""
    try:
        with Image.open(path) as img:
            if decode:
                img.load()
            else:
                img.size  # noqa: B018 - forces the header
        return None
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError) as exc:
        return str(exc) or type(exc).__name__


def screen(paths: Sequence[Path], strict: bool) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Split ``paths`` into readable ones and (path, reason) for the rest.

    ``strict`` makes any bad file an error, here and now: it decodes every image fully, so that a truncated file
    stops the run before training rather than in the middle of it. Otherwise only headers are read, and a file
    that fails to decode later is replaced (see :func:`first_decodable`).
    """
    good, bad = [], []
    for p in paths:
        reason = readable(p, decode=strict)
        if reason is None:
            good.append(p)
        elif strict:
            raise UnreadableImage(p, reason)
        else:
            bad.append((p, reason))
    return good, bad


T = TypeVar("T")

#: how many consecutive items may fail to decode before a dataset gives up
MAX_REPLACEMENTS = 16


def first_decodable(index: int, count: int, decode: Callable[[int], T], *, strict: bool,
                    skipped: list[tuple[Path, str]], what: str = "image") -> T:
    """``decode(index)``, or, when that raises :class:`UnreadableImage` (a file whose header reads but whose
    pixels do not), the next item that decodes: the unreadable file is added to ``skipped`` and reported with a
    ``RuntimeWarning``. ``strict`` re-raises instead. Gives up after ``MAX_REPLACEMENTS`` failures in a row.
    """
    for attempt in range(min(count, MAX_REPLACEMENTS)):
        try:
            return decode((index + attempt) % count)
        except UnreadableImage as exc:
            if strict:
                raise
            skipped.append((exc.path, exc.message))
            warnings.warn(f"{exc.message}; using the next {what} instead ({len(skipped)} skipped so far by this "
                          "process)", RuntimeWarning, stacklevel=2)
    raise DataError(f"{min(count, MAX_REPLACEMENTS)} consecutive {what}s from index {index} could not be decoded",
                    hint="check the dataset files, or set data.strict: true to stop at the first bad one")


def to_tensor(img: Image.Image) -> Tensor:
    """PIL image -> float CHW tensor in [-1, 1]."""
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    t = t.view(img.size[1], img.size[0], len(img.getbands())).permute(2, 0, 1)
    return t.float().div_(127.5).sub_(1.0)


def from_tensor(t: Tensor) -> Image.Image:
    """CHW tensor in [-1, 1] -> PIL image."""
    arr = ((t.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    arr = arr[0] if arr.shape[0] == 1 else arr.permute(1, 2, 0)
    return Image.fromarray(arr.numpy())


@dataclass(frozen=True)
class PairedTransform:
    """Resize -> crop -> flip applied identically to every image of a sample, then scaled to [-1, 1].

    Training: resize to ``load_size``, random ``crop_size`` crop, random horizontal flip (pix2pix/CycleGAN).
    Evaluation (``train=False``): resized straight to ``crop_size`` (or centre-cropped for ``crop``), no flip.
    Randomness comes from torch's global RNG, which the engine seeds per sample.
    """

    load_size: int = 286
    crop_size: int = 256
    preprocess: Preprocess = "resize_and_crop"
    flip: bool = True
    train: bool = True

    def __post_init__(self) -> None:
        if self.preprocess == "resize_and_crop" and self.crop_size > self.load_size:
            raise ValueError(f"crop_size {self.crop_size} is larger than load_size {self.load_size}")

    def _resize(self, img: Image.Image, size: int) -> Image.Image:
        return img if img.size == (size, size) else img.resize((size, size), Image.BICUBIC)

    def __call__(self, *images: Image.Image) -> list[Tensor]:
        p, size = self.preprocess, self.crop_size
        if p == "resize_and_crop":
            images = tuple(self._resize(im, self.load_size if self.train else size) for im in images)
        elif p == "resize":
            images = tuple(self._resize(im, size) for im in images)
        tensors = [to_tensor(im) for im in images]
        if p in ("resize_and_crop", "crop"):
            h, w = tensors[0].shape[-2:]
            if h < size or w < size:
                raise DataError(f"image of {w}x{h} is smaller than crop_size {size}",
                                hint="use preprocess: resize_and_crop or a smaller crop_size")
            if self.train:
                top = int(torch.randint(0, h - size + 1, ()))
                left = int(torch.randint(0, w - size + 1, ()))
            else:
                top, left = (h - size) // 2, (w - size) // 2
            tensors = [t[:, top:top + size, left:left + size] for t in tensors]
        if self.train and self.flip and bool(torch.rand(()) < 0.5):
            tensors = [t.flip(-1) for t in tensors]
        return [t.contiguous() for t in tensors]


def describe_skipped(bad: Iterable[tuple[Path, str]]) -> str:
    """``skipped N unreadable image(s) (a.png: reason; ...)`` for logs."""
    bad = list(bad)
    examples = "; ".join(f"{p.name}: {r}" for p, r in bad[:3])
    return f"skipped {len(bad)} unreadable image(s) ({examples}{'; ...' if len(bad) > 3 else ''})"
