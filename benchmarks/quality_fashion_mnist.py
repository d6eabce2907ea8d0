"""Quality benchmark: WGAN-GP and DCGAN on Fashion-MNIST, FID / KID / precision-recall against the published table.

Published best FIDs on Fashion-MNIST (Lucic et al., "Are GANs Created Equal? A Large-Scale Study", NeurIPS 2018,
Table 2; each the best of a large hyperparameter search, InfoGAN networks at 28x28, 20 epochs): WGAN 21.5,
BEGAN 22.9, WGAN-GP 24.5, NS GAN 26.5, LSGAN 30.7. ganzoo's rows come from its own recipes
(``recipes/wgan_gp_fashion_mnist.yaml``, ``recipes/dcgan_fashion_mnist.yaml``: the same networks at half width,
28x28 grayscale, the papers' optimisers), trained by ``ganzoo run`` within a stated step budget on the CPU,
then scored by ``ganzoo eval RUN --metrics ... -n N``: N generated samples against the 10,000 real images of
the Fashion-MNIST test split (Lucic et al. compare 10k samples with the test set). The feature network is
the TF Inception-v3 (2015-12-05) behind every published FID; a 28x28 grayscale image enters it as uint8,
its channel replicated to RGB and resized to 299x299 by the network's own TF1 bilinear resize.

Everything goes through the command line, as a user would run it (training: ``ganzoo run``; scoring:
``ganzoo eval``; grids: ``ganzoo sample``). Run directories live outside the repository (``--runs-dir``); a run
directory (``RUNS_DIR/MODEL_seedS``) that already holds a finished run (its last checkpoint at the step count)
is reused, and so is an evaluation of it (``benchmark-eval-nN.json`` there, same step and metrics), so scoring
runs trained elsewhere costs only the evaluation, and a second call only what the first left undone:

    python benchmarks/quality_fashion_mnist.py                                # both models, seed 0
    python benchmarks/quality_fashion_mnist.py --seeds 0 1 2 --runs-dir /work/fmnist-runs
    python benchmarks/quality_fashion_mnist.py --models wgan_gp --steps wgan_gp=4000 --runs-dir DIR --tag long
    python benchmarks/quality_fashion_mnist.py --no-train --runs-dir /work/fmnist-runs  # score finished runs

Writes ``benchmarks/results/quality_fashion_mnist[_TAG].{json,md}`` and a 64-sample grid per run
(``quality_fashion_mnist[_TAG]/MODEL_seedS.png``). Not a test: the numbers depend on the step budget. CPU
minutes are the training process's user + system CPU time; wall times are noisy on shared cores (the JSON
records the load average before and after). Cost of scoring on this CPU: the Inception features take ~0.22
CPU-s per image (fp32), so one run at -n 10000 is ~37 CPU-min plus ~37 more once for the real test split
(cached on disk afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {"wgan_gp": ROOT / "recipes" / "wgan_gp_fashion_mnist.yaml",
           "dcgan": ROOT / "recipes" / "dcgan_fashion_mnist.yaml"}
LABELS = {"wgan_gp": "WGAN-GP", "dcgan": "DCGAN (NS GAN)"}
#: Lucic et al. 2018, Table 2: best FID on Fashion-MNIST per model (lower is better)
PUBLISHED = {"WGAN": 21.5, "BEGAN": 22.9, "WGAN-GP": 24.5, "NS GAN": 26.5, "LSGAN": 30.7}
#: which published row each ganzoo model compares with
COMPARE = {"wgan_gp": "WGAN-GP", "dcgan": "NS GAN"}
DEFAULT_METRICS = "fid,kid,precision_recall"
#: column heading and scale of each metric in the tables
COLUMNS = {"fid": ("FID", 1.0), "kid": ("KID x 10³", 1000.0), "precision": ("precision", 1.0),
           "recall": ("recall", 1.0)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--steps", action="append", default=[], metavar="MODEL=N",
                   help="training steps of a model (default: its recipe's train.steps), e.g. wgan_gp=4000")
    p.add_argument("-n", "--samples", type=int, default=10_000, help="generated samples scored per run")
    p.add_argument("--metrics", default=DEFAULT_METRICS)
    p.add_argument("--threads", type=int, default=1, help="training threads (1: the cores are shared)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="extra recipe override for every run")
    p.add_argument("--runs-dir", type=Path, default=Path("/tmp/ganzoo-fashion-mnist-runs"),
                   help="where run directories go (outside the repository); finished runs there are reused")
    p.add_argument("--no-train", action="store_true", help="only score runs that already finished")
    p.add_argument("--cpu-seconds", action="append", default=[], metavar="MODEL_seedS=SECONDS",
                   help="training CPU time of a reused run, measured when it ran (e.g. dcgan_seed0=525)")
    p.add_argument("--no-eval", action="store_true", help="train and draw grids only")
    p.add_argument("--tag", default="", help="suffix of the result files")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = p.parse_args(argv)
    steps = {}
    for item in args.steps:
        model, _, n = item.partition("=")
        if model not in RECIPES or not n.isdigit():
            p.error(f"--steps takes MODEL=N with MODEL in {', '.join(RECIPES)}, got {item!r}")
        steps[model] = int(n)
    args.steps = steps
    cpu = {}
    for item in args.cpu_seconds:
        run, _, seconds = item.partition("=")
        try:
            cpu[run] = float(seconds)
        except ValueError:
            p.error(f"--cpu-seconds takes MODEL_seedS=SECONDS, got {item!r}")
    args.cpu_seconds = cpu
    return args


def ganzoo(*args: object) -> subprocess.CompletedProcess:
    """The ganzoo command line in a child process (same interpreter, same PYTHONPATH); output passes through."""
    cmd = [sys.executable, "-m", "ganzoo", *map(str, args)]
    print("$ " + " ".join(cmd[2:]), flush=True)
    return subprocess.run(cmd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def run_overrides(args: argparse.Namespace, model: str, seed: int) -> list[str]:
    extra = [f"train.seed={seed}", f"train.threads={args.threads}", "train.device=cpu", *args.overrides]
    if model in args.steps:
        extra.append(f"train.steps={args.steps[model]}")
    return extra


def finished_step(run: Path) -> int | None:
    """The step of the run's last checkpoint, or None when it has none."""
    from ganzoo.checkpoint import load

    last = run / "checkpoints" / "last.pt"
    return int(load(last)["step"]) if last.is_file() else None


