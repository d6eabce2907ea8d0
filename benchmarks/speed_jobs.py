"""One benchmark job, run in its own process: build a step (plain loop or ganzoo's engine), then measure it.

A job is a JSON-able dict (see ``speed.py``): ``kind`` ("peak", "plain" or "engine"), ``workload``, ``device``,
``threads``, ``warmup``, ``steps``, ``count_flops``, and for the engine the ``recipe`` path, its ``overrides``
and ``data`` ("synthetic" or "pipeline").
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import torch
from torch.utils.data import default_collate

import measure
import reference_loops

SEED = 0


def synthetic_batches(template: dict[str, Any], batch_size: int, *, count: int = 2) -> Iterator[dict[str, Any]]:
    """Endless batches built in memory once: each float tensor of ``template`` (one item) becomes uniform noise
    in [-1, 1] of shape (batch_size, ...); other values are repeated. Costs nothing per step."""
    g = torch.Generator().manual_seed(SEED)
    batches = []
    for _ in range(count):
        batch = {}
        for key, value in template.items():
            if torch.is_tensor(value) and value.is_floating_point():
                batch[key] = torch.rand((batch_size, *value.shape), generator=g) * 2 - 1
            else:
                batch[key] = default_collate([value] * batch_size)
        batches.append(batch)
    return itertools.cycle(batches)


def _plain(job: dict) -> tuple[Any, dict]:
    template = {key: torch.zeros(shape) for key, shape in job["item_shapes"].items()}
    batches = synthetic_batches(template, job["batch_size"], count=job["pool"])
    device = torch.device(job["device"])
    torch.manual_seed(SEED)
    loop = reference_loops.build(job["workload"], batches, device)
    return loop.step, {"samples_per_step": loop.samples_per_step, "parameters": loop.parameters,
                       "precision": "fp32", "channels_last": False}


def _engine(job: dict, out: Path) -> tuple[Any, dict]:
    from ganzoo.engine import Trainer
    from ganzoo.recipe import load_recipe
    from ganzoo.registry import build_registry
    from ganzoo.resolve import resolve

    registry = build_registry()
    resolved = resolve(load_recipe(job["recipe"], job["overrides"]), registry)
    trainer = Trainer(resolved, registry, out=out, progress=False, log=lambda message: None)
    per_step = trainer.batches.batch_size
    workers = trainer.batches.loader.num_workers
    if job["data"] == "synthetic":
        workers = 0
        # The DataLoader has not started yet (it starts on the first next()): swap in batches made in memory.
        trainer.batches = synthetic_batches(trainer.train_data[0], per_step)
    info = {
        "samples_per_step": per_step,
        "data_workers": workers,
        "parameters": dict(trainer.counts),
        "precision": str(trainer.dtype).replace("torch.", "") if trainer.dtype else "fp32",
        "channels_last": trainer.cfg.channels_last,
        "compile": trainer.cfg.compile,
        "optimizers": {g: {k: opt.defaults.get(k) for k in ("fused", "foreach")}
                       for g, opt in trainer.optimizers.items()},
        "warnings": trainer.model.warnings(),
    }
    return trainer._one_step, info


def run_job(job: dict) -> dict:
    """Measure one job; returns a result dict (timings, FLOPs, memory, faults, parameters, load average)."""
    if job.get("threads"):
        torch.set_num_threads(job["threads"])
    device = torch.device(job["device"])
    result: dict[str, Any] = {"load_before": os.getloadavg()[0]}
    if job["kind"] == "peak":
        result |= measure.machine_peak(device)
        result["machine"] = measure.machine_info(device)
    else:
        with tempfile.TemporaryDirectory(prefix="ganzoo-speed-") as tmp:
            step, info = _engine(job, Path(tmp)) if job["kind"] == "engine" else _plain(job)
            result |= info
            result |= measure.time_steps(step, device, warmup=job["warmup"], steps=job["steps"])
            result["threads"] = torch.get_num_threads()
            if job["count_flops"]:
                result["flops"] = measure.count_flops(step)
    result["load_after"] = os.getloadavg()[0]
    return result

