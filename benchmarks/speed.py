"""Speed benchmark: ganzoo's training step against plain PyTorch loops of the same step, side by side.

    python benchmarks/speed.py                                # CPU, all workloads and default variants (~15-20 min)
    python benchmarks/speed.py --quick                        # fewer steps and variants
    python benchmarks/speed.py --workloads pix2pix,wgan_gp --steps 10 --warmup 3
    python benchmarks/speed.py --device cuda                  # plain fp32 vs engine fp32, bf16, compile
    python benchmarks/speed.py --variants plain,engine-ref,engine --threads 1
    python benchmarks/speed.py --quick --rounds 3             # interleave 3 rounds: fairer on a busy machine
    python benchmarks/speed.py --variant 'bf16-nchw=train.precision=bf16 train.channels_last=false'
    python benchmarks/speed.py --set 'optim.*.fused=false'    # applies to every engine variant ('*' = each group)
    python benchmarks/speed.py recipes/dcgan.yaml --workloads none   # any recipe, through the engine only
    python benchmarks/speed.py --list                         # workloads and variants, then exit

Workloads (issue 8): pix2pix (unet_256 + 70x70 PatchGAN, 256 px, batch 1), CycleGAN (resnet_9blocks + PatchGAN,
256 px, batch 1, identity 0.5), WGAN-GP (the notes' generator and critic, 64 px, batch 128, 5 critic steps per
generator step). Each is timed two ways:

- plain: a straightforward eager loop written in ``reference_loops.py`` with its own network definitions,
  mirroring the reference implementations (fp32, NCHW, default Adam): what users run today;
- engine-*: ganzoo's engine, a ``Trainer`` built from the shipped recipe (``recipes/<name>.yaml`` plus the
  workload's pinned overrides, the variant's overrides, then ``--set``), timing ``Trainer._one_step()``
  (cadence work - logs, samples, checkpoints - is excluded). Data: synthetic batches made in memory (uniform
  noise shaped like the recipe's items, as for the plain loops), except ``engine-data``, which is fed by the
  recipe's embedded dataset through the engine's DataLoader workers, so the data pipeline's cost on the
  critical path (and its CPU use beside the step) shows up as a difference.

Every job runs in its own subprocess, one after another, so each has a clean memory high-water mark and fault
count. Per job: median, min and max seconds per step over ``--steps`` steps after ``--warmup`` steps, samples/s,
FLOPs per step (``FlopCounterMode``), GFLOP/s, share of this machine's own peak (best forward conv/matmul,
measured before and after the jobs at the same thread count), peak memory (RSS; CUDA: max allocated), minor
page faults per step, and the speed-up over the plain loop. Results: ``benchmarks/results/speed-<device>.json``
and ``.md`` (``--quick``: ``speed-<device>-quick.*``; ``--out PREFIX`` elsewhere). The numbers are only as
quiet as the machine: the report records the load average; say in ``--note`` what else was running.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
JOB_TIMEOUT_S = 1800

# glibc reads these at start-up: the same thresholds as ganzoo.device.tune_allocator sets with mallopt.
TUNED_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


@dataclass(frozen=True)
class Variant:
    name: str
    doc: str
    engine: bool = True
    overrides: tuple[str, ...] = ()  # recipe --set overrides; 'optim.*.x' means every optimizer group
    data: str = "synthetic"  # or "pipeline": the recipe's dataset through the engine's DataLoader
    env: tuple[tuple[str, str], ...] = ()
    min_warmup: int = 1


VARIANTS = {v.name: v for v in (
    Variant("plain", "plain eager loop (reference code): fp32, NCHW, default Adam", engine=False),
    Variant("plain+malloc", "plain loop with glibc malloc thresholds raised as the engine does (tune_allocator)",
            engine=False, env=tuple(TUNED_MALLOC_ENV.items())),
    Variant("engine-ref", "ganzoo engine with the plain loop's settings: fp32, NCHW, non-fused Adam",
            overrides=("train.precision=fp32", "train.channels_last=false", "optim.*.fused=false")),
    Variant("engine", "ganzoo engine with the recipe's settings (channels_last auto, fused Adam, precision auto)"),
    Variant("engine-nchw", "engine, channels_last off", overrides=("train.channels_last=false",)),
    Variant("engine-cl", "engine, channels_last on", overrides=("train.channels_last=true",)),
    Variant("engine-thp", "engine with PyTorch's allocator backing large tensors by transparent huge pages "
            "(THP_MEM_ALLOC_ENABLE=1)", env=(("THP_MEM_ALLOC_ENABLE", "1"),)),
    Variant("engine-adam", "engine with non-fused Adam", overrides=("optim.*.fused=false",)),
    Variant("engine-fp32", "engine in fp32", overrides=("train.precision=fp32",)),
    Variant("engine-bf16", "engine with bf16 autocast", overrides=("train.precision=bf16",)),
    Variant("engine-compile", "engine with torch.compile on every component (compile time in the first step)",
            overrides=("train.compile=true",), min_warmup=3),
    Variant("engine-data", "engine fed by the recipe's embedded dataset through DataLoader workers",
            data="pipeline", min_warmup=2),
    Variant("engine-bf16-gp", "engine in bf16 with the gradient penalty under autocast too (losses.penalty.precision)",
            overrides=("train.precision=bf16", "losses.penalty.precision=autocast")),
    Variant("engine-lazy4", "engine with the penalty on every 4th critic update, weight x 4 (model.penalty_every)",
            overrides=("model.penalty_every=4",)),
    Variant("engine-bf16-lazy4", "engine in bf16, penalty under autocast on every 4th critic update",
            overrides=("train.precision=bf16", "losses.penalty.precision=autocast", "model.penalty_every=4")),
    Variant("engine-layernorm", "engine with the shipped recipe's layer-norm critic (the plain loop has batch norm)",
            overrides=("components.critic.norm=layer",)),
)}


@dataclass(frozen=True)
class Workload:
    name: str
    doc: str
    recipe: Path
    pins: tuple[str, ...]  # overrides that fix the workload whatever the shipped recipe's defaults become
    item_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per-sample input shapes (plain loop)
    batch_size: int = 1
    batches_per_step: int = 1  # real batches one plain-loop step draws (WGAN-GP: one per critic step)
    steps: tuple[int, int] = (3, 10)  # (warm-up, timed) on CPU
    quick_steps: tuple[int, int] = (1, 3)
    cuda_steps: tuple[int, int] = (10, 50)  # GPU steps take milliseconds: more of them
    cpu_variants: tuple[str, ...] = ("plain", "plain+malloc", "engine-ref", "engine", "engine-cl", "engine-thp",
                                     "engine-adam", "engine-bf16", "engine-compile", "engine-data")

    @property
    def has_plain(self) -> bool:
        return bool(self.item_shapes)


WORKLOADS = {w.name: w for w in (
    Workload("pix2pix", "unet_256 + 70x70 PatchGAN, 256x256, batch 1", ROOT / "recipes/pix2pix.yaml",
             ("components.generator.name=unet_256", "components.discriminator.n_layers=3", "train.batch_size=1",
              "data.crop_size=256"),
             {"A": (3, 256, 256), "B": (3, 256, 256)}, 1),
    Workload("cyclegan", "resnet_9blocks + PatchGAN, 256x256, batch 1, identity 0.5", ROOT / "recipes/cyclegan.yaml",
             ("components.G_AB.name=resnet_9blocks", "components.G_BA.name=resnet_9blocks", "train.batch_size=1",
              "data.image_size=256", "losses.cycle.weight=10.0", "losses.identity.weight=5.0"),
             {"A": (3, 256, 256), "B": (3, 256, 256)}, 1, steps=(1, 3), quick_steps=(1, 2), cuda_steps=(5, 20),
             cpu_variants=("plain", "engine-ref", "engine", "engine-bf16")),
    Workload("wgan_gp", "the notes' generator and critic, 64x64, batch 128, 5 critic steps per G step",
             ROOT / "recipes/wgan_gp.yaml",
             ("model.n_critic=5", "train.batch_size=128", "components.generator.z_dim=10",
              "components.generator.hidden_dim=32", "components.generator.image_size=64",
              "components.critic.hidden_dim=16", "components.critic.image_size=64", "components.critic.norm=batch",
              "data.image_size=64"),
             {"x": (3, 64, 64)}, 128, batches_per_step=5, steps=(2, 6), quick_steps=(1, 2),
             cpu_variants=("plain", "plain+malloc", "engine-ref", "engine", "engine-cl", "engine-thp", "engine-adam",
                           "engine-bf16", "engine-bf16-gp", "engine-lazy4", "engine-bf16-lazy4", "engine-data",
                           "engine-layernorm")),
)}
QUICK_VARIANTS = ("plain", "engine-ref", "engine", "engine-bf16")
CUDA_VARIANTS = ("plain", "engine-ref", "engine-fp32", "engine", "engine-compile", "engine-data")
CUDA_QUICK_VARIANTS = ("plain", "engine-ref", "engine")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Variants:\n" + "\n".join(f"  {v.name:<17} {v.doc}" for v in VARIANTS.values()))
    p.add_argument("recipes", nargs="*", type=Path, help="extra recipes to time through the engine (no plain loop)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma list of {', '.join(WORKLOADS)}, or none")
    p.add_argument("--variants", help="comma list of variants for every workload (default: per device and workload)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=OVERRIDES",
                   help="an extra engine variant: a name and space-separated recipe overrides")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="recipe override applied to every engine variant ('optim.*.fused=false': every group)")
    p.add_argument("--steps", type=int, help="timed steps per job (default: per workload)")
    p.add_argument("--warmup", type=int, help="untimed warm-up steps per job (default: per workload)")
    p.add_argument("--quick", action="store_true", help="fewer steps and variants")
    p.add_argument("--threads", type=int, help="intra-op threads for every job (default: torch's choice)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run the whole job list this many times, interleaved, pooling each job's timed steps "
                        "(evens out load swings on a shared machine)")
    p.add_argument("--no-peak", action="store_true", help="skip measuring the machine's peak GFLOP/s")
    p.add_argument("--note", default="", help="a remark for the report, e.g. what else ran on the machine")
    p.add_argument("--out", type=Path, help="output prefix (default: benchmarks/results/speed-<device>)")
    p.add_argument("--list", action="store_true", help="print workloads and variants, then exit")
    p.add_argument("--job", help=argparse.SUPPRESS)  # internal: run one job (JSON) in this process
    p.add_argument("--job-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if (args.steps is not None and args.steps < 1) or (args.warmup is not None and args.warmup < 0) or args.rounds < 1:
        p.error("--steps and --rounds must be >= 1, --warmup >= 0")
    args.workloads = [] if args.workloads in ("", "none") else args.workloads.split(",")
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(WORKLOADS)}")
    extra = {}
    for spec in args.variant:
        name, sep, overrides = spec.partition("=")
        if not sep or not name or name in VARIANTS:
            p.error(f"--variant {spec!r}: expected NEW_NAME=KEY=VALUE [KEY=VALUE ...]")
        extra[name] = Variant(name, f"custom: {overrides}", overrides=tuple(shlex.split(overrides)))
    args.extra_variants = extra
    if args.variants:
        args.variants = args.variants.split(",")
        unknown = [v for v in args.variants if v not in VARIANTS and v not in extra]
        if unknown:
            p.error(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)}")
    for path in args.recipes:
        if not path.is_file():
            p.error(f"recipe not found: {path}")
    return args


# Planning ---------------------------------------------------------------------------------------------------
def expand(overrides: tuple[str, ...] | list[str], groups: list[str]) -> list[str]:
    """'optim.*.key=value' -> one override per optimizer group."""
    out = []
    for o in overrides:
        if o.startswith("optim.*."):
            out += [o.replace("optim.*.", f"optim.{g}.", 1) for g in groups]
        else:
            out.append(o)
    return out


def optimizer_groups(recipe: Path) -> list[str]:
    from ganzoo.recipe import load_recipe

    return list((load_recipe(recipe).data.get("optim") or {}).keys())


def variant_names(args: argparse.Namespace, workload: Workload | None) -> list[str]:
    if args.variants:
        names = list(args.variants)
    elif args.device == "cuda":
        names = list(CUDA_QUICK_VARIANTS if args.quick else CUDA_VARIANTS)
    else:
        names = list(QUICK_VARIANTS if args.quick else (workload.cpu_variants if workload else QUICK_VARIANTS))
    names += [n for n in args.extra_variants if n not in names]
    has_plain = workload is not None and workload.has_plain
    return [n for n in names if has_plain or (args.extra_variants.get(n) or VARIANTS[n]).engine]


def plan(args: argparse.Namespace) -> list[tuple[str, dict, Variant, dict]]:
    """(workload name, workload info, variant, job) for every job, in run order."""
    targets = [(WORKLOADS[w].name, WORKLOADS[w]) for w in args.workloads]
    targets += [(path.stem, path) for path in args.recipes]
    jobs = []
    for name, target in targets:
        workload = target if isinstance(target, Workload) else None
        recipe = (workload.recipe if workload else target).resolve()
        pins = workload.pins if workload else ()
        if workload:
            warmup, steps = workload.quick_steps if args.quick else (
                workload.cuda_steps if args.device == "cuda" else workload.steps)
        else:
            warmup, steps = (1, 3) if args.quick else (2, 5)
        warmup = args.warmup if args.warmup is not None else warmup
        steps = args.steps if args.steps is not None else steps
        groups = optimizer_groups(recipe)
        shown = str(recipe.relative_to(ROOT) if recipe.is_relative_to(ROOT) else recipe)
        info = {"doc": workload.doc if workload else f"recipe {shown}", "recipe": shown, "pins": list(pins)}
        counted: set[str] = set()
        for vname in variant_names(args, workload):
            v = args.extra_variants.get(vname) or VARIANTS[vname]
            job: dict[str, Any] = {"kind": "engine" if v.engine else "plain", "workload": name, "device": args.device,
                                   "threads": args.threads, "warmup": max(warmup, v.min_warmup), "steps": steps}
            if v.engine:
                base = [f"train.device={args.device}", "train.epochs=null", "train.steps=1000000",
                        "train.tensorboard=false", "train.sample_count=1", "train.eval_at_end=false"]
                if v.data == "synthetic":
                    base.append("train.workers=0")
                if args.threads:
                    base.append(f"train.threads={args.threads}")
                job |= {"recipe": str(recipe), "data": v.data,
                        "overrides": expand(base + list(pins) + list(v.overrides) + args.overrides, groups)}
                compiled = any(o.replace(" ", "") == "train.compile=true" for o in job["overrides"])
            else:
                # two steps' worth of batches, as the engine's synthetic feed holds two (larger) batches
                job |= {"item_shapes": workload.item_shapes, "batch_size": workload.batch_size,
                        "pool": 2 * workload.batches_per_step}
                compiled = False
            # The built-in variants of one code path do the same FLOPs: count once per path, in an eager job.
            # A custom variant may change the networks: it counts its own.
            job["count_flops"] = not compiled and (job["kind"] not in counted or vname in args.extra_variants)
            if job["count_flops"]:
                counted.add(job["kind"])
            jobs.append((name, info, v, job))
    return jobs


# Running ----------------------------------------------------------------------------------------------------
def run_in_subprocess(job: dict, env_extra: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="ganzoo-speed-job-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--job", json.dumps(job), "--job-out", str(out)]
        env = os.environ | env_extra
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=JOB_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {JOB_TIMEOUT_S} s"}
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            return {"error": "\n".join(tail) or f"exit status {proc.returncode}"}
        return json.loads(out.read_text())


def merge_rounds(results: list[dict]) -> dict:
    """One row from the rounds of a job: timed steps pooled, worst memory, mean faults, per-round medians."""
    ok = [r for r in results if "times_s" in r]
    if len(ok) <= 1:
        return ok[0] if ok else results[-1]
    times = [t for r in ok for t in r["times_s"]]
    row = ok[0] | {
        "times_s": times, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
        "round_medians_s": [r["median_s"] for r in ok], "failed_rounds": len(results) - len(ok),
        "minor_faults_per_step": statistics.mean(r["minor_faults_per_step"] for r in ok),
        "major_faults_per_step": statistics.mean(r["major_faults_per_step"] for r in ok),
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in ok),
        "load_before": min(r["load_before"] for r in ok), "load_after": max(r["load_after"] for r in ok),
    }
    if "peak_cuda_bytes" in row:
        row["peak_cuda_bytes"] = max(r["peak_cuda_bytes"] for r in ok)
    return row


def measure_peak(args: argparse.Namespace, when: str) -> dict | None:
    print(f"measuring this machine's peak GFLOP/s {when} ...", flush=True)
    peak = run_in_subprocess({"kind": "peak", "device": args.device, "threads": args.threads}, {})
    if "error" in peak:
        print(f"  peak measurement failed: {peak['error']}", file=sys.stderr)
        return None
    print(f"  fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s ({peak['threads']} threads)")
    return peak | {"when": when}


def best_peak(peaks: list[dict | None]) -> dict | None:
    """The best of the measurements before and after the jobs: a peak read while others load the machine is low."""
    peaks = [p for p in peaks if p]
    if not peaks:
        return None
    best = dict(peaks[0])
    best["measurements"] = [{k: p[k] for k in ("when", "fp32", "bf16", "load_before", "load_after")} for p in peaks]
    for dtype in ("fp32", "bf16"):
        best[dtype] = max(p[dtype] for p in peaks)
    best["cases"] = [c | {"when": p["when"]} for p in peaks for c in p["cases"]]
    return best


def describe_row(row: dict) -> str:
    if "median_s" not in row:
        return f"FAILED: {row['error'].splitlines()[-1] if row.get('error') else '?'}"
    mem = row.get("peak_cuda_bytes", row["peak_rss_bytes"]) / 2**30
    flops = f", {row['flops'] / 1e9:.1f} GFLOP" if row.get("flops") else ""
    return (f"{row['median_s']:.3f} s/iter ({row['min_s']:.3f}-{row['max_s']:.3f}), {mem:.2f} GiB, "
            f"{row['minor_faults_per_step']:.0f} faults/step{flops}, load {row['load_after']:.1f}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.job:
        sys.path.insert(0, str(HERE))
        from speed_jobs import run_job

        args.job_out.write_text(json.dumps(run_job(json.loads(args.job))))
        return 0
    if args.list:
        for w in WORKLOADS.values():
            print(f"{w.name:<10} {w.doc}\n{'':<10} recipe {w.recipe.relative_to(ROOT)} + {' '.join(w.pins)}\n"
                  f"{'':<10} CPU variants: {', '.join(w.cpu_variants)}")
        print("\nvariants:")
        for v in VARIANTS.values():
            print(f"  {v.name:<17} {v.doc}")
        return 0

    sys.path.insert(0, str(HERE))
    import torch

    import measure
    import speed_report

    jobs = plan(args)
    started = time.perf_counter()
    peaks = [] if args.no_peak else [measure_peak(args, "before the jobs")]
    results: list[list[dict]] = [[] for _ in jobs]
    for round_ in range(args.rounds):
        for i, (name, info, variant, job) in enumerate(jobs):
            label = f"round {round_ + 1}/{args.rounds}, job " if args.rounds > 1 else ""
            print(f"[{label}{i + 1}/{len(jobs)}] {name} {variant.name} ({job['warmup']}+{job['steps']} steps) ...",
                  flush=True)
            result = run_in_subprocess(job | {"count_flops": job["count_flops"] and round_ == 0}, dict(variant.env))
            print(f"    {describe_row(result)}", flush=True)
            results[i].append(result)
    workloads: dict[str, dict] = {}
    for (name, info, variant, job), rounds in zip(jobs, results):
        row = merge_rounds(rounds) | {
            "variant": variant.name, "doc": variant.doc, "kind": job["kind"], "warmup": job["warmup"],
            "steps": job["steps"], "overrides": job.get("overrides", []), "data": job.get("data", "synthetic"),
            "env": dict(variant.env)}
        workloads.setdefault(name, info | {"rows": []})["rows"].append(row)

    if not args.no_peak:
        peaks.append(measure_peak(args, "after the jobs"))
    peak = best_peak(peaks)
    for name, w in workloads.items():
        speed_report.derive(w["rows"], peak)
        w["summary"] = speed_report.summarise(name, w["rows"])
    loads = [r[k] for w in workloads.values() for r in w["rows"] for k in ("load_before", "load_after") if k in r]
    machine = (peak or {}).get("machine") or measure.machine_info(torch.device(args.device))
    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python", "benchmarks/speed.py", *(argv if argv is not None else sys.argv[1:])]),
        "device": args.device,
        "note": args.note,
        "machine": machine,
        "threads": (peak or {}).get("threads") or args.threads or machine.get("threads"),
        "peak": {k: v for k, v in (peak or {}).items() if k != "machine"} or None,
        "load": [min(loads, default=0.0), max(loads, default=0.0)],
        "settings": {"quick": args.quick, "overrides": args.overrides, "threads": args.threads, "rounds": args.rounds},
        "wall_s": round(time.perf_counter() - started, 1),
        "reference": speed_report.REFERENCE,
        "workloads": workloads,
    }
    prefix = args.out or HERE / "results" / f"speed-{args.device}{'-quick' if args.quick else ''}"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{prefix}.json").write_text(json.dumps(report, indent=1) + "\n")
    Path(f"{prefix}.md").write_text(speed_report.markdown(report))
    for name, w in workloads.items():
        for line in speed_report.parameter_lines(w["rows"]) + w["summary"]:
            print(f"{name}: {line}")
    print(f"wrote {prefix}.json and {prefix}.md ({report['wall_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
