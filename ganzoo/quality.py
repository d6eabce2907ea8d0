"""Generative quality during training: FID/KID (any registered metric) every ``train.eval_every`` steps and at the
end, logged beside the losses, and ``checkpoints/best.pt`` kept for ``train.keep_best``.

The Trainer calls :meth:`QualityMonitor.due` once per step (an integer test: nothing else runs when unused).
Scores are computed on rank 0 with fixed seeds outside the training random streams, so a run with evaluation
trains exactly like one without.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch.utils.data import Dataset

from .build import build_optional_split
from .device import preserved_rng
from .errors import RecipeError
from .evaluate import evaluate
from .fidelity import build_fidelity, directions, evaluate_model, select_metrics
from .model import GANModel
from .registry import Registry
from .resolve import Resolved


class QualityMonitor:
    """Periodic evaluation with the recipe's ``train.eval_metrics``; tracks the best value of ``keep_best``."""

    def __init__(self, resolved: Resolved, registry: Registry, model: GANModel, train_data: Dataset,
                 device: torch.device, log: Callable[[str], None]):
        cfg = resolved.train
        self.every, self.samples, self.keep_best, self.log = cfg.eval_every, cfg.eval_samples, cfg.keep_best, log
        where = resolved.recipe.source
        self.paired, self.distribution = select_metrics(registry, list(cfg.eval_metrics))
        ranked = directions(self.distribution) | {n: m.higher_is_better for n, m in self.paired.items()}
        self.higher_is_better = ranked.get(self.keep_best, False)  # resolve() checked that keep_best is ranked
        if self.distribution and not model.supports("generated_images"):
            raise RecipeError(f"train.eval_metrics {list(self.distribution)}: model {resolved.model.name!r} "
                              "generates no image sets to score", where=where)
        test = build_optional_split(resolved, "test")
        if self.paired and (test is None or not model.supports("evaluation_pairs")):
            raise RecipeError(f"train.eval_metrics {list(self.paired)} need a test split and paired outputs",
                              where=where)
        self.dataset = test if test is not None else train_data
        self.data_id = resolved.data.as_dict() | {"split": "test" if test is not None else "train"}
        self.seed, self.device = cfg.seed, device
        self.fidelity = build_fidelity(self.distribution, device) if self.distribution else None
        self.best: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None

    @classmethod
    def from_recipe(cls, resolved: Resolved, *args: Any) -> "QualityMonitor | None":
        return cls(resolved, *args) if resolved.train.eval_every else None

    def due(self, step: int, last: bool) -> bool:
        return step % self.every == 0 or last

    def run(self, model: GANModel, step: int, dtype: torch.dtype | None, progress: bool) -> dict[str, float]:
        """Score the model now; returns a metrics row ``{"eval/<output>[/<set>]": value}``."""
        with preserved_rng(self.device):  # the real side's data loader draws a seed: keep training's streams
            return self._run(model, step, dtype, progress)

    def _run(self, model: GANModel, step: int, dtype: torch.dtype | None, progress: bool) -> dict[str, float]:
        results: dict[str, dict[str, float]] = {}
        if self.paired:
            results = evaluate(model, self.dataset, self.paired, device=self.device, dtype=dtype, batch_size=8,
                               seed=self.seed, progress=progress)
        notes: list[str] = []
        if self.fidelity is not None:
            report = evaluate_model(self.fidelity, model, self.dataset, self.data_id, n=self.samples,
                                    seed=self.seed, device=self.device, dtype=dtype, batch_size=32,
                                    progress=progress)
            for name, values in report.results.items():
                results.setdefault(name, {}).update(values)
            notes = report.notes
        single = len(results) == 1
        row = {f"eval/{k}" if single else f"eval/{k}/{name}": v
               for name, values in results.items() for k, v in values.items()}
        self.last = {"step": step, "results": results, "notes": notes, "samples": self.samples}
        return row

    def improved(self, step: int) -> bool:
        """Whether the last scores beat the best so far on ``keep_best`` (the mean over image sets)."""
        if self.keep_best is None or self.last is None:
            return False
        values = [v[self.keep_best] for v in self.last["results"].values() if self.keep_best in v]
        value = sum(values) / len(values) if values else math.nan
        if not math.isfinite(value):
            return False
        better = self.best is None or (value > self.best["value"] if self.higher_is_better
                                       else value < self.best["value"])
        if better:
            self.best = {"metric": self.keep_best, "value": value, "step": step}
        return better

    def state_dict(self) -> dict[str, Any] | None:
        return dict(self.best) if self.best else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        self.best = dict(state) if state else None