def logged_time(run: Path) -> dict:
    """Training wall seconds of a reused run, from the last row of its metrics log (CPU time is unknown)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    times = [r["time"] for r in rows if "time" in r]
    return {"wall_seconds": round(max(times), 1), "reused": True} if times else {"reused": True}


def recipe_steps(recipe: Path, overrides: list[str]) -> int:
    from ganzoo.recipe import load_recipe
    from ganzoo.registry import build_registry
    from ganzoo.resolve import resolve

    return resolve(load_recipe(recipe, overrides), build_registry()).train.steps


def train(recipe: Path, run: Path, overrides: list[str]) -> dict:
    """``ganzoo run`` into ``run``; wall seconds and CPU seconds (user + system) of the training process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    sets = [a for o in overrides for a in ("--set", o)]
    proc = ganzoo("run", recipe, "--out", run, "--no-progress", *sets)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(proc.stdout[-2000:], flush=True)
    if proc.returncode:
        raise SystemExit(f"training failed ({run}): {proc.stdout.strip().splitlines()[-1:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)}


def evaluate(run: Path, metrics: str, n: int) -> dict:
    """FID/KID/... of ``n`` generated samples (the run's seed) against the real test split: ``ganzoo eval`` into a
    file of the benchmark's own beside the run; returns that record, or {"error": its last output line}.

    The one place that knows the evaluation command's interface.
    """
    out = run / f"benchmark-eval-n{n}.json"
    if out.is_file():
        record = json.loads(out.read_text())
        if record.get("step") == finished_step(run) and set(metrics.split(",")) <= set(record.get("metrics", [])):
            print(f"reusing {out} (step {record['step']})", flush=True)
            return record
    proc = ganzoo("eval", run, "--metrics", metrics, "-n", n, "--split", "test", "--device", "cpu",
                  "--no-progress", "--out", out)
    print(proc.stdout[-3000:], flush=True)
    if proc.returncode:
        return {"error": (proc.stdout.strip().splitlines() or ["ganzoo eval failed"])[-1]}
    record = json.loads(out.read_text()) | {"metrics": metrics.split(",")}
    out.write_text(json.dumps(record, indent=2) + "\n")  # which metrics were asked for: a later call may reuse it
    return record


def scores_of(evaluation: dict) -> dict[str, float]:
    """Flat {metric: value} out of eval.json's results (nested dicts are joined with '/')."""
    flat: dict[str, float] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}/{k}" if prefix else str(k), v)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            flat[prefix] = float(value)

    walk("", evaluation.get("results", {}))
    return flat


