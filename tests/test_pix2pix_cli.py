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
    written = Path(result.output.split("written ")[-1].strip())
    assert written.parent == trained and written.name.startswith("eval-test-step") and "-data-" in written.name
    scores = json.loads(written.read_text())["results"]["BtoA"]

    from ganzoo.registry import build_registry
    from ganzoo.trained import load_trained

    model = load_trained(trained, build_registry(), torch.device("cpu")).model.eval()
    load = lambda side: torch.stack([to_tensor(open_image(tmp_path / side / "test" / f"{i}.png")) for i in (0, 1)])
    torch.manual_seed(0)  # the recipe tests the paper's way (dropout on): eval seeds it with the run's seed
    with torch.no_grad():
        out = (model.translate(load("B"), "BtoA").clamp(-1, 1) + 1) / 2
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


def translate(trained, *args):
    return invoke("translate", trained / "checkpoints" / "last.pt", *args, "--no-progress")


def test_translate_keeps_each_inputs_size_or_resizes_to_the_training_size(trained, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.effect_noise((50, 30), 60).convert("RGB").save(src / "wide.png")  # not a multiple of the U-Net's 32
    Image.effect_noise((32, 32), 60).convert("RGB").save(src / "exact.png")
    assert translate(trained, src, "--out", tmp_path / "kept").exit_code == 0
    assert Image.open(tmp_path / "kept" / "wide.png").size == (50, 30)
    # an input already at the network's multiple goes through unpadded: the generator's own output
    from ganzoo.registry import build_registry
    from ganzoo.trained import load_trained

    model = load_trained(trained, build_registry(), torch.device("cpu")).model
    torch.manual_seed(0)  # paper test mode draws dropout: translate seeds it (--seed 0), exact.png goes first
    with torch.no_grad():
        direct = model.translate(to_tensor(open_image(src / "exact.png"))[None], "BtoA")[0]
    written = to_tensor(open_image(tmp_path / "kept" / "exact.png"))
    assert (written - direct).abs().max() <= 1 / 127.5 + 1e-6  # equal up to 8-bit rounding
    assert translate(trained, src, "--out", tmp_path / "resized", "--resize").exit_code == 0
    assert Image.open(tmp_path / "resized" / "wide.png").size == (32, 32)


def test_translate_warns_about_side_by_side_pairs_and_translates_one_half(trained, tmp_path):
    src = tmp_path / "pairs"
    src.mkdir()
    pair = Image.effect_noise((64, 32), 60).convert("RGB")
    pair.save(src / "p.png")
    result = CliRunner().invoke(ganzoo_cli, [str(a) for a in ("translate", trained, src, "--out", tmp_path / "o1",
                                                               "--no-progress")])
    assert result.exit_code == 0, result.output
    assert "1 input(s) are twice as wide as high" in result.output and "--half B" in result.output
    half = translate(trained, src, "--out", tmp_path / "o2", "--half", "B")
    assert half.exit_code == 0 and "twice as wide" not in half.output
    pair.crop((32, 0, 64, 32)).save(tmp_path / "right.png")  # B, the right half: this BtoA model's input
    assert translate(trained, tmp_path / "right.png", "--out", tmp_path / "o3").exit_code == 0
    assert Image.open(tmp_path / "o2" / "p.png").size == (32, 32)
    assert Image.open(tmp_path / "o2" / "p.png").tobytes() == Image.open(tmp_path / "o3" / "right.png").tobytes()


def test_translate_never_writes_into_an_input_folder_or_over_files(trained, tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(src / "a.png")
    original = (src / "a.png").read_bytes()
    for out in (src, src / "translated"):
        result = translate(trained, src, "--out", out)
        assert result.exit_code == 1 and "input folder" in result.output, result.output
        assert (src / "a.png").read_bytes() == original and not (src / "translated").exists()
    single = translate(trained, src / "a.png", "--out", src, "--overwrite")  # a file: its folder is the output
    assert single.exit_code == 1 and "would replace an input image" in single.output
    assert (src / "a.png").read_bytes() == original

    assert translate(trained, src, "--out", tmp_path / "out").exit_code == 0
    (tmp_path / "out" / "a.png").write_bytes(b"mine")
    again = translate(trained, src, "--out", tmp_path / "out")
    assert again.exit_code == 1 and "1 output file(s) already exist" in again.output and "--overwrite" in again.output
    assert (tmp_path / "out" / "a.png").read_bytes() == b"mine"
    assert translate(trained, src, "--out", tmp_path / "out", "--overwrite").exit_code == 0
    assert (tmp_path / "out" / "a.png").read_bytes() != b"mine"


def aligned_folder(root: Path) -> str:
    """A tiny A|B dataset (64x32 images), as a --set value."""
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for i in range(2):
            Image.effect_noise((64, 32), 40 + i).convert("RGB").save(root / split / f"{i}.png")
    return f"data={{name: aligned_folder, root: {root}, load_size: 32, crop_size: 32}}"


def test_run_header_dry_run_and_sample_columns_say_which_half_is_the_input(tmp_path, monkeypatch):
    data = aligned_folder(tmp_path / "facades")
    flow = "input: right half (B) → target: left half (A)"  # the recipe's direction: BtoA
    dry = invoke("run", RECIPE, *TINY, "--set", data, "--dry-run")
    assert dry.exit_code == 0 and flow in dry.output, dry.output

    from PIL import ImageDraw

    drawn: list[str] = []
    text = ImageDraw.ImageDraw.text
    monkeypatch.setattr(ImageDraw.ImageDraw, "text",
                        lambda self, xy, s, *a, **k: drawn.append(s) or text(self, xy, s, *a, **k))
    result = invoke("run", RECIPE, *TINY, "--set", data, "--set", "train.steps=1", "--set", "model.direction=AtoB",
                    "--set", "train.eval_at_end=false", "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert "data: input: left half (A) → target: right half (B)" in result.output
    assert "input (A)" in drawn and "target (B)" in drawn  # 32 px columns: the short titles fit


def test_aligned_folder_pointed_at_an_unaligned_tree_says_so(tmp_path):
    for d in ("trainA", "trainB"):
        (tmp_path / "h2z" / d).mkdir(parents=True)
    result = invoke("run", RECIPE, *TINY, "--set", f"data={{name: aligned_folder, root: {tmp_path / 'h2z'}}}",
                    "--dry-run")
    assert result.exit_code == 1
    assert "this looks like unaligned_folder's layout" in result.output
