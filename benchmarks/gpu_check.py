"""The recipe phase of ``benchmarks/gpu_check.sh``: every shipped recipe trained for a few dozen steps through the
engine, in fp32, bf16 and (where the recipe allows it) ``torch.compile``, all in this one process.

    python benchmarks/gpu_check.py --device cuda --out /tmp/gpu-check          # a few dozen steps per run
    python benchmarks/gpu_check.py --device cpu --out /tmp/dry --tiny          # the CPU dry check: tiny nets, 2 steps

A run passes when it reaches its last step with finite losses and leaves a checkpoint whose weights are finite,
samples and a metrics row. Each run also records seconds per step (wall time of the run over its steps, so it
includes the first step's set-up, cuDNN autotuning and compilation: a smoke figure, not a benchmark; use
``benchmarks/speed.py`` for speed). Writes ``recipes.json`` and ``recipes.md`` in ``--out``; exits 1 if any run
failed.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RECIPES = ("pix2pix", "cyclegan", "wgan_gp", "dcgan", "wgan_gp_toy")
MODES = {"fp32": ["train.precision=fp32"], "bf16": ["train.precision=bf16"],
         "compile": ["train.precision=auto", "train.compile=true"]}

#: networks and images small enough for a CPU dry run of a few seconds per recipe
TINY = {
    "pix2pix": ["components.generator.name=unet", "components.generator.num_downs=5", "components.generator.ngf=8",
                "components.discriminator.ndf=8", "data.image_size=32", "data.load_size=36", "data.crop_size=32"],
    "cyclegan": ["components.G_AB.name=resnet", "components.G_AB.ngf=8", "components.G_AB.n_blocks=2",
                 "components.G_BA.name=resnet", "components.G_BA.ngf=8", "components.G_BA.n_blocks=2",
                 "components.D_A.ndf=8", "components.D_B.ndf=8", "data.image_size=32"],
    "wgan_gp": ["model.n_critic=2", "train.batch_size=4", "components.generator.image_size=32",
                "components.critic.image_size=32", "data.image_size=32", "data.size=64"],
    "dcgan": ["train.batch_size=4", "components.generator.image_size=32", "components.critic.image_size=32",
              "data.image_size=32", "data.size=64"],
    "wgan_gp_toy": ["train.batch_size=32", "model.n_critic=2", "train.sample_count=64",
                    "components.generator.hidden=[32, 32]", "components.critic.hidden=[32, 32]"],
}


def compile_supported(resolved) -> tuple[bool, str]:
    """ganzoo refuses torch.compile with gradient penalties (double backward)."""
    if "penalty" in resolved.losses:
        return False, "gradient penalty (double backward) cannot be compiled"
    return True, ""


def run_one(recipe: str, mode: str, args: argparse.Namespace, registry) -> dict:
    from ganzoo.engine import Trainer
    from ganzoo.recipe import load_recipe
    from ganzoo.resolve import resolve

    steps = args.steps
    overrides = [f"train.device={args.device}", f"train.steps={steps}", "train.epochs=null",
                 f"train.log_every={max(1, steps // 4)}", f"train.sample_every={max(1, steps // 2)}",
                 f"train.checkpoint_every={max(1, steps // 2)}", "train.eval_max_items=4", "train.tensorboard=false",
                 "train.keep_checkpoints=1", *MODES[mode]]
    if args.tiny:
        overrides = TINY[recipe] + ["train.workers=0"] + overrides
    row: dict = {"recipe": recipe, "mode": mode, "steps": steps}
    started = time.perf_counter()
    try:
        path = ROOT / "recipes" / f"{recipe}.yaml"
        if mode == "compile":  # ganzoo refuses the combinations torch.compile cannot run: skip those
            plain = [o for o in overrides if o != "train.compile=true"]
            ok, why = compile_supported(resolve(load_recipe(path, plain), registry))
            if not ok:
                return row | {"status": "skipped", "note": why}
        resolved = resolve(load_recipe(path, overrides), registry)
        out = args.out / "runs" / f"{recipe}-{mode}"
        trainer = Trainer(resolved, registry, out=out, progress=False, log=lambda m: None)
        row["precision"] = str(trainer.dtype).replace("torch.", "") if trainer.dtype else "fp32"
        row["tf32"] = trainer.tuning.tf32
        result = trainer.fit()
        row["s_per_step"] = round((time.perf_counter() - started) / steps, 4)
        row |= check_run(out, result.step, steps)
    except Exception as exc:  # noqa: BLE001 - every run is reported, the next one runs
        row |= {"status": "FAILED", "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                "traceback": traceback.format_exc(limit=6)}
    finally:
        if args.device == "cuda":
            import torch

            row["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
            torch.cuda.reset_peak_memory_stats()
    row["wall_s"] = round(time.perf_counter() - started, 1)
    return row


def check_run(out: Path, step: int, steps: int) -> dict:
    import torch

    problems = []
    if step != steps:
        problems.append(f"stopped at step {step} of {steps}")
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    losses = {k: v for r in rows for k, v in r.items() if "/" in k and not k.startswith(("lr/", "quality/", "eval/"))}
    if not losses:
        problems.append("no losses in metrics.jsonl")
    problems += [f"{k} = {v}" for k, v in losses.items() if not (isinstance(v, float) and math.isfinite(v))]
    last = out / "checkpoints" / "last.pt"
    if not last.exists():
        problems.append("no checkpoint")
    else:
        state = torch.load(last, weights_only=True, map_location="cpu")
        bad = [k for k, v in state["model"].items()
               if torch.is_tensor(v) and v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            problems.append(f"non-finite weights: {', '.join(bad[:3])}")
    if not list((out / "samples").glob("*.png")):
        problems.append("no sample picture")
    loss_rows = [r for r in rows if any(k in losses for k in r)]
    last_losses = {k: round(v, 4) for k, v in loss_rows[-1].items() if k in losses} if loss_rows else {}
    return {"status": "FAILED" if problems else "ok", "problems": problems, "last_losses": last_losses}


def markdown(report: dict) -> str:
    lines = [f"# Recipe check on {report['device']} ({report['device_name']})", "",
             f"{report['date']}, torch {report['torch']}, {report['steps']} steps per run"
             f"{', tiny networks (dry check)' if report['tiny'] else ''}.", "",
             "| recipe | mode | status | precision | TF32 | s/step (incl. set-up) | peak GiB | last losses / note |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        note = r.get("note") or r.get("error") or "; ".join(r.get("problems") or []) or \
            ", ".join(f"{k} {v:.3g}" for k, v in r.get("last_losses", {}).items())
        lines.append(f"| {r['recipe']} | {r['mode']} | {r['status']} | {r.get('precision', '')} | "
                     f"{r.get('tf32', '')} | {r.get('s_per_step', '')} | {r.get('peak_gib', '')} | {note} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--tiny", action="store_true", help="tiny networks and images (the CPU dry check)")
    p.add_argument("--recipes", default=",".join(RECIPES))
    p.add_argument("--modes", default=",".join(MODES))
    args = p.parse_args(argv)
    import datetime

    import torch

    from ganzoo.registry import build_registry

    registry = build_registry()
    args.out.mkdir(parents=True, exist_ok=True)
    runs = []
    for recipe in args.recipes.split(","):
        for mode in args.modes.split(","):
            row = run_one(recipe, mode, args, registry)
            print(f"  {recipe:<12} {mode:<8} {row['status']:<8} {row.get('s_per_step', '')!s:>8} s/step  "
                  f"{row.get('note') or row.get('error') or '; '.join(row.get('problems') or [])}", flush=True)
            runs.append(row)
    report = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "device": args.device,
              "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "CPU",
              "torch": torch.__version__, "steps": args.steps, "tiny": args.tiny, "runs": runs}
    (args.out / "recipes.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "recipes.md").write_text(markdown(report))
    return 1 if any(r["status"] == "FAILED" for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
