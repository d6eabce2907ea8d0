"""Quality benchmark: pix2pix (cGAN + L1) vs L1 alone vs the untrained network, on the embedded facades.

Both models are trained by ganzoo's engine from the shipped recipe (``recipes/pix2pix.yaml``: labels -> photo,
Adam 2e-4 (0.5, 0.999), batch 1, resize-and-crop jitter + flip, constant LR then linear decay) scaled down to
``--image-size`` px: a U-Net with log2(size) downsamplings and a 70x70 PatchGAN, both with ``--ngf``/``--ndf``
filters. "L1 alone" is the same run with the adversarial weight set to 0 (D still trains, G ignores it), so both
runs cost the same. Scores are on facades_synthetic's held-out test split (106 buildings never seen in training):
L1 (in [0, 1] pixel units, lower is better), PSNR (dB) and SSIM of the generated photo against the true one.
The paper's observation to compare with: L1 alone scores well on per-pixel metrics but is blurry; cGAN + L1 is
sharper at a similar or slightly worse per-pixel error.

    python benchmarks/quality_pix2pix.py                          # 128 px, fp32
    python benchmarks/quality_pix2pix.py --precision bf16 --tag bf16

Writes ``benchmarks/results/quality_pix2pix[_TAG].{json,md}`` and ``..._grid.png`` (test labels, untrained, L1
alone, cGAN + L1, true photo). Not a test: the numbers depend on the step budget. Wall times are noisy when other
jobs share the cores; the JSON records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
from pathlib import Path

import torch

from ganzoo.build import build_dataset, build_model
from ganzoo.data import fixed_batch
from ganzoo.device import autocast, autocast_dtype, configure, seed_everything
from ganzoo.engine import Trainer
from ganzoo.evaluate import evaluate
from ganzoo.fidelity import paired_metrics
from ganzoo.recipe import load_recipe
from ganzoo.registry import build_registry
from ganzoo.report import save_samples
from ganzoo.resolve import resolve

from quality_common import (ROOT, add_run_args, fid_available, fid_overrides, train, train_overrides,
                            untrained_fidelity, write_report)

RECIPE = ROOT / "recipes" / "pix2pix.yaml"
RUNS = {"l1": ["losses.adversarial.weight=0"], "cgan_l1": []}
LABELS = {"untrained": "untrained", "l1": "L1 alone", "cgan_l1": "cGAN + L1"}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image-size", type=int, default=128, help="a power of two (64 or 128 for this benchmark)")
    p.add_argument("--steps", type=int, default=1000, help="training steps (batch 1) for each model")
    add_run_args(p)
    args = p.parse_args()
    if args.image_size < 16 or args.image_size & (args.image_size - 1):
        p.error(f"--image-size must be a power of two >= 16, got {args.image_size}")
    return args


def overrides(args: argparse.Namespace) -> list[str]:
    size = args.image_size
    return [
        f"components.generator={{name: unet, num_downs: {int(math.log2(size))}, ngf: {args.ngf}}}",
        f"components.discriminator={{name: patchgan, in_channels: 6, ndf: {args.ndf}, n_layers: 3}}",
        f"data={{name: facades_synthetic, image_size: {size}, load_size: {round(size * 286 / 256)}, "
        f"crop_size: {size}}}",
        *train_overrides(args),
    ]


def resolved_recipe(args: argparse.Namespace):
    registry = build_registry()
    return registry, resolve(load_recipe(RECIPE, overrides(args)), registry)


@torch.no_grad()
def untrained(args: argparse.Namespace) -> tuple[dict, torch.Tensor]:
    """Scores and sample outputs of the freshly initialised generator (same seed as the trained runs)."""
    registry, resolved = resolved_recipe(args)
    configure(torch.device("cpu"), threads=args.threads, deterministic=False)
    seed_everything(args.seed)
    model = build_model(resolved).eval()
    test = build_dataset(resolved, "test")
    metrics = paired_metrics(registry)
    dtype = autocast_dtype(args.precision, torch.device("cpu"))
    scores = evaluate(model, test, metrics, device=torch.device("cpu"), dtype=dtype, seed=args.seed, progress=False)
    with autocast(torch.device("cpu"), dtype):
        outputs = model.sample(fixed_batch(test, 6, args.seed))["output"].float()
    if fid_available(args):
        for pair, values in untrained_fidelity(model, test, resolved, args).items():
            scores.setdefault(pair, {}).update(values)
    return scores, outputs


@torch.no_grad()
def comparison_grid(trainers: dict[str, Trainer], first: torch.Tensor, path: Path, title: str) -> None:
    batch = trainers["cgan_l1"].fixed  # the first test items (the same for every run: same seed, same split)
    columns = {"labels": trainers["cgan_l1"].model.eval().sample(batch)["input"], "untrained": first}
    for name, trainer in trainers.items():
        with autocast(trainer.device, trainer.dtype):
            columns[LABELS[name]] = trainer.model.eval().sample(batch)["output"].float()
    columns["true photo"] = trainers["cgan_l1"].model.sample(batch)["target"]
    save_samples({k: v.float() for k, v in columns.items()}, path, title=title)


def markdown(report: dict) -> str:
    cfg = report["config"]
    lines = [
        "# pix2pix on facades_synthetic: cGAN + L1 vs L1 alone (held-out test split)",
        "",
        f"{cfg['image_size']} px, U-Net ngf {cfg['ngf']}, 70x70 PatchGAN ndf {cfg['ndf']}, {cfg['steps']} steps of "
        f"batch 1 each, {cfg['precision']}, {cfg['threads']} thread(s), seed {cfg['seed']}; labels -> photo on "
        f"{report['test_size']} held-out buildings. {report['machine']}; load average {report['load_before']} "
        f"before, {report['load_after']} after (other jobs share the cores: wall times are noisy).",
        "",
        "| generator | L1 (lower better) | PSNR dB | SSIM | FID (lower better) | KID x 1000 | train s | s/step |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in LABELS.items():
        r = report[name]
        scores = r["eval"]["BtoA"]
        timing = f"{r['train_seconds']:.0f} | {r['s_per_step']:.3f}" if "train_seconds" in r else " | "
        fid = (f"{scores['fid']:.1f} | {1000 * scores['kid']:.1f}" if "fid" in scores else "n/a | n/a")
        lines.append(f"| {label} | {scores['l1']:.4f} | {scores['psnr']:.2f} | {scores['ssim']:.3f} | {fid} | {timing} |")
    lines += ["", f"FID/KID: the {report['test_size']} translated test labels against the {report['test_size']} "
              "true test photos (TF Inception-v3, torch-fidelity's preprocessing; FID at this count is biased "
              "upward: compare the rows with each other, not with papers).", "", f"![grid]({report['grid']})", ""]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    stem = "quality_pix2pix" + (f"_{args.tag}" if args.tag else "")
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}",
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }
    scores, first = untrained(args)
    report["untrained"] = {"eval": scores}
    print(f"untrained: {json.dumps(scores)}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {}
        for name, extra in RUNS.items():
            fid = fid_overrides(args) if fid_available(args) else []
            trainer, evaluation, seconds = train(RECIPE, [*overrides(args), *fid, *extra], Path(tmp) / name)
            trainers[name] = trainer
            last = trainer.last_row
            report[name] = {"eval": evaluation, "train_seconds": round(seconds, 1),
                            "s_per_step": round(trainer.elapsed / max(1, trainer.step), 3),
                            "final_losses": {k: round(v, 4) for k, v in last.items() if "/" in k and "lr/" not in k}}
            print(f"{name}: {json.dumps(report[name]['eval'])}", flush=True)
        report["test_size"] = len(trainers["cgan_l1"].test_data)
        grid = args.out / f"{stem}_grid.png"
        comparison_grid(trainers, first, grid,
                        title=f"facades_synthetic {args.image_size} px, {args.steps} steps each ({args.precision})")
        report["grid"] = grid.name
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    write_report(args, stem, report, markdown)


if __name__ == "__main__":
    main()