def grid(run: Path, out: Path, seed: int) -> None:
    # the grid is this benchmark's own output file: redraw it on a rerun
    proc = ganzoo("sample", run / "checkpoints" / "last.pt", "-n", 64, "--out", out, "--seed", seed, "--overwrite")
    if proc.returncode:
        raise SystemExit(f"sampling failed ({run}): {proc.stdout.strip()}")


def summary(runs: list[dict]) -> dict[str, dict[str, float]]:
    keys = sorted({k for r in runs for k in r.get("scores", {})})
    out = {}
    for key in keys:
        values = [r["scores"][key] for r in runs if key in r.get("scores", {})]
        out[key] = {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0,
                    "n": len(values)}
    return out


def pick(scores: dict, name: str) -> str | None:
    """The key of metric ``name`` among eval.json's flat scores: ``name`` itself, ``name/mean`` (KID's mean over
    subsets), else a key whose last part is ``name`` (``precision_recall/precision``)."""
    for key in (name, f"{name}/mean"):
        if key in scores:
            return key
    return next((k for k in scores if k.split("/")[-1] == name), None)


def markdown(report: dict) -> str:
    lines = [
        "# Fashion-MNIST: FID / KID of ganzoo's WGAN-GP and DCGAN against Lucic et al. 2018",
        "",
        f"{report['date']}; {report['machine']}; torch {report['torch']}; load average {report['load_before']} "
        f"before, {report['load_after']} after (the 2 cores were shared with other jobs: wall times are noisy, "
        "CPU minutes less so).",
        "",
        "**Protocol.** " + report["protocol"],
        "",
    ]
    overrides = report.get("config", {}).get("overrides") or []
    if overrides:
        lines += ["**Recipe overrides** (every run): " + " ".join(f"`{o}`" for o in overrides), ""]
    metric_cols = report["metric_columns"]
    names = [COLUMNS[c][0] for c in metric_cols]
    head = "| model | " + " | ".join(names) + " | seeds | steps | CPU min / run | wall min / run |"
    lines += [head, "|" + "---|" * (len(metric_cols) + 5)]
    for model, res in report["results"].items():
        s, runs = res["summary"], res["runs"]
        cells = []
        for col in metric_cols:
            key = pick(s, col)
            scale = COLUMNS[col][1]
            spread = f" ± {s[key]['std'] * scale:.2f}" if len(runs) > 1 else " (1 seed)"
            cells.append(f"**{s[key]['mean'] * scale:.2f}**{spread}" if key else "—")
        cpu = statistics.fmean(r["cpu_seconds"] for r in runs) / 60 if all("cpu_seconds" in r for r in runs) else None
        wall = statistics.fmean(r["wall_seconds"] for r in runs) / 60 if all("wall_seconds" in r for r in runs) else None
        lines.append(f"| **ganzoo {LABELS[model]}** (mean ± std) | " + " | ".join(cells) +
                     f" | {', '.join(str(r['seed']) for r in runs)} | {res['steps']} | "
                     f"{f'{cpu:.0f}' if cpu is not None else '—'} | {f'{wall:.0f}' if wall is not None else '—'} |")
    for name, fid in PUBLISHED.items():
        cells = [str(fid)] + [""] * (len(metric_cols) - 1) + ["", "20 epochs", "— (GPU)", ""]
        lines.append(f"| published {name} (Lucic et al., best of a large search) | " + " | ".join(cells) + " |")
    if not any(r.get("scores") for res in report["results"].values() for r in res["runs"]):
        lines += ["", "Not scored yet (trained and sampled only): `python benchmarks/quality_fashion_mnist.py "
                  "--no-train --runs-dir RUNS` scores the finished runs."]
    lines += ["", "## Runs", "", "| model | seed | " + " | ".join(names) + " | CPU min | wall min | samples |",
              "|" + "---|" * (len(metric_cols) + 5)]
    for model, res in report["results"].items():
        for r in res["runs"]:
            cells = [f"{r['scores'][k] * COLUMNS[col][1]:.3f}" if (k := pick(r.get("scores", {}), col)) else "—"
                     for col in metric_cols]
            cpu = f"{r['cpu_seconds'] / 60:.1f}" if "cpu_seconds" in r else "— (reused run)"
            wall = f"{r['wall_seconds'] / 60:.1f}" if "wall_seconds" in r else "—"
            lines.append(f"| {LABELS[model]} | {r['seed']} | " + " | ".join(cells) +
                         f" | {cpu} | {wall} | [{Path(r['grid']).name}]({r['grid']}) |")
            if r.get("eval_error"):
                lines.append(f"| | | not scored: {r['eval_error']} |" + " |" * (len(metric_cols) + 2))
    lines.append("")
    for model, res in report["results"].items():
        for r in res["runs"]:
            lines += [f"**{LABELS[model]}, seed {r['seed']}** ({res['steps']} steps; 64 samples, `ganzoo sample`):",
                      "", f"![{model} seed {r['seed']}]({r['grid']})", ""]
    return "\n".join(lines)


