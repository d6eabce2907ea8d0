"""WGAN-GP and DCGAN through the command line: each shipped recipe at tiny size, then `ganzoo sample`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli as ganzoo_cli

ROOT = Path(__file__).resolve().parent.parent
COMMON = ["--set", "train.steps=2", "--set", "train.workers=0", "--set", "train.precision=fp32",
          "--set", "train.log_every=1", "--set", "train.sample_every=1", "--set", "train.checkpoint_every=2",
          "--no-progress"]


def tiny_images(hidden: int = 4) -> list[str]:
    return ["--set", "data.image_size=16", "--set", "data.size=64", "--set", "train.batch_size=4",
            "--set", "train.sample_count=4",
            "--set", f"components.generator={{name: dcgan, z_dim: 8, hidden_dim: {hidden}, image_size: 16}}",
            "--set", f"components.critic.hidden_dim={hidden}", "--set", "components.critic.image_size=16"]


TINY = {
    "wgan_gp": tiny_images() + ["--set", "model.n_critic=2"],
    "dcgan": tiny_images(),
    "wgan_gp_toy": ["--set", "components.generator.hidden=[16]", "--set", "components.critic.hidden=[16]",
                    "--set", "data.size=500", "--set", "train.batch_size=32", "--set", "train.sample_count=40"],
}

#: the Fashion-MNIST recipes at their own 28 px with tiny networks, on a tiny IDX file (data.root: see runs())
FASHION_TINY = ["--set", "train.batch_size=4", "--set", "train.sample_count=4",
                "--set", "components.generator.fc_dim=8", "--set", "components.generator.hidden_dim=2",
                "--set", "components.critic.fc_dim=8", "--set", "components.critic.hidden_dim=2"]
TINY["wgan_gp_fashion_mnist"] = FASHION_TINY + ["--set", "model.n_critic=2"]
TINY["dcgan_fashion_mnist"] = FASHION_TINY


def fashion_root(folder: Path) -> Path:
    """A Fashion-MNIST stand-in: 16 patterned 28x28 images per split in the IDX format, gzipped as Debian ships them."""
    images = bytes(i * 37 % 256 for i in range(16 * 28 * 28))
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in (16, 28, 28))
    folder.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(header + images)
    return folder


def invoke(*args):
    return CliRunner().invoke(ganzoo_cli, [str(a) for a in args], catch_exceptions=False)


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, tuple[Path, str]]:
    """Each shipped recipe trained for 2 steps: {recipe: (run directory, CLI output)}."""
    out = {}
    data = ["--set", f"data.root={fashion_root(tmp_path_factory.mktemp('fashion'))}"]
    for name, tiny in TINY.items():
        run = tmp_path_factory.mktemp(name) / "run"
        tiny = tiny + (data if "fashion" in name else [])
        result = invoke("run", ROOT / "recipes" / f"{name}.yaml", *tiny, *COMMON, "--out", run)
        assert result.exit_code == 0, result.output
        out[name] = (run, result.output)
    return out


@pytest.mark.parametrize("name,logged", [
    ("wgan_gp", {"D/loss", "D/wasserstein", "D/gp", "G/loss"}),
    ("dcgan", {"D/real", "D/fake", "G/loss"}),
    ("wgan_gp_toy", {"D/loss", "D/wasserstein", "D/gp", "G/loss"}),
    ("wgan_gp_fashion_mnist", {"D/loss", "D/wasserstein", "D/gp", "G/loss"}),
    ("dcgan_fashion_mnist", {"D/real", "D/fake", "G/loss"}),
])
def test_recipe_trains_and_logs(runs, name, logged):
    run, _ = runs[name]
    losses = [r for r in rows(run) if "G/loss" in r]
    assert losses[-1]["step"] == 2 and logged <= set(losses[-1])
    assert (run / "checkpoints" / "last.pt").exists() and (run / "losses.png").exists()
    assert len(list((run / "samples").glob("step_*.png"))) == 2


def test_fashion_mnist_recipes_draw_28px_grayscale(runs, tmp_path):
    ckpt = runs["wgan_gp_fashion_mnist"][0] / "checkpoints" / "last.pt"
    result = invoke("sample", ckpt, "-n", 2, "--out", tmp_path / "single", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert {Image.open(f).size + (Image.open(f).mode,) for f in (tmp_path / "single").glob("*.png")} == {(28, 28, "L")}


def test_toy_run_logs_mode_coverage_at_each_sample_step(runs):
    run, _ = runs["wgan_gp_toy"]
    quality = [r for r in rows(run) if "quality/modes" in r]
    assert [r["step"] for r in quality] == [1, 2]
    assert {"quality/modes", "quality/hq_percent", "quality/reverse_kl"} <= set(quality[0])
    assert 0 <= quality[-1]["quality/modes"] <= 25


def test_sample_image_grid_and_folder(runs, tmp_path):
    ckpt = runs["wgan_gp"][0] / "checkpoints" / "last.pt"
    result = invoke("sample", ckpt, "-n", 6, "--out", tmp_path / "grid.png", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "grid.png").size[0] > 16 * 2  # a grid of several 16 px samples
    result = invoke("sample", ckpt, "-n", 5, "--out", tmp_path / "single", "--device", "cpu")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "single").glob("*.png"))
    assert len(files) == 5 and {Image.open(f).size for f in files} == {(16, 16)}


def test_sample_dcgan_and_toy_points(runs, tmp_path):
    result = invoke("sample", runs["dcgan"][0] / "checkpoints" / "last.pt", "-n", 4, "--out", tmp_path / "d.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d.png").exists()
    toy = runs["wgan_gp_toy"][0] / "checkpoints" / "last.pt"
    result = invoke("sample", toy, "-n", 30, "--out", tmp_path / "points.png")
    assert result.exit_code == 0 and (tmp_path / "points.png").exists(), result.output
    result = invoke("sample", toy, "-n", 30, "--out", tmp_path / "points")
    assert len((tmp_path / "points" / "samples.csv").read_text().splitlines()) == 30


def test_batch_norm_critic_warns_in_dry_run_and_run_log(tmp_path):
    bn = ["--set", "components.critic.norm=batch"]
    result = invoke("run", ROOT / "recipes" / "wgan_gp.yaml", *bn, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "warning: the critic uses batch norm together with a gradient penalty" in result.output
    result = invoke("run", ROOT / "recipes" / "wgan_gp.yaml", "--dry-run")
    assert "warning" not in result.output
    result = invoke("run", ROOT / "recipes" / "wgan_gp.yaml", *tiny_images(2), *bn, *COMMON,
                    "--set", "train.steps=1", "--set", "model.n_critic=1", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "warning: the critic uses batch norm" in result.output


def test_sample_never_replaces_a_file_without_overwrite(runs, tmp_path):
    ckpt = runs["wgan_gp"][0] / "checkpoints" / "last.pt"
    (tmp_path / "grid.png").write_bytes(b"my picture")
    result = invoke("sample", ckpt, "-n", 4, "--out", tmp_path / "grid.png")
    assert result.exit_code == 1 and "already exist" in result.output and "--overwrite" in result.output
    assert (tmp_path / "grid.png").read_bytes() == b"my picture"
    assert invoke("sample", ckpt, "-n", 4, "--out", tmp_path / "grid.png", "--overwrite").exit_code == 0
    assert (tmp_path / "grid.png").read_bytes() != b"my picture"
    (tmp_path / "many").mkdir()
    (tmp_path / "many" / "sample_00002.png").write_bytes(b"mine")
    result = invoke("sample", ckpt, "-n", 4, "--out", tmp_path / "many")
    assert result.exit_code == 1 and (tmp_path / "many" / "sample_00002.png").read_bytes() == b"mine"
    assert not (tmp_path / "many" / "sample_00000.png").exists()  # nothing written before the refusal
    toy = runs["wgan_gp_toy"][0] / "checkpoints" / "last.pt"
    assert invoke("sample", toy, "-n", 8, "--out", tmp_path / "pts").exit_code == 0
    assert invoke("sample", toy, "-n", 8, "--out", tmp_path / "pts").exit_code == 1  # samples.csv exists


def test_eval_of_an_unconditional_model_says_where_its_scores_are(runs):
    """Without Inception weights (none in the test environment) there is nothing to compute: say how to get FID."""
    result = invoke("eval", runs["dcgan"][0])
    assert result.exit_code == 1 and "has nothing ganzoo can evaluate" in result.output
    assert "ganzoo inception fetch" in result.output
    assert "metrics.jsonl" in result.output and "ganzoo sample" in result.output
