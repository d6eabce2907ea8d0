"""Using a trained model: translate image files, draw samples (by class for conditional models)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from tqdm import tqdm

from .device import autocast
from .errors import DataError, GanzooError
from .images import IMAGE_SUFFIXES, from_tensor, list_images, open_image, to_tensor
from .flow import class_name
from .report import save_grid, save_labelled_rows, save_samples
from .trained import Trained, trained_dtype


@dataclass
class TranslateReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    paired: list[Path] = field(default_factory=list)  # inputs twice as wide as high: A|B pairs, probably


def collect_inputs(inputs: Iterable[Path]) -> list[tuple[Path, Path]]:
    """(image file, output path relative to --out) for every image in the given files and folders."""
    pairs: list[tuple[Path, Path]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = list_images(path)
            if not found:
                raise DataError(f"no images in {path}", hint=f"image suffixes: {', '.join(sorted(IMAGE_SUFFIXES))}")
            pairs += [(p, p.relative_to(path)) for p in found]
        elif path.is_file():
            pairs.append((path, Path(path.name)))
        else:
            raise DataError(f"input not found: {path}")
    seen: dict[Path, Path] = {}
    for src, rel in pairs:
        if rel in seen and seen[rel] != src:
            raise DataError(f"two inputs would write the same output {rel}: {seen[rel]} and {src}",
                            hint="translate them into separate --out directories")
        seen[rel] = src
    return pairs


def _batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def refuse_clobbering(inputs: Iterable[Path], pairs: list[tuple[Path, Path]], out: Path, overwrite: bool) -> None:
    """Stop before anything is written when outputs would land among the inputs or replace existing files."""
    out_abs = Path(out).resolve()
    for raw in inputs:
        folder = Path(raw).resolve()
        if folder.is_dir() and (out_abs == folder or folder in out_abs.parents):
            raise GanzooError(f"--out {out} is {'the' if out_abs == folder else 'inside the'} input folder {raw}: "
                              f"outputs would replace or mix with the inputs",
                              hint="choose an --out folder outside the inputs")
    sources = {src.resolve() for src, _ in pairs}
    targets = [Path(out) / rel for _, rel in pairs]
    inputs_hit = [t for t in targets if t.resolve() in sources]
    if inputs_hit:
        raise GanzooError(f"the output {inputs_hit[0]} would replace an input image",
                          hint="choose an --out folder outside the inputs")
    refuse_existing(targets, overwrite)


def refuse_existing(targets: Iterable[Path], overwrite: bool) -> None:
    """An error naming existing files among ``targets``, unless ``--overwrite`` was given."""
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        names = ", ".join(str(t) for t in existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise GanzooError(f"{len(existing)} output file(s) already exist: {names}",
                          hint="--overwrite replaces them; or choose another --out")


def size_multiple(model: nn.Module, slots: Iterable[str], trained_size: tuple[int, int]) -> int:
    """The multiple image sides must have for the model's networks: what they declare (``size_multiple``), or
    else the largest power of two dividing the training size (a size the model certainly took)."""
    declared = [getattr(getattr(model, slot), "size_multiple", None) for slot in slots]
    declared = [m for m in declared if isinstance(m, int) and m > 0]
    if declared:
        return math.lcm(*declared)
    h, w = trained_size
    return math.gcd(h & -h, w & -w) if h and w else 1


def _padded(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int, int, int]]:
    """Pad a batch (N, C, H, W) on all sides to sides divisible by ``multiple``; returns it and the crop box."""
    h, w = x.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return x, (0, h, 0, w)
    top, left = ph // 2, pw // 2
    pads = (left, pw - left, top, ph - top)
    mode = "reflect" if max(pads[:2]) < w and max(pads[2:]) < h else "replicate"
    return F.pad(x, pads, mode=mode), (top, top + h, left, left + w)


def _looks_paired(size: tuple[int, int], trained: tuple[int, int]) -> bool:
    """A 2:1 image for a model trained on square ones: probably an A|B pair (aligned datasets store them so)."""
    (w, h), (th, tw) = size, trained
    return th == tw and w == 2 * h


def translate_files(
    trained: Trained,
    inputs: Iterable[Path],
    out: Path,
    direction: str,
    *,
    device: torch.device,
    batch_size: int = 8,
    progress: bool = True,
    resize: bool = False,
    half: str | None = None,
    overwrite: bool = False,
    seed: int = 0,
) -> TranslateReport:
    """Translate every input image; one output per input, same file name, under ``out``.

    Outputs keep each input's size: fully convolutional generators take any size, so an input is padded to
    the networks' size multiple and the output cropped back. ``resize`` instead resizes inputs to the training
    size (outputs stay at it); ``half`` ("A" = left, "B" = right) translates one half of side-by-side pairs.
    """
    model = trained.model
    if direction not in model.directions:
        raise GanzooError(f"direction {direction!r} not supported by {trained.resolved.model.name!r}",
                          hint=f"directions: {', '.join(model.directions)}")
    source_key = direction.split("to")[0]
    shape = trained.shape(source_key)
    if shape is None:
        raise GanzooError(f"{trained.path} does not record its image size", hint="re-save it with this ganzoo")
    channels, height, width = shape
    mode = "L" if channels == 1 else "RGB"
    inputs = list(inputs)
    pairs = collect_inputs(inputs)
    out = Path(out)
    refuse_clobbering(inputs, pairs, out, overwrite)
    multiple = size_multiple(model, model.component_slots, (height, width))
    dtype = trained_dtype(trained, device)
    report = TranslateReport()
    torch.manual_seed(seed)  # noise a model draws at test time (pix2pix's paper mode: dropout) is reproducible
    bar = tqdm(total=len(pairs), unit="img", disable=not progress, desc=f"translate {direction}")
    for chunk in _batches(pairs, batch_size):
        by_size: dict[tuple[int, int], list[tuple[Tensor, Path]]] = {}
        for src, rel in chunk:
            try:
                img = open_image(src, mode)
            except DataError as exc:
                report.failed.append((src, exc.message))
                continue
            if half:
                w, h = img.size
                img = img.crop((0, 0, w // 2, h) if half == "A" else (w - w // 2, 0, w, h))
            elif _looks_paired(img.size, (height, width)):
                report.paired.append(src)
            if resize:
                img = img.resize((width, height), Image.BICUBIC)
            by_size.setdefault(img.size, []).append((to_tensor(img), out / rel))
        for group in by_size.values():
            x, box = _padded(torch.stack([t for t, _ in group]).to(device), multiple)
            with torch.no_grad(), autocast(device, dtype):
                y = model.translate(x, direction).float().cpu()
            top, bottom, left, right = box
            for image, (_, target) in zip(y[..., top:bottom, left:right], group):
                target.parent.mkdir(parents=True, exist_ok=True)
                from_tensor(image).save(target)
                report.written.append(target)
        bar.update(len(chunk))
    bar.close()
    return report


def sample_to(trained: Trained, n: int, out: Path, *, device: torch.device, seed: int = 0,
              overwrite: bool = False) -> list[Path]:
    """``n`` unconditional samples: a grid (``out`` is an image file) or one file each (``out`` is a folder);
    2-D points go to a scatter plot or ``samples.csv``. Existing files are never replaced unless ``overwrite``."""
    model = trained.model
    if not model.supports("generate"):
        raise GanzooError(f"model {trained.resolved.model.name!r} does not generate unconditional samples",
                          hint="for image-to-image models use `ganzoo translate`")
    torch.manual_seed(seed)
    with torch.no_grad(), autocast(device, trained_dtype(trained, device)):
        samples = model.generate(n).float().cpu()
    out = Path(out)
    points = samples.dim() == 2  # e.g. 2-D toy data
    if out.suffix.lower() in IMAGE_SUFFIXES:
        refuse_existing([out], overwrite)
        out.parent.mkdir(parents=True, exist_ok=True)
        if points:
            save_samples({"generated": samples}, out)
        else:
            save_grid(samples, out)
        return [out]
    paths = [out / "samples.csv"] if points else [out / f"sample_{i:05d}.png" for i in range(samples.shape[0])]
    refuse_existing(paths, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    if points:
        paths[0].write_text("\n".join(",".join(f"{v:.6g}" for v in row) for row in samples.tolist()) + "\n")
        return paths
    for image, path in zip(samples, paths):
        from_tensor(image).save(path)
    return paths


def class_labels(trained: Trained, label: int | None = None, labels: Iterable[int] | None = None,
                 per_class: int | None = None) -> list[int] | None:
    """The classes ``ganzoo sample --label/--labels/--per-class`` asks for, checked against the model's classes."""
    if label is None and labels is None and per_class is None:
        return None
    model, name = trained.model, trained.resolved.model.name
    if not getattr(model, "conditional", False):
        raise GanzooError(f"model {name!r} is not class-conditional: --label, --labels and --per-class need a "
                          f"model whose generate() takes labels", hint="drop them: `ganzoo sample RUN -n 64`")
    classes = getattr(model, "num_classes", None)
    if not isinstance(classes, int) or classes < 1:
        raise GanzooError(f"model {name!r} is conditional but does not say its num_classes",
                          hint="a conditional model sets self.num_classes")
    chosen = list(range(classes)) if per_class is not None else [label] if label is not None else list(labels)
    bad = [c for c in chosen if not 0 <= c < classes]
    if bad:
        names = getattr(model, "class_names", None) or trained.resolved.dataset_info.get("class_names")
        shown = ", ".join(class_name(i, names) for i in range(min(classes, 10))) + (", ..." if classes > 10 else "")
        raise GanzooError(f"class {bad[0]} is out of range: model {name!r} has {classes} classes (0..{classes - 1})",
                          hint=f"classes: {shown}")
    return chosen


