"""Evaluation: average each registered metric over a model's ``evaluation_pairs`` on a test split."""

from __future__ import annotations

from collections import defaultdict
from typing import Callable

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .data import SeededItems, sample_seed
from .device import autocast, preserved_rng, to_device
from .model import GANModel
from .report import format_table

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class _Indexed(torch.utils.data.Dataset):
    def __init__(self, dataset: Dataset, seed: int):
        self.items, self.seed = SeededItems(dataset), seed

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[(i, sample_seed(self.seed, 0, i))]


def indexed(dataset: Dataset, seed: int) -> Dataset:
    """A split in order, item ``i`` drawn under the same seed every time (reproducible evaluation)."""
    return _Indexed(dataset, seed)


@torch.no_grad()
def evaluate(
    model: GANModel,
    dataset: Dataset,
    metrics: dict[str, Metric],
    *,
    device: torch.device,
    dtype: torch.dtype | None = None,
    batch_size: int = 8,
    seed: int = 0,
    progress: bool = True,
    limit: int | None = None,
) -> dict[str, dict[str, float]]:
    """``{pair: {metric: mean over the split}}`` for every pair the model names (the first ``limit`` items)."""
    items = _Indexed(dataset, seed)
    if limit is not None and limit < len(items):
        items = torch.utils.data.Subset(items, range(limit))
    loader = DataLoader(items, batch_size=batch_size, shuffle=False, num_workers=0)
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    count: dict[str, int] = defaultdict(int)
    was_training = model.training
    model.eval()
    try:
        with preserved_rng(device):
            batches = iter(loader)  # (creating it draws a seed from the global RNG)
            torch.manual_seed(seed)  # models that draw noise at test time (pix2pix's paper mode) score reproducibly
            for batch in tqdm(batches, total=len(loader), desc=f"eval ({len(items)} items)", unit="batch",
                              disable=not progress, leave=False):
                batch = to_device(batch, device, channels_last=False)
                with autocast(device, dtype):
                    pairs = model.evaluation_pairs(batch)
                for name, (output, target) in pairs.items():
                    output, target = output.float(), target.float()
                    for metric_name, metric in metrics.items():
                        sums[name][metric_name] += float(metric(output, target).sum())
                    count[name] += output.shape[0]
    finally:
        model.train(was_training)
    return {name: {m: s / count[name] for m, s in values.items()} for name, values in sums.items()}


def results_table(results: dict[str, dict[str, float]]) -> str:
    metric_names = sorted({m for v in results.values() for m in v})
    rows = [[name, *(values.get(m, float("nan")) for m in metric_names)] for name, values in results.items()]
    return format_table(["pair", *metric_names], rows)
