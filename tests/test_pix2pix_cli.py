"""pix2pix through the command line: train recipes/pix2pix.yaml at 32 px, translate a folder, evaluate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli as ganzoo_cli
from ganzoo.images import open_image, to_tensor

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "pix2pix.yaml"
TINY = [
    "--set", "components.generator={name: unet, num_downs: 5, ngf: 8}",
    "--set", "components.discriminator.ndf=8",
    "--set", "data.image_size=32", "--set", "data.load_size=36", "--set", "data.crop_size=32",
    "--set", "train.steps=2", "--set", "train.workers=0", "--set", "train.precision=fp32", "--set", "train.threads=1",
    "--no-progress",
]



def invoke(*args):
    return CliRunner().invoke(ganzoo_cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A 2-step run of the shipped recipe at 32 px: its run directory."""
    run = tmp_path_factory.mktemp("pix2pix") / "run"
    result = invoke("run", RECIPE, *TINY, "--out", run)
    assert result.exit_code == 0, result.output
    return run


def test_two_step_training_run(trained):
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == 2
    assert {"D/real", "D/fake", "G/adv", "G/l1"} <= set(rows[-1])
    assert (trained / "checkpoints" / "last.pt").exists()
    assert list((trained / "samples").glob("step_*.png"))
    results = json.loads((trained / "eval.json").read_text())["results"]
    assert set(results) == {"BtoA"} and {"l1", "psnr", "ssim"} <= set(results["BtoA"])


def test_translate_a_folder(trained, tmp_path):
    src = tmp_path / "inputs"
    (src / "sub").mkdir(parents=True)
    Image.new("RGB", (40, 20), (0, 85, 255)).save(src / "a.png")
    Image.new("L", (32, 32), 128).save(src / "sub" / "b.jpg")
    (src / "notes.txt").write_text("not an image")
    result = invoke("translate", trained / "checkpoints" / "last.pt", src, "--out", tmp_path / "out", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "translated 2 image(s) BtoA" in result.output
    outputs = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*"))
    assert outputs == ["a.png", "sub/b.jpg"]
    assert Image.open(tmp_path / "out" / "a.png").size == (40, 20)  # each input's own size

    wrong = invoke("translate", trained, src, "--out", tmp_path / "x", "--direction", "AtoB")
    assert wrong.exit_code == 1 and "directions: BtoA" in wrong.output


def test_eval_matches_hand_computed_psnr(trained, tmp_path):
    """Evaluate on two hand-made pairs; recompute L1 and PSNR from the generator's outputs."""
    for i, (a, b) in enumerate([((200, 30, 30), (0, 85, 255)), ((90, 90, 90), (0, 170, 255))]):
        for side, colour in (("A", a), ("B", b)):
            img = Image.new("RGB", (32, 32), colour)
            img.paste(Image.new("RGB", (8, 8), (255, 255, 0)), (4 * i, 8))
            (tmp_path / side / "test").mkdir(parents=True, exist_ok=True)
            img.save(tmp_path / side / "test" / f"{i}.png")
    data = f"{{name: paired_folders, root: {tmp_path}, preprocess: none, flip: false}}"
    result = invoke("eval", trained, "--data", data, "--no-progress", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "psnr" in result.output and "BtoA" in result.output
    scores = json.loads((trained / "eval.json").read_text())["results"]["BtoA"]

    from ganzoo.registry import build_registry
    from ganzoo.trained import load_trained

    model = load_trained(trained, build_registry(), torch.device("cpu")).model.eval()
    load = lambda side: torch.stack([to_tensor(open_image(tmp_path / side / "test" / f"{i}.png")) for i in (0, 1)])
    with torch.no_grad():
        out = (model.generator(load("B")).clamp(-1, 1) + 1) / 2
    target = (load("A") + 1) / 2
    mse = (out - target).square().flatten(1).mean(1)
    assert scores["psnr"] == pytest.approx(float((10 * torch.log10(1 / mse)).mean()), abs=1e-3)
    assert scores["l1"] == pytest.approx(float((out - target).abs().mean()), abs=1e-5)


def test_missing_dataset_folder_is_a_clear_error(tmp_path):
    result = invoke("run", RECIPE, *TINY, "--set", f"data={{name: aligned_folder, root: {tmp_path / 'facades'}}}",
                    "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert f"{tmp_path / 'facades'} does not exist" in result.output
    assert "expected layout: ROOT/train/" in result.output


def test_size_not_divisible_by_the_unet_is_a_clear_error(tmp_path):
    result = invoke("run", RECIPE, *TINY, "--set", "data.load_size=48", "--set", "data.crop_size=48",
                    "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "Error: U-Net input of 48x48 px: sides must be multiples of 2**num_downs = 32" in result.output
    assert "crop_size" in result.output  # the hint


def test_corrupt_images_are_counted_in_the_run_log(tmp_path):
    for i in range(2):
        img = Image.new("RGB", (64, 32), (i * 90, 0, 0))
        (tmp_path / "data" / "train").mkdir(parents=True, exist_ok=True)
        img.save(tmp_path / "data" / "train" / f"{i}.png")
    (tmp_path / "data" / "train" / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    data = f"data={{name: aligned_folder, root: {tmp_path / 'data'}, load_size: 36, crop_size: 32}}"
    result = invoke("run", RECIPE, *TINY, "--set", data, "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "skipped 1 unreadable image(s) (broken.jpg" in result.output
