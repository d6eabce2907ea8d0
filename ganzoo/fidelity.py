"""FID, KID, Inception Score and precision/recall of a model: generated images against real ones, per image set.

A model names its sets (``fidelity_sets()``: set -> batch key of the real images) and produces generated images
per set on evaluation batches (``generated_images(batch)``). Real features of a dataset split are computed
once and cached on disk, keyed by the dataset's parameters, the split, the batch key, the image count, the
feature network's hash and the preprocessing, so repeated evaluation pays only for the generated side.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .device import autocast, preserved_rng, to_device
from .errors import GanzooError
from .evaluate import indexed
from .features import FeatureCache, FeatureExtractor, folder_batches, folder_fingerprint
from .model import GANModel


#: default cap on the real images of a split (CIFAR-10's train split; FFHQ's FID uses 50k too)
MAX_REAL = 50_000


def is_distribution_metric(metric: Any) -> bool:
    """Distribution metrics declare the Inception ``features`` they consume; paired metrics do not."""
    return hasattr(metric, "features") and hasattr(metric, "outputs")


def directions(metrics: dict[str, Any]) -> dict[str, bool]:
    """Every output a set of metrics produces -> whether higher is better (outputs marked None are not ranked)."""
    return {out: hib for m in metrics.values() for out, hib in m.outputs.items() if hib is not None}


@dataclass
class FidelityReport:
    results: dict[str, dict[str, float]]  # set -> output -> value
    counts: dict[str, dict[str, int]]  # set -> {"generated": n, "real": m}
    feature_network: dict[str, str]
    notes: list[str] = field(default_factory=list)
    real_from_cache: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"results": self.results, "counts": self.counts, "feature_network": self.feature_network,
                "notes": self.notes}


def _batches(dataset: Dataset, seed: int, batch_size: int, limit: int | None, cycle: bool = False) -> Iterator[dict]:
    loader = DataLoader(indexed(dataset, seed), batch_size=batch_size, shuffle=False, num_workers=0)
    source = itertools.chain.from_iterable(itertools.repeat(loader)) if cycle else loader
    taken = 0
    for batch in source:
        if limit is not None and taken >= limit:
            return
        if limit is not None and taken + len(next(iter(batch.values()))) > limit:
            batch = {k: v[: limit - taken] if torch.is_tensor(v) else v for k, v in batch.items()}
        taken += len(next(iter(batch.values())))
        yield batch


class Fidelity:
    """Scores models with distribution metrics; holds the feature extractor and the real-feature cache."""

    def __init__(self, extractor: FeatureExtractor, metrics: dict[str, Any], cache: FeatureCache | None = None):
        if not metrics:
            raise GanzooError("no distribution metrics selected")
        self.extractor, self.metrics = extractor, metrics
        self.cache = cache or FeatureCache()
        self._memo: dict[str, dict[str, Tensor]] = {}

    def _cache_key(self, **source: Any) -> str:
        """Where real features came from, plus what computed them (network hash, preprocessing, outputs)."""
        identity = self.extractor.identity()
        return FeatureCache.key(**source, network=identity["sha256"], preprocess=identity["preprocess"],
                                outputs=self.extractor.outputs)

    # Real side ----------------------------------------------------------------------------------------------
    def real_from_dataset(self, dataset: Dataset, key: str, data_id: dict[str, Any], *, seed: int, batch_size: int,
                          limit: int | None, progress: bool) -> tuple[dict[str, Tensor], bool]:
        """Features of the images under batch ``key`` of a split (all of them, or the first ``limit``)."""
        total = len(dataset) if limit is None else min(limit, len(dataset))
        # A dataset whose items draw nothing from the RNG (``random_items = False``) gives the same images under
        # every seed: one cache entry serves them all.
        cache_key = self._cache_key(data=data_id, batch_key=key, count=total,
                                    seed=seed if getattr(dataset, "random_items", True) else None)
        if cache_key in self._memo:
            return self._memo[cache_key], True

        def compute() -> dict[str, Tensor]:
            images = (b[key] for b in _batches(dataset, seed, batch_size, total))
            return self.extractor.extract(images, total, f"real {key}", progress)

        features, cached = self.cache.get_or_compute(cache_key, {"data": data_id, "key": key, "count": total},
                                                     compute)
        self._memo[cache_key] = features
        return features, cached

    def real_from_folder(self, folder: Path, *, progress: bool) -> tuple[dict[str, Tensor], bool]:
        from .images import list_images, require_dir

        paths = list_images(require_dir(folder, "a folder of images (png, jpg, ...)"))
        if not paths:
            raise GanzooError(f"no images in {folder}", hint="--real needs a folder of image files (png, jpg, ...)")
        cache_key = self._cache_key(folder=folder_fingerprint(paths))
        return self.cache.get_or_compute(
            cache_key, {"folder": str(folder), "count": len(paths)},
            lambda: self.extractor.extract(folder_batches(paths, self.extractor.batch_size), len(paths),
                                           f"real {folder.name}", progress))

    # Generated side -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def generated(self, model: GANModel, dataset: Dataset, n: int, *, seed: int, device: torch.device,
                  dtype: torch.dtype | None, batch_size: int, progress: bool) -> dict[str, dict[str, Tensor]]:
        """Features of ``n`` generated images per set; translation models stop at the split's size."""
        cycle = not model.directions  # unconditional models may draw more samples than the split has
        was_training = model.training
        model.eval()
        parts: dict[str, list[dict[str, Tensor]]] = {}
        try:
            with preserved_rng(device):
                torch.manual_seed(seed)
                from tqdm import tqdm

                with tqdm(total=n, desc="generated", unit="img", disable=not progress, leave=False) as bar:
                    for batch in _batches(dataset, seed, batch_size, n, cycle=cycle):
                        batch = to_device(batch, device, channels_last=False)
                        with autocast(device, dtype):
                            sets = model.generated_images(batch)
                        for name, images in sets.items():
                            parts.setdefault(name, []).append(self.extractor(images.float()))
                        bar.update(len(next(iter(sets.values()))))
        finally:
            model.train(was_training)
        return {name: {k: torch.cat([p[k] for p in chunks]) for k in chunks[0]} for name, chunks in parts.items()}

    # Scores -------------------------------------------------------------------------------------------------
    def score(self, generated: dict[str, dict[str, Tensor]], real: dict[str, dict[str, Tensor] | None],
              strict: bool = True) -> FidelityReport:
        """Every metric on every set; a metric that cannot be computed is an error, or (``strict=False``, for
        metrics nobody asked for by name) a note."""
        results: dict[str, dict[str, float]] = {}
        counts: dict[str, dict[str, int]] = {}
        notes: list[str] = []
        for name, gen in generated.items():
            ref = real.get(name)
            results[name] = {}
            counts[name] = {"generated": len(gen["pool"]), "real": len(ref["pool"]) if ref else 0}
            for metric_name, metric in self.metrics.items():
                feats = gen[metric.features]
                ref_feats = ref[metric.features] if ref is not None and metric.features in ref else None
                if ref_feats is None and getattr(metric, "needs_real", True):
                    raise GanzooError(f"{metric_name} needs real images for set {name!r}")
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        results[name] |= metric(feats, ref_feats)
                    except ValueError as exc:
                        if not strict:
                            notes.append(f"{name}: {metric_name} skipped: {exc}")
                            continue
                        raise GanzooError(f"{metric_name} on {name!r}: {exc}",
                                          hint="evaluate more samples (-n), or use kid, which is unbiased "
                                               "at any count") from None
                notes += [f"{name}: {w.message}" for w in caught]
        return FidelityReport(results, counts, self.extractor.identity(), sorted(set(notes)))


