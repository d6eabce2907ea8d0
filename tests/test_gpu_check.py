"""benchmarks/gpu_check.sh runs end to end on CPU (``--device cpu``): the dry check of the GPU check, as in CI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
RESULTS = ROOT / "benchmarks" / "results"


def results_files() -> dict[str, float]:
    return {p.name: p.stat().st_mtime for p in RESULTS.iterdir()}


def dry_check(out: Path, *flags: str, timeout: float) -> str:
    before = results_files()
    proc = subprocess.run(["bash", str(SCRIPT), "--device", "cpu", "--out", str(out), *flags], capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert results_files() == before, "a CPU dry check must not touch the committed results"
    summary = (out / "summary.md").read_text()
    for phase in ("facts", "tests", "recipes", "speed"):
        assert f"| {phase} | ok |" in summary, summary
    assert "| nccl | skipped | 0 | NCCL needs CUDA" in summary
    return summary


def test_fast_dry_check(tmp_path):
    dry_check(tmp_path, "--fast", timeout=240)
    runs = json.loads((tmp_path / "recipes.json").read_text())["runs"]
    assert [(r["recipe"], r["mode"], r["status"], r["precision"]) for r in runs] == [
        ("dcgan", "fp32", "ok", "fp32"), ("dcgan", "bf16", "ok", "bfloat16")]
    assert (tmp_path / "runs/dcgan-bf16/checkpoints/last.pt").exists()
    speed = json.loads((tmp_path / "speed-cpu-dry.json").read_text())
    assert speed["workloads"]["wgan_gp_toy"]["rows"][0]["median_s"] > 0


@pytest.mark.slow
def test_full_dry_check(tmp_path):
    """Every recipe in fp32, bf16 and compile (tiny networks), and the plain loop beside the engine."""
    summary = dry_check(tmp_path, timeout=900)
    runs = json.loads((tmp_path / "recipes.json").read_text())["runs"]
    assert {(r["recipe"], r["mode"]): r["status"] for r in runs} == {
        (recipe, mode): "skipped" if mode == "compile" and recipe.startswith("wgan_gp") else "ok"
        for recipe in ("pix2pix", "cyclegan", "wgan_gp", "dcgan", "wgan_gp_toy")
        for mode in ("fp32", "bf16", "compile")}
    rows = json.loads((tmp_path / "speed-cpu-dry.json").read_text())["workloads"]["wgan_gp"]["rows"]
    assert [r["variant"] for r in rows] == ["plain", "engine"] and all(r["median_s"] > 0 for r in rows)
    assert "gradient penalty (double backward) cannot be compiled" in summary