def sample_by_class(trained: Trained, classes: list[int], per_label: int, out: Path, *, device: torch.device,
                    seed: int = 0, overwrite: bool = False) -> list[Path]:
    """``per_label`` samples of each class: a grid with one titled row per class (``out`` is an image file), or
    ``label<k>_<i>.png`` files in the folder ``out``. Existing files are never replaced unless ``overwrite``."""
    model = trained.model
    names = getattr(model, "class_names", None) or trained.resolved.dataset_info.get("class_names")
    torch.manual_seed(seed)
    rows = []
    with torch.no_grad(), autocast(device, trained_dtype(trained, device)):
        for c in classes:
            labels = torch.full((per_label,), c, dtype=torch.long, device=device)
            rows.append((class_name(c, names), model.generate(per_label, labels=labels).float().cpu()))
    out = Path(out)
    if out.suffix.lower() in IMAGE_SUFFIXES:
        refuse_existing([out], overwrite)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_labelled_rows(rows, out, title=f"{trained.resolved.recipe.name}: {per_label} per class")
        return [out]
    paths = [out / f"label{c}_{i:05d}.png" for c in classes for i in range(per_label)]
    refuse_existing(paths, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    for path, image in zip(paths, (img for _, images in rows for img in images)):
        from_tensor(image).save(path)
    return paths
