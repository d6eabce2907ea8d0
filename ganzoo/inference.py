"""Using a trained model: translate image files, draw unconditional samples."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import torch
from tqdm import tqdm

from .device import autocast
from .errors import DataError, GanzooError
from .images import IMAGE_SUFFIXES, from_tensor, list_images, open_image, to_tensor
from .report import save_grid, save_samples
from .trained import Trained, trained_dtype


@dataclass
class TranslateReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


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


def translate_files(
    trained: Trained,
    inputs: Iterable[Path],
    out: Path,
    direction: str,
    *,
    device: torch.device,
    batch_size: int = 8,
    progress: bool = True,
) -> TranslateReport:
    """Translate every input image at the model's training resolution; one output per input, same file name."""
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
    pairs = collect_inputs(inputs)
    out = Path(out)
    report = TranslateReport()
    bar = tqdm(total=len(pairs), unit="img", disable=not progress, desc=f"translate {direction}")
    for chunk in _batches(pairs, batch_size):
        tensors, targets = [], []
        for src, rel in chunk:
            try:
                img = open_image(src, mode).resize((width, height))
            except DataError as exc:
                report.failed.append((src, exc.message))
                continue
            tensors.append(to_tensor(img))
            targets.append(out / rel)
        if tensors:
            x = torch.stack(tensors).to(device)
            with torch.no_grad(), autocast(device, trained_dtype(trained, device)):
                y = model.translate(x, direction).float().cpu()
            for image, target in zip(y, targets):
                target.parent.mkdir(parents=True, exist_ok=True)
                from_tensor(image).save(target)
                report.written.append(target)
        bar.update(len(chunk))
    bar.close()
    return report


def sample_to(trained: Trained, n: int, out: Path, *, device: torch.device, seed: int = 0) -> list[Path]:
    """``n`` unconditional samples: a grid (``out`` is an image file) or one file each (``out`` is a folder)."""
    model = trained.model
    if not model.supports("generate"):
        raise GanzooError(f"model {trained.resolved.model.name!r} does not generate unconditional samples",
                          hint="for image-to-image models use `ganzoo translate`")
    torch.manual_seed(seed)
    with torch.no_grad(), autocast(device, trained_dtype(trained, device)):
        samples = model.generate(n).float().cpu()
    out = Path(out)
    is_file = out.suffix.lower() in IMAGE_SUFFIXES
    if samples.dim() == 2:  # points, e.g. 2-D toy data
        if is_file:
            out.parent.mkdir(parents=True, exist_ok=True)
            save_samples({"generated": samples}, out)
            return [out]
        out.mkdir(parents=True, exist_ok=True)
        target = out / "samples.csv"
        target.write_text("\n".join(",".join(f"{v:.6g}" for v in row) for row in samples.tolist()) + "\n")
        return [target]
    if is_file:
        out.parent.mkdir(parents=True, exist_ok=True)
        save_grid(samples, out)
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"sample_{i:05d}.png" for i in range(samples.shape[0])]
    for image, path in zip(samples, paths):
        from_tensor(image).save(path)
    return paths
