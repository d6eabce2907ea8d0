"""Where a training step's time goes: the engine's step of a speed workload under torch.profiler, by category.

    python benchmarks/profile_step.py pix2pix --set train.precision=bf16
    python benchmarks/profile_step.py wgan_gp --set train.precision=bf16 --set losses.penalty.precision=autocast
    python benchmarks/profile_step.py pix2pix --set train.precision=bf16 --tag bf16 --top 25

The workload is one of ``speed.py``'s (its recipe, pinned overrides and synthetic in-memory batches), built by
the engine and stepped with ``Trainer._one_step()``. After ``--warmup`` steps, ``--steps`` steps are profiled one
by one; each operator's self time is taken from the step where it was *smallest* (the machine's noise only adds
time), so the categories show what a quiet step costs. Categories: convolutions (forward; backward incl. double
backward), matrix products, dtype casts (``_to_copy``/``copy_``), optimizer updates, normalisation, element-wise
and the rest. Writes ``benchmarks/results/profile-<workload>[-TAG].{json,md}``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import speed  # noqa: E402
import speed_jobs  # noqa: E402

CATEGORIES = (  # first match wins
    ("convolution backward", ("convolution_backward",)),
    ("convolution forward", ("mkldnn_convolution", "_convolution", "cudnn_convolution", "conv")),
    ("matrix products", ("addmm", "mm", "bmm", "matmul", "linear")),
    ("dtype casts and copies", ("_to_copy", "copy_")),
    ("optimizer updates", ("_fused_adam", "_foreach", "adam", "zero_grad")),
    ("normalisation", ("batch_norm", "layer_norm", "group_norm", "instance_norm")),
)


def category(name: str) -> str:
    op = name.split("::")[-1].lower()
    for label, needles in CATEGORIES:
        if any(n in op for n in needles):
            return label
    return "other"


def profile_steps(step, steps: int) -> tuple[list[float], dict[tuple[str, str], float], dict[tuple[str, str], int]]:
    """Wall seconds per profiled step; per (op, input shapes) the smallest self CPU time (µs) over the steps."""
    walls, best, calls = [], {}, {}
    for _ in range(steps):
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            start = time.perf_counter()
            step()
            walls.append(time.perf_counter() - start)
        seen = collections.defaultdict(float)
        for event in prof.key_averages(group_by_input_shape=True):
            if event.key.startswith("aten::") or "Backward" in event.key or "Optimizer" in event.key:
                key = (event.key, str(event.input_shapes))
                seen[key] += event.self_cpu_time_total
                calls[key] = event.count
        for key, us in seen.items():
            best[key] = min(best.get(key, us), us)
    return walls, best, calls


def report(args, walls, best, calls, info) -> dict:
    total = sum(best.values())
    by_cat = collections.defaultdict(float)
    for (name, _), us in best.items():
        by_cat[category(name)] += us
    top = sorted(best.items(), key=lambda kv: -kv[1])[:args.top]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/profile_step.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                   f"{torch.get_num_threads()} threads, torch {torch.__version__}",
        "workload": args.workload, "overrides": args.overrides, "precision": info["precision"],
        "step_seconds": {"min": min(walls), "median": sorted(walls)[len(walls) // 2], "all": walls},
        "profiled_ms": total / 1000,
        "categories_ms": {k: v / 1000 for k, v in sorted(by_cat.items(), key=lambda kv: -kv[1])},
        "top_ops": [{"op": k[0], "shapes": k[1], "calls": calls.get(k), "ms": v / 1000} for k, v in top],
        "load": os.getloadavg()[0],
    }


def markdown(r: dict) -> str:
    lines = [f"# Step profile: {r['workload']} ({r['precision']})", "",
             f"- date: {r['date']}", f"- command: `{r['command']}`", f"- machine: {r['machine']}",
             f"- overrides: {' '.join(r['overrides']) or 'none'}",
             f"- step wall time (profiled, so slower than speed.py's): min {r['step_seconds']['min']:.3f} s, "
             f"median {r['step_seconds']['median']:.3f} s; 1-min load after: {r['load']:.1f}",
             f"- operators' self time, each at its quietest step: {r['profiled_ms']:.1f} ms", "",
             "| category | ms | share |", "|---|---|---|"]
    for name, ms in r["categories_ms"].items():
        lines.append(f"| {name} | {ms:.1f} | {ms / r['profiled_ms']:.1%} |")
    lines += ["", "| operator | input shapes | calls | ms |", "|---|---|---|---|"]
    for op in r["top_ops"]:
        lines.append(f"| {op['op']} | `{op['shapes'][:90]}` | {op['calls']} | {op['ms']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("workload", choices=list(speed.WORKLOADS))
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--tag", default="")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    workload = speed.WORKLOADS[args.workload]
    job = {"recipe": str(workload.recipe), "overrides": list(workload.pins) + args.overrides, "data": "synthetic"}
    with tempfile.TemporaryDirectory(prefix="ganzoo-profile-") as tmp:
        step, info = speed_jobs._engine(job, Path(tmp))
        for _ in range(args.warmup):
            step()
        walls, best, calls = profile_steps(step, args.steps)
    result = report(args, walls, best, calls, info)
    stem = args.out / f"profile-{args.workload}{'-' + args.tag if args.tag else ''}"
    args.out.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