# Assembly: metrics by name, the extractor, one model on one split ------------------------------------------------
def select_metrics(registry, names: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(paired, distribution)`` metric instances for registered metric names; unknown names are errors."""
    from .schema import did_you_mean

    known = {e.name: e for e in registry.entries("metric")}
    paired, distribution = {}, {}
    for name in names:
        if name not in known:
            raise GanzooError(f"unknown metric {name!r}" + did_you_mean(name, known),
                              hint="metrics: " + ", ".join(sorted(known)))
        metric = known[name].factory()
        (distribution if is_distribution_metric(metric) else paired)[name] = metric
    return paired, distribution


def paired_metrics(registry) -> dict[str, Any]:
    """Every registered per-sample metric (L1, PSNR, SSIM, ...), by name: what scores evaluation pairs."""
    return {e.name: m for e in registry.entries("metric") if not is_distribution_metric(m := e.factory())}


def build_fidelity(metrics: dict[str, Any], device: torch.device, *, inception: Path | None = None,
                   batch_size: int | None = None) -> Fidelity:
    """Load and verify the Inception weights once, for the given distribution metrics."""
    from .inception import load_weights

    logits = any(m.features == "logits" for m in metrics.values())
    extractor = FeatureExtractor(load_weights(inception), device, logits=logits, batch_size=batch_size)
    return Fidelity(extractor, metrics)


def evaluate_model(fidelity: Fidelity, model: GANModel, dataset: Dataset, data_id: dict[str, Any], *,
                   n: int | None, seed: int, device: torch.device, dtype: torch.dtype | None, batch_size: int,
                   progress: bool, real_folder: Path | None = None, real_limit: int | None = None,
                   strict: bool = True) -> FidelityReport:
    """Score ``model``'s generated sets against the split's real images (or a folder of images)."""
    if not model.supports("generated_images"):
        raise GanzooError(f"{type(model).__name__} generates no image sets to score with FID/KID",
                          hint="model plugins opt in with generated_images() and fidelity_sets()")
    sets = model.fidelity_sets()
    if real_folder is not None and len(sets) > 1:
        raise GanzooError(f"--real gives one set of real images, but this model produces {len(sets)} sets "
                          f"({', '.join(sets)}), each compared with its own domain",
                          hint="score against the dataset's split (drop --real)")
    if real_limit is None:  # n generated vs n real, the usual protocol; the whole split (up to 50k) by default
        real_limit = min(len(dataset), n if n is not None else MAX_REAL)
    real: dict[str, dict[str, Tensor]] = {}
    cached = True
    for name, key in sets.items():
        if real_folder is not None:
            real[name], hit = fidelity.real_from_folder(real_folder, progress=progress)
        else:
            real[name], hit = fidelity.real_from_dataset(dataset, key, data_id, seed=seed, batch_size=batch_size,
                                                         limit=real_limit, progress=progress)
        cached = cached and hit
    count = n if n is not None else min(len(f["pool"]) for f in real.values())
    if model.directions and count > len(dataset):
        count = len(dataset)
    generated = fidelity.generated(model, dataset, count, seed=seed, device=device, dtype=dtype,
                                   batch_size=batch_size, progress=progress)
    report = fidelity.score(generated, real, strict=strict)
    report.real_from_cache = cached
    return report
