"""Quality benchmark: CycleGAN (unpaired) vs pix2pix trained on the true pairs, on the embedded shapes2stripes data.

shapes2stripes has a hidden ground-truth mapping (plain shapes -> zebra-striped shapes), so both models can be
scored against the truth on its test split: L1 (in [0, 1] pixel units), PSNR and SSIM of A -> B against the true
B. Both use the same generator (ResNet, 6 blocks) and the same 70x70 PatchGAN with instance norm (pix2pix's sees
the input too, so 6 input channels); each is trained by ganzoo's engine from its shipped recipe
(``recipes/cyclegan.yaml``, ``recipes/pix2pix.yaml``) with the overrides below, for the same number of steps of
batch 1. The CycleGAN paper puts its labels -> photo score at about 0.7 of pix2pix's (per-pixel accuracy of
FCN scores); the ratios here are pix2pix L1 / CycleGAN L1 and CycleGAN PSNR / pix2pix PSNR (1 = as good as
paired supervision). "identity" is the do-nothing baseline: the input itself scored against the truth.

    python benchmarks/quality_cyclegan.py                          # 64 px, 600 steps each, fp32: ~10 min
    python benchmarks/quality_cyclegan.py --steps 2400 --tag 2400steps   # ~40 min: the stripes appear
    python benchmarks/quality_cyclegan.py --precision bf16 --tag bf16

Writes ``benchmarks/results/quality_cyclegan[_TAG].{json,md}`` and ``..._grid.png`` (test images: A, true B,
CycleGAN's B, pix2pix's B; B, true A, CycleGAN's A). Not a test: the numbers depend on the step budget.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

from ganzoo.build import build_dataset
from ganzoo.data import fixed_batch
from ganzoo.fidelity import paired_metrics
from ganzoo.engine import Trainer
from ganzoo.recipe import load_recipe
from ganzoo.registry import build_registry
from ganzoo.report import save_samples
from ganzoo.resolve import resolve

from quality_common import ROOT, add_run_args, fid_available, fid_overrides, train, train_overrides, write_report


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=600, help="training steps (batch 1) for each model")
    p.add_argument("--n-blocks", type=int, default=6)
    add_run_args(p)
    return p.parse_args()


def generator(args: argparse.Namespace) -> str:
    return f"{{name: resnet, ngf: {args.ngf}, n_blocks: {args.n_blocks}, norm: instance}}"


def discriminator(args: argparse.Namespace, in_channels: int) -> str:
    return f"{{name: patchgan, in_channels: {in_channels}, ndf: {args.ndf}, n_layers: 3, norm: instance}}"


def cyclegan_overrides(args: argparse.Namespace) -> list[str]:
    return [
        f"data={{name: shapes2stripes, image_size: {args.image_size}}}",
        f"components.G_AB={generator(args)}", f"components.G_BA={generator(args)}",
        f"components.D_A={discriminator(args, 3)}", f"components.D_B={discriminator(args, 3)}",
    ]


def pix2pix_overrides(args: argparse.Namespace) -> list[str]:
    """pix2pix's own recipe (cGAN + 100 x L1) on the true pairs, with CycleGAN's generator and discriminator."""
    return [
        "model={name: pix2pix, direction: AtoB}",
        f"data={{name: shapes2stripes, image_size: {args.image_size}, paired: true}}",
        f"components.generator={generator(args)}", f"components.discriminator={discriminator(args, 6)}",
    ]


def identity_baseline(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """The input itself scored against the truth: what a model that learned nothing gets."""
    registry = build_registry()
    metrics = paired_metrics(registry)
    resolved = resolve(load_recipe(ROOT / "recipes" / "cyclegan.yaml", cyclegan_overrides(args)), registry)
    data = build_dataset(resolved, "test")
    batch = fixed_batch(data, len(data), args.seed)
    pairs = {"AtoB": (batch["A"], batch["A_true_B"]), "BtoA": (batch["B"], batch["B_true_A"])}
    return {name: {m: float(f(out, target).mean()) for m, f in metrics.items()} for name, (out, target) in pairs.items()}


@torch.no_grad()
def comparison_grid(cyclegan: Trainer, pix2pix: Trainer, path: Path, title: str) -> None:
    batch = cyclegan.fixed  # the first test items; pix2pix's paired test split renders the same A scenes
    for t in (cyclegan, pix2pix):
        t.model.eval()
    columns = {
        "A": batch["A"], "true B": batch["A_true_B"], "CycleGAN B": cyclegan.model.translate(batch["A"], "AtoB"),
        "pix2pix B": pix2pix.model.translate(batch["A"], "AtoB"),
        "B": batch["B"], "true A": batch["B_true_A"], "CycleGAN A": cyclegan.model.translate(batch["B"], "BtoA"),
    }
    save_samples({k: v.float() for k, v in columns.items()}, path, title=title)


def _early_training_note(report: dict) -> list[str]:
    base = report["identity_baseline"]["AtoB"]["l1"]
    behind = [name for name in ("cyclegan", "pix2pix") if report[name]["eval"]["AtoB"]["l1"] > base]
    if not behind:
        return []
    who = " and ".join(behind) + (" still trail" if len(behind) > 1 else " still trails")
    return [f"Early training: {who} the do-nothing baseline on L1. A stripe drawn out of phase costs more L1 than no "
            "stripe at all, so L1 favours a plain copy until the stripes line up; PSNR, SSIM and the grid show the "
            "progress. The ratios compare models far from converged; `--steps` buys more.", ""]


def _fid(scores: dict) -> str:
    return f"{scores['fid']:.1f} | {1000 * scores['kid']:.1f}" if "fid" in scores else "n/a | n/a"


def markdown(report: dict) -> str:
    c, p, base = report["cyclegan"]["eval"], report["pix2pix"]["eval"], report["identity_baseline"]
    cfg = report["config"]
    lines = [
        "# CycleGAN vs pix2pix on shapes2stripes (ground-truth error)",
        "",
        f"{cfg['image_size']} px, ResNet generator ngf {cfg['ngf']} / {cfg['n_blocks']} blocks, 70x70 PatchGAN ndf "
        f"{cfg['ndf']} (instance norm), {cfg['steps']} steps of batch 1 each, {cfg['precision']}, "
        f"{cfg['threads']} thread(s), seed {cfg['seed']}; test split of {report['test_size']} scenes. "
        f"{report['machine']}; wall times are noisy when other jobs share the cores.",
        "",
        "| A -> B against the true B | L1 (lower better) | PSNR dB | SSIM | FID vs real B | KID x 1000 | train + eval s |",
        "|---|---|---|---|---|---|---|",
        f"| identity (input as output) | {base['AtoB']['l1']:.4f} | {base['AtoB']['psnr']:.2f} | "
        f"{base['AtoB']['ssim']:.3f} | | | |",
        f"| CycleGAN (unpaired) | {c['AtoB']['l1']:.4f} | {c['AtoB']['psnr']:.2f} | {c['AtoB']['ssim']:.3f} | "
        f"{_fid(c['AtoB'])} | {report['cyclegan']['train_seconds']:.0f} |",
        f"| pix2pix (true pairs) | {p['AtoB']['l1']:.4f} | {p['AtoB']['psnr']:.2f} | {p['AtoB']['ssim']:.3f} | "
        f"{_fid(p['AtoB'])} | {report['pix2pix']['train_seconds']:.0f} |",
        "",
        f"FID/KID: the {report['test_size']} translated test scenes against the test split's {report['test_size']} "
        "real B images (the CycleGAN/CUT protocol; TF Inception-v3; biased upward at this count: compare rows).",
        "",
        f"Ratios (1 = as good as paired supervision; the CycleGAN paper's labels -> photo is about 0.7): "
        f"pix2pix L1 / CycleGAN L1 = **{report['ratios']['l1']:.3f}**, CycleGAN PSNR / pix2pix PSNR = "
        f"**{report['ratios']['psnr']:.3f}**.",
        "",
        *_early_training_note(report),
        "CycleGAN, other pairs:",
        "",
        "| pair | L1 | PSNR dB | SSIM |",
        "|---|---|---|---|",
    ]
    for name in ("BtoA", "cycle_A", "cycle_B"):
        lines.append(f"| {name} | {c[name]['l1']:.4f} | {c[name]['psnr']:.2f} | {c[name]['ssim']:.3f} |")
    lines += ["", f"identity baseline B -> A: L1 {base['BtoA']['l1']:.4f}, PSNR {base['BtoA']['psnr']:.2f} dB", "",
              f"![grid]({report['grid']})", ""]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    stem = "quality_cyclegan" + (f"_{args.tag}" if args.tag else "")
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "machine": f"{platform.machine()}, {torch.get_num_threads()} threads available, torch "
                               f"{torch.__version__}"}
    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for name, recipe, overrides in (("cyclegan", "cyclegan.yaml", cyclegan_overrides(args)),
                                        ("pix2pix", "pix2pix.yaml", pix2pix_overrides(args))):
            fid = fid_overrides(args) if fid_available(args) else []
            trainer, evaluation, seconds = train(ROOT / "recipes" / recipe,
                                                 [*overrides, *train_overrides(args), *fid], Path(tmp) / name)
            runs[name] = trainer
            report[name] = {"eval": evaluation, "train_seconds": round(seconds, 1),
                            "s_per_step": round(trainer.elapsed / max(1, trainer.step), 3)}
            print(f"{name}: {json.dumps(evaluation)}", flush=True)
        report["test_size"] = len(runs["cyclegan"].test_data)
        grid = args.out / f"{stem}_grid.png"
        comparison_grid(runs["cyclegan"], runs["pix2pix"], grid,
                        title=f"shapes2stripes {args.image_size} px, {args.steps} steps each")
        report["grid"] = grid.name
    report["identity_baseline"] = identity_baseline(args)
    c, p = report["cyclegan"]["eval"]["AtoB"], report["pix2pix"]["eval"]["AtoB"]
    report["ratios"] = {"l1": p["l1"] / c["l1"], "psnr": c["psnr"] / p["psnr"]}
    write_report(args, stem, report, markdown)


if __name__ == "__main__":
    main()
