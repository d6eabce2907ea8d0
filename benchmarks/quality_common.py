"""What the pix2pix and CycleGAN quality benchmarks share: options, engine settings, a training run, the report files."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

from ganzoo.engine import Trainer
from ganzoo.recipe import load_recipe
from ganzoo.registry import build_registry
from ganzoo.resolve import resolve

ROOT = Path(__file__).resolve().parents[1]


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Network widths, precision, threads, seed and where the results go."""
    p.add_argument("--ngf", type=int, default=32)
    p.add_argument("--ndf", type=int, default=32)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads (1 is steadier than 2 on a shared 2-core machine; data renders in a worker)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tag", default="", help="suffix of the result files")
    p.add_argument("--no-fid", action="store_true", help="skip FID/KID (they need `ganzoo inception fetch`)")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")


def train_overrides(args: argparse.Namespace) -> list[str]:
    """The engine settings of every benchmark run: batch 1, linear decay, CPU, one sample grid and checkpoint."""
    return [
        f"train.steps={args.steps}", "train.batch_size=1", "train.lr_schedule={name: linear_decay, hold: 0.5}",
        f"train.precision={args.precision}", f"train.threads={args.threads}", "train.workers=1",
        f"train.seed={args.seed}", "train.device=cpu", "train.log_every=50", "train.tensorboard=false",
        f"train.sample_every={args.steps}", f"train.checkpoint_every={args.steps}", "train.sample_count=6",
    ]


def fid_available(args: argparse.Namespace) -> bool:
    """FID/KID of the test translations, unless --no-fid or the Inception weights are not installed."""
    from ganzoo.inception import WeightsError, find_weights

    if args.no_fid:
        return False
    try:
        find_weights()
        return True
    except WeightsError as exc:
        print(f"FID/KID skipped: {exc}; {exc.hint}", flush=True)
        return False


def fid_overrides(args: argparse.Namespace) -> list[str]:
    """Score FID and KID at the last step (the whole test split: translation models stop at its size)."""
    return [f"train.eval_every={args.steps}", "train.eval_metrics=[fid, kid]", "train.eval_samples=1000000"]


def untrained_fidelity(model, dataset, resolved, args: argparse.Namespace) -> dict:
    """FID/KID of an untrained model's test translations, the same way the engine scores trained ones."""
    import torch

    from ganzoo.device import autocast_dtype
    from ganzoo.fidelity import build_fidelity, evaluate_model, select_metrics

    _, metrics = select_metrics(build_registry(), ["fid", "kid"])
    cpu = torch.device("cpu")
    report = evaluate_model(build_fidelity(metrics, cpu), model, dataset, resolved.data.as_dict() | {"split": "test"},
                            n=None, seed=args.seed, device=cpu, dtype=autocast_dtype(args.precision, cpu),
                            batch_size=32, progress=False)
    return report.results


def train(recipe: Path, overrides: list[str], out: Path) -> tuple[Trainer, dict, float]:
    """Train one model from ``recipe`` + ``overrides``; its held-out scores (the engine evaluates the test split at
    the end) and wall time."""
    registry = build_registry()
    resolved = resolve(load_recipe(recipe, overrides), registry)
    trainer = Trainer(resolved, registry, out=out, progress=False, log=lambda msg: print(msg, flush=True))
    start = time.perf_counter()
    result = trainer.fit()
    return trainer, result.evaluation or {}, time.perf_counter() - start


def write_report(args: argparse.Namespace, stem: str, report: dict, markdown: Callable[[dict], str]) -> None:
    """``<stem>.json`` and ``<stem>.md`` in ``--out``; the Markdown is printed too."""
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / f"{stem}.md").write_text(text)
    print(text)
