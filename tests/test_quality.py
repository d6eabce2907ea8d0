"""FID/KID during training (train.eval_every, keep_best): recipe checks, logging, best.pt, resume, and that
evaluating does not change what is trained. A stand-in feature network keeps it fast (no Inception here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import ganzoo.quality
from ganzoo.features import FeatureCache
from ganzoo.fidelity import Fidelity

from test_fidelity import PixelFeatures

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--set", "train.workers=0", "--set", "train.precision=fp32", "--set", "train.deterministic=true",
        "--set", "train.log_every=2", "--set", "train.checkpoint_every=2", "--set", "data.image_size=8",
        "--set", "data.size=16", "--set", "train.batch_size=4", "--set", "train.sample_count=4",
        "--set", "model.n_critic=1", "--set", "components.generator={name: dcgan, z_dim: 4, hidden_dim: 4, "
        "image_size: 8}", "--set", "components.critic.hidden_dim=4", "--set", "components.critic.image_size=8",
        "--no-progress"]
EVAL = ["--set", "train.eval_every=2", "--set", "train.eval_samples=12", "--set", "train.keep_best=fid"]


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    """Training's FID uses pixel features instead of Inception."""
    def build(metrics, device, **_):
        return Fidelity(PixelFeatures(), metrics, FeatureCache(tmp_path / "features"))

    monkeypatch.setattr(ganzoo.quality, "build_fidelity", build)


def run(cli, out: Path, *extra: str, steps: int = 4):
    result = cli("run", ROOT / "recipes" / "wgan_gp.yaml", *TINY, "--set", f"train.steps={steps}", *extra,
                 "--out", out)
    assert result.exit_code == 0, result.output
    return result


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("settings,message", [
    (["train.keep_best=fid"], "train.keep_best needs train.eval_every"),
    (["train.eval_every=2", "train.keep_best=fidd"], "'fidd' is not computed by train.eval_metrics ['fid', 'kid'] "
                                                    "(did you mean 'fid'?)"),
    (["train.eval_every=2", "train.eval_metrics=[fid, kidd]"], "unknown metric 'kidd' (did you mean 'kid'?)"),
    (["train.eval_every=0"], "train.eval_every must be >= 1"),
])
def test_quality_settings_are_checked_before_anything_runs(cli, settings, message):
    args = [a for s in settings for a in ("--set", s)]
    result = cli("run", ROOT / "recipes" / "wgan_gp.yaml", *args, "--dry-run")
    assert result.exit_code == 1 and message in result.output, result.output


def test_eval_every_logs_scores_and_keeps_the_best_checkpoint(cli, stand_in, tmp_path):
    out = tmp_path / "run"
    result = run(cli, out, *EVAL)
    evals = [r for r in rows(out) if "eval/fid" in r]
    assert [r["step"] for r in evals] == [2, 4] and all(r["eval/fid"] >= 0 and "eval/kid" in r for r in evals)
    assert "eval at step 2: fid" in result.output
    best = torch.load(out / "checkpoints" / "best.pt", weights_only=True)
    assert best["quality"]["metric"] == "fid"
    assert best["quality"]["value"] == pytest.approx(min(r["eval/fid"] for r in evals))
    assert best["step"] == best["quality"]["step"]
    record = json.loads((out / "eval.json").read_text())
    assert record["results"]["samples"]["fid"] == pytest.approx(evals[-1]["eval/fid"])
    assert record["real_split"] == "train"  # shapes has no test split


def test_evaluation_does_not_change_training(cli, stand_in, tmp_path):
    plain, scored = tmp_path / "plain", tmp_path / "scored"
    run(cli, plain)
    run(cli, scored, *EVAL)
    a = torch.load(plain / "checkpoints" / "last.pt", weights_only=True)["model"]
    b = torch.load(scored / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_keeps_the_best_so_far(cli, stand_in, tmp_path):
    out = tmp_path / "run"
    run(cli, out, *EVAL, steps=2)
    first = torch.load(out / "checkpoints" / "best.pt", weights_only=True)["quality"]
    result = cli("run", out / "recipe.yaml", *TINY, "--set", "train.steps=4", *EVAL, "--resume", out)
    assert result.exit_code == 0, result.output
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["quality"]
    assert state["value"] <= first["value"] and state["step"] in (2, 4)
