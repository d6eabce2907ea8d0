"""Inception features of image batches, the way published FIDs are computed, and a disk cache for real images.

Preprocessing (the torch-fidelity / TF-FID convention): images in [-1, 1] are quantised to uint8 exactly as
saving them to PNG would (``x * 127.5 + 128``, clamped, truncated: round-to-nearest of ``(x + 1) * 127.5``);
grayscale is replicated to 3 channels; the extractor resizes to 299x299 with TF1's bilinear resize
(``align_corners=False``, no antialiasing) and scales to ``(x - 128) / 128``. Real and generated images take
the same path, so a dataset's real images round-trip bit-exactly through the quantisation.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Iterator

import torch
from torch import Tensor
from tqdm import tqdm

from .errors import GanzooError
from .inception import InceptionWeights, cache_dir

#: torch-fidelity's names for the outputs ganzoo uses
POOL, LOGITS = "2048", "logits_unbiased"
#: version of the preprocessing above; part of every cache key
PREPROCESS = "uint8-trunc(127.5x+128)/gray3/tf1-bilinear-299/v1"


def build_extractor(weights: InceptionWeights, outputs: list[str]) -> torch.nn.Module:
    """torch-fidelity's TF-compatible Inception-v3 holding ``weights`` (read from memory: no download)."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    buffer = io.BytesIO()
    torch.save(weights.state_dict, buffer)  # verified tensors only: torch-fidelity's own load can't run code
    buffer.seek(0)
    return FeatureExtractorInceptionV3("inception-v3-compat", outputs, feature_extractor_weights_path=buffer)


def to_uint8(images: Tensor) -> Tensor:
    """(N, C, H, W) in [-1, 1] (C = 1 or 3) -> (N, 3, H, W) uint8, as saving to PNG would quantise it."""
    if images.dim() != 4:
        raise GanzooError(f"FID/KID need images (N, C, H, W); got a tensor of shape {tuple(images.shape)}",
                          hint="2-D point data has no Inception features: use the mode-coverage metrics")
    if images.shape[1] not in (1, 3):
        raise GanzooError(f"FID/KID need 1- or 3-channel images; got {images.shape[1]} channels")
    q = (images.detach().float() * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return q.expand(-1, 3, -1, -1) if q.shape[1] == 1 else q


def default_batch_size(device: torch.device) -> int:
    return 200 if device.type == "cuda" else 32


class FeatureExtractor:
    """Inception pool features (and logits when asked) of batches of images in [-1, 1], on one device."""

    def __init__(self, weights: InceptionWeights, device: torch.device, *, logits: bool = False,
                 batch_size: int | None = None):
        if logits and not weights.has_classifier:
            raise GanzooError("the Inception Score needs Inception's classifier, which these weights lack "
                              f"({weights.kind}: {weights.path})",
                              hint="use torch-fidelity's standard weights: GANZOO_INCEPTION=PATH/TO/"
                                   "weights-inception-2015-12-05-6726825d.pth (or `ganzoo inception fetch "
                                   "--standard` on a machine with internet)")
        self.weights, self.device = weights, device
        self.outputs = [POOL, LOGITS] if logits else [POOL]
        self.batch_size = batch_size or default_batch_size(device)
        self.net = build_extractor(weights, self.outputs).to(device)

    def identity(self) -> dict[str, str]:
        return self.weights.identity() | {"preprocess": PREPROCESS}

    @torch.no_grad()
    def __call__(self, images: Tensor) -> dict[str, Tensor]:
        """``{"pool": (N, 2048), "logits": (N, 1008)?}`` float32 on the CPU."""
        q = to_uint8(images)
        parts: dict[str, list[Tensor]] = {name: [] for name in self.outputs}
        for chunk in q.split(self.batch_size):
            for name, value in zip(self.outputs, self.net(chunk.to(self.device))):
                parts[name].append(value.float().cpu())
        return {_short(name): torch.cat(values) for name, values in parts.items()}

    def extract(self, batches: Iterable[Tensor], total: int | None, desc: str, progress: bool) -> dict[str, Tensor]:
        """Features of a stream of image batches, with a progress bar counting images."""
        parts: dict[str, list[Tensor]] = {}
        with tqdm(total=total, desc=desc, unit="img", disable=not progress, leave=False) as bar:
            for images in batches:
                for name, value in self(images).items():
                    parts.setdefault(name, []).append(value)
                bar.update(len(images))
        if not parts:
            raise GanzooError(f"no images to compute {desc} features from")
        return {name: torch.cat(values) for name, values in parts.items()}


def _short(name: str) -> str:
    return "pool" if name == POOL else "logits"


class FeatureCache:
    """Features of real images on disk, keyed by everything that produced them."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root else cache_dir() / "features"

    @staticmethod
    def key(**parts: Any) -> str:
        blob = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def get(self, key: str) -> dict[str, Tensor] | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            stored = torch.load(path, map_location="cpu", weights_only=True)
            return {k: v for k, v in stored["features"].items()}
        except Exception:  # noqa: BLE001 - a corrupt cache entry is recomputed, never fatal
            return None

    def put(self, key: str, features: dict[str, Tensor], meta: dict[str, Any]) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            tmp = self.path(key).with_suffix(f".tmp{os.getpid()}")
            torch.save({"features": features, "meta": json.dumps(meta, default=str)}, tmp)
            os.replace(tmp, self.path(key))
        except OSError:
            pass  # a read-only or full cache costs time, not correctness

    def get_or_compute(self, key: str, meta: dict[str, Any], compute) -> tuple[dict[str, Tensor], bool]:
        """``(features, from_cache)``; computed features are stored for the next evaluation."""
        found = self.get(key)
        if found is not None:
            return found, True
        features = compute()
        self.put(key, features, meta)
        return features, False


def folder_batches(paths: list[Path], batch_size: int) -> Iterator[Tensor]:
    """Images of a folder in [-1, 1], batched among images of the same size (each keeps its own size)."""
    from PIL import Image

    from .images import open_image

    groups: dict[tuple[int, int], list[Path]] = {}
    for p in paths:
        with Image.open(p) as img:
            groups.setdefault(img.size, []).append(p)
    for size in sorted(groups):
        group = groups[size]
        for i in range(0, len(group), batch_size):
            tensors = []
            for p in group[i:i + batch_size]:
                img = open_image(p, "RGB")
                t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(img.size[1], img.size[0], 3)
                tensors.append(t.permute(2, 0, 1).float() / 127.5 - 1)
            yield torch.stack(tensors)


def folder_fingerprint(paths: list[Path]) -> list[tuple[str, int, int]]:
    """Names, sizes and modification times: a changed file changes the cache key."""
    return [(str(p.resolve()), (s := p.stat()).st_size, s.st_mtime_ns) for p in paths]
