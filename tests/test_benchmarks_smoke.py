"""Smoke tests of the speed benchmark's command line and job planning (no timing, no training step)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SPEED = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("speed_benchmark", SPEED)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_help_and_list_run():
    def run(*args: str) -> str:
        return subprocess.run([sys.executable, str(SPEED), *args], capture_output=True, text=True, check=True).stdout

    help_text = run("--help")
    assert "--workloads" in help_text and "engine-ref" in help_text
    listing = run("--list")
    for name in ("pix2pix", "cyclegan", "wgan_gp", "plain+malloc", "engine-compile"):
        assert name in listing


def test_plan_expands_overrides_and_counts_flops_once_per_code_path(speed):
    args = speed.parse_args(["--workloads", "pix2pix", "--variants", "plain,engine-ref,engine,engine-compile",
                             "--set", "train.log_every=7", "--steps", "4", "--warmup", "1"])
    jobs = {variant.name: job for _, _, variant, job in speed.plan(args)}
    assert list(jobs) == ["plain", "engine-ref", "engine", "engine-compile"]
    ref = jobs["engine-ref"]["overrides"]
    assert {"optim.G.fused=false", "optim.D.fused=false", "train.channels_last=false"} <= set(ref)
    assert ref[-1] == "train.log_every=7"  # --set comes last, so it wins
    assert jobs["plain"]["item_shapes"] == {"A": (3, 256, 256), "B": (3, 256, 256)}
    assert [jobs[v]["count_flops"] for v in jobs] == [True, True, False, False]
    assert jobs["engine-compile"]["warmup"] == 3 and jobs["engine"]["steps"] == 4


def test_recipe_argument_gets_engine_variants_only(speed):
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "pix2pix.yaml"
    args = speed.parse_args([str(recipe), "--workloads", "none", "--quick"])
    kinds = {job["kind"] for _, _, _, job in speed.plan(args)}
    assert kinds == {"engine"}


def test_rejects_unknown_workload():
    proc = subprocess.run([sys.executable, str(SPEED), "--workloads", "pix2px"], capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown workload" in proc.stderr


FASHION = Path(__file__).resolve().parents[1] / "benchmarks" / "quality_fashion_mnist.py"


@pytest.fixture(scope="module")
def fashion():
    spec = importlib.util.spec_from_file_location("fashion_benchmark", FASHION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fashion_benchmark_options(fashion):
    args = fashion.parse_args(["--seeds", "0", "2", "--steps", "wgan_gp=40", "--set", "train.log_every=5"])
    assert args.steps == {"wgan_gp": 40} and args.seeds == [0, 2] and args.samples == 10_000
    over = fashion.run_overrides(args, "wgan_gp", 2)
    assert "train.seed=2" in over and over[-1] == "train.steps=40" and "train.log_every=5" in over
    assert not any(o.startswith("train.steps") for o in fashion.run_overrides(args, "dcgan", 0))
    assert fashion.parse_args(["--cpu-seconds", "dcgan_seed0=525"]).cpu_seconds == {"dcgan_seed0": 525.0}
    with pytest.raises(SystemExit):
        fashion.parse_args(["--steps", "wgan=40"])
    with pytest.raises(SystemExit):
        fashion.parse_args(["--cpu-seconds", "dcgan_seed0=lots"])


def test_fashion_benchmark_report_puts_published_rows_beside_ganzoo(fashion):
    evaluation = {"results": {"images": {"fid": 30.25, "kid": 0.012, "kid_std": 0.001, "precision": 0.6,
                                         "recall": 0.4}}}  # ganzoo eval's record: {image set: {metric: value}}
    scores = fashion.scores_of(evaluation)
    assert scores == {"images/fid": 30.25, "images/kid": 0.012, "images/kid_std": 0.001, "images/precision": 0.6,
                      "images/recall": 0.4}
    assert fashion.pick(scores, "kid") == "images/kid" and fashion.pick({"kid/mean": 1.0}, "kid") == "kid/mean"
    runs = [{"seed": s, "scores": {**scores, "fid": fid}, "cpu_seconds": 60.0, "wall_seconds": 90.0,
             "grid": f"g/wgan_gp_seed{s}.png"} for s, fid in ((0, 30.0), (1, 32.0))]
    report = {"date": "today", "machine": "m", "torch": "t", "load_before": [1], "load_after": [2],
              "protocol": "P", "metric_columns": ["fid", "kid", "precision", "recall"],
              "results": {"wgan_gp": {"steps": 10, "summary": fashion.summary(runs), "runs": runs}}}
    text = fashion.markdown(report)
    assert "**31.00** ± 1.00" in text  # FID mean ± std over the seeds
    assert "| published WGAN-GP (Lucic et al., best of a large search) | 24.5 |" in text
    assert "](g/wgan_gp_seed1.png)" in text and "| WGAN-GP | 1 | 32.000 | 12.000 | 0.600 | 0.400 | 1.0 | 1.5 |" in text
    assert "Recipe overrides" not in text  # a report without overrides (or from before they were recorded)
    report["config"] = {"overrides": ["model.penalty_every=4", "train.precision=bf16"]}
    assert "**Recipe overrides** (every run): `model.penalty_every=4` `train.precision=bf16`" in fashion.markdown(report)


def test_profile_step_writes_categories_that_add_up(tmp_path):
    """benchmarks/profile_step.py on a shrunken WGAN-GP workload: categories cover every profiled operator."""
    script = SPEED.parent / "profile_step.py"
    subprocess.run([sys.executable, str(script), "wgan_gp", "--set", "train.batch_size=2", "--set", "model.n_critic=2",
                    "--warmup", "1", "--steps", "2", "--threads", "1", "--tag", "smoke", "--out", str(tmp_path)],
                   capture_output=True, text=True, check=True)
    result = json.loads((tmp_path / "profile-wgan_gp-smoke.json").read_text())
    categories = result["categories_ms"]
    assert categories["convolution backward"] > 0 and categories["convolution forward"] > 0
    assert sum(categories.values()) == pytest.approx(result["profiled_ms"], rel=1e-6)
    assert len(result["step_seconds"]["all"]) == 2
    assert "| convolution backward |" in (tmp_path / "profile-wgan_gp-smoke.md").read_text()


def test_penalty_layouts_times_both_layouts_in_both_precisions(tmp_path):
    script = SPEED.parent / "penalty_layouts.py"
    subprocess.run([sys.executable, str(script), "--batch", "2", "--repeats", "1", "--threads", "1",
                    "--out", str(tmp_path / "layouts")], capture_output=True, text=True, check=True)
    rows = json.loads((tmp_path / "layouts.json").read_text())["rows"]
    assert {(r["precision"], r["layout"]) for r in rows} == {
        (p, layout) for p in ("fp32", "bf16") for layout in ("separate", "concatenated")}
    assert all(r["ms"] > 0 for r in rows)
