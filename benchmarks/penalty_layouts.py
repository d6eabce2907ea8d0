"""One WGAN-GP critic update, two layouts: the critic's forward over [real, fake] plus a separate pass for the
gradient penalty's interpolates (what ganzoo does), against one forward over [real, fake, interpolates].

    python benchmarks/penalty_layouts.py                 # the speed workload's critic (64 px, batch 128)
    python benchmarks/penalty_layouts.py --norm batch    # the notes' batch-norm critic (concatenation then mixes
                                                         #   the penalty's samples into the statistics: timing only)

The concatenated layout saves one forward call, but the input gradient (and its double backward) then runs over
all 3n rows instead of n, because a convolution's backward computes every row of its batch. Writes
``benchmarks/results/penalty-layouts.{json,md}``: ms per update (median of ``--repeats``) in fp32 and bf16.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins"))

from ganzoo_wgan.networks import Critic  # noqa: E402


def penalty(grad: torch.Tensor) -> torch.Tensor:
    return ((grad.flatten(1).square().sum(1) + 1e-12).sqrt() - 1).square().mean()


def separate(critic, real, fake):
    n = len(real)
    scores = critic(torch.cat([real, fake])).float()
    x = torch.lerp(fake, real, torch.rand(n, 1, 1, 1)).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).float().sum(), x, create_graph=True)
    (scores[n:].mean() - scores[:n].mean() + 10 * penalty(grad)).backward()


def concatenated(critic, real, fake):
    n = len(real)
    x = torch.lerp(fake, real, torch.rand(n, 1, 1, 1)).requires_grad_(True)
    scores = critic(torch.cat([real, fake, x])).float()
    (grad,) = torch.autograd.grad(scores[2 * n:].sum(), x, create_graph=True)
    (scores[n:2 * n].mean() - scores[:n].mean() + 10 * penalty(grad)).backward()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--norm", default="layer", choices=["layer", "batch", "none"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--out", type=Path, default=HERE / "results" / "penalty-layouts")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    critic = Critic(im_chan=3, hidden_dim=16, image_size=64, norm=args.norm)
    real, fake = torch.rand(2, args.batch, 3, 64, 64) * 2 - 1
    rows = []
    for precision in ("fp32", "bf16"):
        for layout in (separate, concatenated):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                for _ in range(2):
                    layout(critic, real, fake)
                times = []
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    layout(critic, real, fake)
                    times.append((time.perf_counter() - start) * 1000)
            rows.append({"precision": precision, "layout": layout.__name__, "ms": statistics.median(times),
                         "all_ms": times})
    result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
                         f"{torch.get_num_threads()} threads, torch {torch.__version__}",
              "batch": args.batch, "norm": args.norm, "load": os.getloadavg()[0], "rows": rows}
    lines = [f"# WGAN-GP critic update: separate vs concatenated penalty forward ({args.norm} norm, batch "
             f"{args.batch}, 64 px)", "", f"- date: {result['date']}; machine: {result['machine']}; "
             f"1-min load after: {result['load']:.1f}", "", "| precision | layout | ms per critic update (median) |",
             "|---|---|---|"]
    lines += [f"| {r['precision']} | {r['layout']} | {r['ms']:.1f} |" for r in rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
