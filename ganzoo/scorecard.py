"""``ganzoo eval``: score a trained model with paired metrics (L1, PSNR, SSIM) and distribution metrics (FID, KID,
...) and write the result beside the run, in a file of its own (training's ``eval.json`` is never replaced)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import torch

from .build import build_dataset, build_optional_split
from .errors import GanzooError
from .evaluate import evaluate, results_table
from .fidelity import build_fidelity, evaluate_model, paired_metrics, select_metrics
from .inception import WeightsError, find_weights
from .registry import Registry
from .rundir import write_json
from .trained import Trained, trained_dtype

DEFAULT_DISTRIBUTION = ("fid", "kid")


def default_metrics(trained: Trained, registry: Registry, inception: Path | None, log: Callable[[str], None]
                    ) -> list[str]:
    """The paired metrics when the model has evaluation pairs, plus FID and KID when the Inception weights are
    installed and the model generates image sets."""
    names = []
    model = trained.model
    if model.supports("evaluation_pairs"):
        names += list(paired_metrics(registry))
    if model.supports("generated_images"):
        try:
            find_weights(inception)
            names += list(DEFAULT_DISTRIBUTION)
        except WeightsError as exc:
            log(f"note: FID/KID skipped: {exc.message}; {exc.hint}")
    if not names:
        raise GanzooError(f"model {trained.resolved.model.name!r} has nothing ganzoo can evaluate",
                          hint="for unconditional models install the Inception weights (`ganzoo inception fetch`) "
                               "for FID/KID; 2-D toy runs log mode coverage to metrics.jsonl; see also "
                               "`ganzoo sample`")
    return names


def result_path(trained: Trained, split: str, data_changed: bool, real: Path | None) -> Path:
    """``eval-<split>-step<N>[-data-<hash>][-real-<hash>].json`` beside the run (or the checkpoint)."""
    where = trained.run_dir or trained.path.parent
    name = f"eval-{split}-step{int(trained.state.get('step') or 0):07d}"
    if data_changed:
        blob = json.dumps(trained.resolved.data.as_dict(), sort_keys=True, default=str)
        name += "-data-" + hashlib.sha256(blob.encode()).hexdigest()[:8]
    if real is not None:
        name += "-real-" + hashlib.sha256(str(real.resolve()).encode()).hexdigest()[:8]
    return where / f"{name}.json"


def choose_split(trained: Trained, split: str | None, paired: bool, log: Callable[[str], None]) -> tuple[str, Any]:
    """The requested split; by default test, or train for distribution-only scores when there is no test split."""
    if split is not None or paired:
        return split or "test", build_dataset(trained.resolved, split or "test")
    test = build_optional_split(trained.resolved, "test")
    if test is not None:
        return "test", test
    log(f"note: {trained.resolved.data.name} has no test split: real images come from the train split")
    return "train", build_dataset(trained.resolved, "train")


def run_eval(trained: Trained, registry: Registry, *, metric_names: list[str] | None, n: int | None,
             split: str | None,
             real: Path | None, data_changed: bool, device: torch.device, batch_size: int, seed: int | None,
             inception: Path | None, out: Path | None, progress: bool, log: Callable[[str], None]
             ) -> tuple[dict[str, Any], Path]:
    names = metric_names or default_metrics(trained, registry, inception, log)
    paired, distribution = select_metrics(registry, names)
    model, resolved = trained.model, trained.resolved
    seed = resolved.train.seed if seed is None else seed
    dtype = trained_dtype(trained, device)
    split, dataset = choose_split(trained, split, bool(paired), log)
    record: dict[str, Any] = {"checkpoint": str(trained.path), "step": trained.state.get("step"), "split": split,
                              "data": resolved.data.as_dict(), "seed": seed, "results": {}}
    if paired:
        if not model.supports("evaluation_pairs"):
            raise GanzooError(f"{', '.join(paired)}: model {resolved.model.name!r} has no paired outputs to score",
                              hint="use distribution metrics: --metrics fid,kid")
        record["results"] = evaluate(model, dataset, paired, device=device, dtype=dtype, batch_size=batch_size,
                                     seed=seed, progress=progress)
    if distribution:
        fidelity = build_fidelity(distribution, device, inception=inception)
        report = evaluate_model(fidelity, model, dataset, resolved.data.as_dict() | {"split": split}, n=n, seed=seed,
                                device=device, dtype=dtype, batch_size=max(batch_size, 32), progress=progress,
                                real_folder=real, strict=metric_names is not None)
        for name, values in report.results.items():
            record["results"].setdefault(name, {}).update(values)
        record |= {"counts": report.counts, "feature_network": report.feature_network, "notes": report.notes,
                   "real": str(real) if real else f"{resolved.data.name} {split} split"}
        for note in report.notes:
            log(f"note: {note}")
    path = out or result_path(trained, split, data_changed, real)
    write_json(path, record)
    return record, path


def summary(record: dict[str, Any]) -> str:
    table = results_table(record["results"])
    counts = record.get("counts")
    if not counts:
        return table
    sizes = "; ".join(f"{k}: {v['generated']} generated vs {v['real']} real" for k, v in counts.items())
    return f"{table}\n({sizes}; {record['feature_network']['network']}, {record['feature_network']['weights']})"
