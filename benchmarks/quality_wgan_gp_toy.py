"""Quality benchmark: WGAN-GP mode coverage on the 2-D grid (25 Gaussians) and ring (8), several seeds.

Protocol (VEEGAN / PacGAN): after training, 2,500 generated samples; a sample is high quality (HQ) within
3 std of its nearest mode; a mode is captured with >= 1 HQ sample; reverse KL of the HQ mode histogram vs
uniform. Published rows for the grid: WGAN-GP 24.2 modes / 28.7% HQ, VEEGAN 24.6 / 40%, PacGAN4 24.8 / 93.6%;
ring: WGAN-GP 6.8 / 59.6%.

The model, its components, losses and optimizers are built by ganzoo from ``recipes/wgan_gp_toy.yaml`` (the
recipe's own settings, ``--set`` overrides on top) and trained by the model's own ``train_step`` under the
recipe's learning-rate schedule. Batches are
drawn straight from the dataset's precomputed points (uniformly, with replacement) rather than through the
engine's DataLoader, whose per-item seeding costs more than a small MLP step on CPU.

    python benchmarks/quality_wgan_gp_toy.py                        # 5 seeds, grid and ring, fp32
    python benchmarks/quality_wgan_gp_toy.py --precision bf16 --tag bf16
    python benchmarks/quality_wgan_gp_toy.py --set components.critic.hidden=[256,256,256] --tag wide

Writes ``benchmarks/results/quality_wgan_gp_toy[_TAG].{json,md}`` and one scatter plot per run.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path

import torch

from ganzoo.build import build_dataset, build_model
from ganzoo.device import autocast, autocast_dtype, seed_everything
from ganzoo.optim import OptimizerSet, Scheduler, make_optimizer
from ganzoo.recipe import load_recipe
from ganzoo.registry import build_registry
from ganzoo.report import save_samples
from ganzoo.resolve import resolve

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {  # (modes, HQ %) from the PacGAN paper's table (same protocol)
    "grid": {"WGAN-GP": (24.2, 28.7), "VEEGAN": (24.6, 40.0), "PacGAN4": (24.8, 93.6)},
    "ring": {"WGAN-GP": (6.8, 59.6)},
}


def train_one(recipe_path: Path, overrides: list[str], device: torch.device, dtype, plot: Path) -> dict:
    """Train one run to the recipe's train.steps; return its final mode coverage and timing."""
    resolved = resolve(load_recipe(recipe_path, overrides), build_registry())
    cfg = resolved.train
    seed_everything(cfg.seed)
    data = build_dataset(resolved, "train")
    model = build_model(resolved).to(device).train()
    optimizers = {g: make_optimizer(s, model.group_parameters(g), device) for g, s in resolved.optim.items()}
    opt = OptimizerSet(model, optimizers, device)
    scheduler = Scheduler(optimizers, cfg.lr_schedule, cfg.steps)
    points = data.points.to(device)
    per_step = cfg.batch_size * model.batches_per_step
    start = time.perf_counter()
    for step in range(cfg.steps):
        batch = {"x": points[torch.randint(len(points), (per_step,), device=device)]}
        scheduler.set_step(step)
        with autocast(device, dtype):
            model.train_step(batch, opt, step)
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad(), autocast(device, dtype):
        torch.manual_seed(10_000 + cfg.seed)
        scores = data.evaluate_samples(lambda n: model.generate(n).float())
        shown = model.generate(2500).float()
    save_samples({"generated": shown}, plot, markers=data.modes,
                 title=f"{resolved.data.params['distribution']} seed {cfg.seed}: {scores['modes']:.0f} modes, "
                       f"{scores['hq_percent']:.1f}% HQ")
    return {"seed": cfg.seed, **scores, "train_seconds": round(seconds, 1)}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for key in ("modes", "hq_percent", "reverse_kl"):
        values = [r[key] for r in runs]
        finite = [v for v in values if math.isfinite(v)]
        out[key] = {"mean": statistics.fmean(finite) if finite else math.inf,
                    "std": statistics.pstdev(finite) if len(finite) > 1 else 0.0}
    return out


def markdown(report: dict) -> str:
    total = sum(r["train_seconds"] for res in report["results"].values() for r in res["runs"])
    lines = [f"# WGAN-GP mode coverage on 2-D toy data ({report['precision']})", "",
             f"Recipe `{report['recipe']}` with overrides {report['overrides'] or 'none'}; "
             f"{report['steps']} generator steps; {report['seeds']} seeds; torch {report['torch']}, "
             f"{report['threads']} CPU thread(s), {report['cpu']}.", "",
             f"Training took {total:.0f} s in all ({total / 60:.1f} min of one CPU thread). Wall times are noisy: the "
             "2 CPU cores were shared with other engineers' jobs during the run.", ""]
    for dist, res in report["results"].items():
        s = res["summary"]
        lines += [f"## {dist}", "", "| | modes | HQ % | reverse KL |", "|---|---|---|---|",
                  f"| **ganzoo WGAN-GP (mean ± std)** | **{s['modes']['mean']:.1f} ± {s['modes']['std']:.1f}** | "
                  f"**{s['hq_percent']['mean']:.1f} ± {s['hq_percent']['std']:.1f}** | "
                  f"**{s['reverse_kl']['mean']:.3f} ± {s['reverse_kl']['std']:.3f}** |"]
        lines += [f"| published {name} | {m} | {hq} | |" for name, (m, hq) in PUBLISHED.get(dist, {}).items()]
        lines += ["", "| seed | modes | HQ % | reverse KL | train s | scatter |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['seed']} | {r['modes']:.0f} | {r['hq_percent']:.1f} | {r['reverse_kl']:.3f} | "
                  f"{r['train_seconds']} | [{Path(r['plot']).name}]({r['plot']}) |" for r in res["runs"]]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "wgan_gp_toy.yaml")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--distributions", nargs="+", default=["grid", "ring"], choices=["grid", "ring"])
    parser.add_argument("--steps", type=int, help="generator steps (default: the recipe's train.steps)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1: the cores are shared)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    dtype = autocast_dtype(args.precision, device)
    name = "quality_wgan_gp_toy" + (f"_{args.tag}" if args.tag else "")
    plots = args.out / name
    plots.mkdir(parents=True, exist_ok=True)
    overrides = list(args.overrides) + ([f"train.steps={args.steps}"] if args.steps else [])

    results = {}
    for dist in args.distributions:
        runs = []
        for seed in range(args.seeds):
            plot = plots / f"{dist}_seed{seed}.png"
            run = train_one(args.recipe, overrides + [f"data.distribution={dist}", f"train.seed={seed}"],
                            device, dtype, plot)
            run["plot"] = str(plot.relative_to(args.out))
            runs.append(run)
            print(f"{dist} seed {seed}: {run['modes']:.0f} modes, {run['hq_percent']:.1f}% HQ, "
                  f"reverse KL {run['reverse_kl']:.3f} ({run['train_seconds']} s)", flush=True)
        results[dist] = {"summary": summarise(runs), "runs": runs}

    steps = resolve(load_recipe(args.recipe, overrides), build_registry()).train.steps
    report = {"recipe": str(args.recipe.relative_to(ROOT)) if args.recipe.is_relative_to(ROOT) else str(args.recipe),
              "overrides": args.overrides, "steps": steps, "seeds": args.seeds, "precision": args.precision,
              "threads": args.threads, "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
              "results": results}
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")
    md = markdown(report)
    (args.out / f"{name}.md").write_text(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