PROTOCOL = (
    "Lucic et al. 2018 (as their Table 2): FID between 10,000 generated samples and the 10,000 images of the "
    "Fashion-MNIST **test** split, both at 28x28 grayscale. **Here: {n:,} generated samples against the first "
    "{real:,} test images**{small}. Features: TF Inception-v3 (2015-12-05) pool3 (2048-d); "
    "a 28x28 image in [-1, 1] is quantised to uint8, its gray channel replicated to 3 channels and resized to "
    "299x299 by the feature network's own TF1 bilinear resize. KID: unbiased MMD with the cubic polynomial kernel, "
    "mean over 100 subsets of 1,000 (shown x 1000); precision/recall: Kynkäänniemi et al. 2019, k = 3. "
    "Published numbers are the best of ~100 hyperparameter settings per model on GPUs (InfoGAN networks at full "
    "width, 20 epochs); ganzoo's are one fixed recipe each (half-width networks), trained on {threads} CPU "
    "thread(s) for the steps stated. Evaluation command: `ganzoo eval RUN --metrics {metrics} -n {n}`."
)

SMALL_N = (" (fewer than the published protocol's 10,000, to fit a CPU budget: FID is biased upward at smaller "
           "counts, so these FIDs overstate the 10k values, i.e. they are pessimistic next to the published rows; "
           "KID is unbiased at any count)")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    stem = "quality_fashion_mnist" + (f"_{args.tag}" if args.tag else "")
    grids = args.out / stem
    grids.mkdir(parents=True, exist_ok=True)
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    report: dict = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "published_fid": PUBLISHED,
        "protocol": PROTOCOL.format(n=args.samples, real=min(args.samples, 10_000), threads=args.threads,
                                    metrics=args.metrics, small=SMALL_N if args.samples < 10_000 else ""),
        "results": {},
    }
    for model in args.models:
        recipe = RECIPES[model]
        runs = []
        steps = recipe_steps(recipe, run_overrides(args, model, 0))
        for seed in args.seeds:
            run = args.runs_dir / f"{model}_seed{seed}"
            row: dict = {"seed": seed, "run": str(run)}
            done = finished_step(run)
            if done is not None and done >= steps:
                print(f"{model} seed {seed}: reusing the finished run {run} (step {done})", flush=True)
                row.update(logged_time(run))
                if run.name in args.cpu_seconds:
                    row["cpu_seconds"] = args.cpu_seconds[run.name]
            elif args.no_train:
                print(f"{model} seed {seed}: no finished run in {run}, skipped (--no-train)", flush=True)
                continue
            elif run.exists() and any(run.iterdir()):
                raise SystemExit(f"{run} holds an unfinished run (step {done}): resume it with `ganzoo run "
                                 f"{recipe} --resume {run}` or remove it")
            else:
                row.update(train(recipe, run, run_overrides(args, model, seed)))
            picture = grids / f"{model}_seed{seed}.png"
            grid(run, picture, seed)
            row["grid"] = str(picture.relative_to(args.out))
            if not args.no_eval:
                evaluation = evaluate(run, args.metrics, args.samples)
                if "error" in evaluation:
                    row["eval_error"] = evaluation["error"]
                else:
                    row["eval"] = evaluation
                    row["scores"] = scores_of(evaluation)
            runs.append(row)
            print(f"{model} seed {seed}: {json.dumps(row.get('scores') or row.get('eval_error'))}", flush=True)
        report["results"][model] = {"recipe": str(recipe.relative_to(ROOT)), "steps": steps,
                                    "summary": summary(runs), "runs": runs}
    report["metric_columns"] = [m for m in ("fid", "kid", "precision", "recall")
                                if any(pick(r.get("scores", {}), m) for res in report["results"].values()
                                       for r in res["runs"])] or ["fid"]
    report["load_after"] = [round(x, 2) for x in os.getloadavg()]
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (args.out / f"{stem}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
