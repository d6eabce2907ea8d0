"""CycleGAN end to end through the CLI (train, resume, translate, eval) and the unaligned_folder dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from ganzoo.errors import DataError, SplitNotFound
from ganzoo.images import to_tensor
from ganzoo_cyclegan.folders import UnalignedFolder

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "recipes" / "cyclegan.yaml"
TINY = [
    "data.image_size=16", "data.size=4",
    *(f"components.{g}.{k}" for g in ("G_AB", "G_BA") for k in ("ngf=4", "n_blocks=1")),
    *(f"components.{d}.{k}" for d in ("D_A", "D_B") for k in ("ndf=4", "n_layers=1")),
    "train.steps=2", "train.workers=0", "train.threads=1", "train.precision=fp32", "train.sample_count=2",
    "train.log_every=1", "train.sample_every=2", "train.checkpoint_every=2", "train.tensorboard=false",
]
TERMS = {"G/adv_AB", "G/adv_BA", "G/cycle_A", "G/cycle_B", "G/idt_A", "G/idt_B",
         "D_A/real", "D_A/fake", "D_B/real", "D_B/fake"}


def _train(cli, out: Path, *extra: str, resume: bool = False):
    args = ["run", RECIPE, "--no-progress", *(["--resume", out] if resume else ["--out", out])]
    for assignment in [*TINY, *extra]:
        args += ["--set", assignment]
    return cli(*args)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One tiny 2-step run of the shipped recipe, shared by the tests that use its checkpoint."""
    from click.testing import CliRunner

    from ganzoo.cli import cli as group

    out = tmp_path_factory.mktemp("cyclegan") / "run"
    result = _train(lambda *a: CliRunner().invoke(group, [str(x) for x in a], catch_exceptions=False), out)
    assert result.exit_code == 0, result.output
    return out


def test_two_step_run_logs_every_term_samples_and_evaluates(trained):
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    assert TERMS <= set(rows[-1])
    assert (trained / "samples" / "step_0000002.png").exists()
    results = json.loads((trained / "eval.json").read_text())["results"]
    assert set(results) == {"cycle_A", "cycle_B", "AtoB", "BtoA"}
    assert {"l1", "psnr"} <= set(results["AtoB"])
    state = torch.load(trained / "checkpoints" / "last.pt", weights_only=True)
    assert len(state["model"]["pool_A._extra_state"]["images"]) == 2  # 2 steps of batch 1
    assert state["sample_shapes"]["A"] == [3, 16, 16]


def test_resume_is_exact(cli, tmp_path):
    """Steps 3-4 after a resume at step 2 match an uninterrupted run: weights, optimizers and pools restored."""
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    same = ("train.lr_schedule=constant", "model.pool_size=2")  # the pools are full when the run resumes
    assert _train(cli, straight, "train.steps=4", *same).exit_code == 0
    assert _train(cli, resumed, "train.steps=2", *same).exit_code == 0
    result = _train(cli, resumed, "train.steps=4", *same, resume=True)
    assert result.exit_code == 0, result.output
    rows = {p: [json.loads(x) for x in (p / "metrics.jsonl").read_text().splitlines()] for p in (straight, resumed)}
    assert [r["step"] for r in rows[resumed]] == [1, 2, 3, 4]
    for a, b in zip(rows[straight][2:], rows[resumed][2:]):
        for term in TERMS:
            assert a[term] == pytest.approx(b[term], rel=1e-5, abs=1e-6), (a["step"], term)
    s = torch.load(straight / "checkpoints" / "last.pt", weights_only=True)["model"]
    r = torch.load(resumed / "checkpoints" / "last.pt", weights_only=True)["model"]
    assert len(s["pool_B._extra_state"]["images"]) == len(r["pool_B._extra_state"]["images"]) == 2
    for x, y in zip(s["pool_B._extra_state"]["images"], r["pool_B._extra_state"]["images"]):
        torch.testing.assert_close(x, y)
    torch.testing.assert_close(s["G_AB.model.1.weight"], r["G_AB.model.1.weight"])


def _png(path: Path, size=(16, 16), colour=(200, 40, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


def test_translate_in_both_directions(cli, trained, tmp_path):
    inputs = tmp_path / "in"
    _png(inputs / "a.png")
    _png(inputs / "sub" / "b.png", size=(22, 13), colour=(30, 90, 160))  # padded to 24x16 for the ResNet
    outputs = {}
    for direction in ("AtoB", "BtoA"):
        out = tmp_path / direction
        result = cli("translate", trained / "checkpoints" / "last.pt", inputs, "--direction", direction,
                     "--out", out, "--no-progress", "--device", "cpu")
        assert result.exit_code == 0, result.output
        assert f"translated 2 image(s) {direction}" in result.output
        assert Image.open(out / "sub" / "b.png").size == (22, 13)  # and cropped back
        outputs[direction] = to_tensor(Image.open(out / "a.png"))
    assert not torch.equal(outputs["AtoB"], outputs["BtoA"])  # two different generators


def test_translate_rejects_an_unknown_direction(cli, trained, tmp_path):
    result = cli("translate", trained, _png(tmp_path / "a.png"), "--direction", "AtoC", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "AtoB, BtoA" in result.output


def test_eval_scores_ground_truth_and_cycle_reconstruction(cli, trained):
    from_training = (trained / "eval.json").read_bytes()
    result = cli("eval", trained, "--no-progress", "--device", "cpu")
    assert result.exit_code == 0, result.output
    for pair in ("cycle_A", "cycle_B", "AtoB", "BtoA"):
        assert pair in result.output
    written = json.loads((trained / "eval-test-step0000002.json").read_text())
    assert written["results"]["AtoB"]["l1"] > 0
    assert (trained / "eval.json").read_bytes() == from_training  # a later command never replaces training's
    assert "FID/KID skipped" in result.output  # no Inception weights in the test environment: a note, not an error


def test_eval_on_an_unaligned_folder_scores_cycle_reconstruction(cli, trained, tmp_path):
    root = tmp_path / "h2z"
    for domain in ("trainA", "trainB", "testA", "testB"):
        _png(root / domain / "x.png", colour=(10, 200, 30))
    result = cli("eval", trained, "--data", f"{{name: unaligned_folder, root: {root}, load_size: 16, crop_size: 16}}",
                 "--no-progress", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "cycle_A" in result.output and "AtoB" not in result.output


# unaligned_folder ---------------------------------------------------------------------------------------------
def _folder(root: Path, counts: dict[str, int]) -> Path:
    for domain, n in counts.items():
        (root / domain).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _png(root / domain / f"{i}.png", size=(20, 20), colour=(i * 40, 100 if "A" in domain else 200, 50))
    return root


def test_unaligned_folder_pairs_at_random_each_time_or_serially(tmp_path):
    root = _folder(tmp_path, {"trainA": 2, "trainB": 5, "testA": 1, "testB": 1})
    ds = UnalignedFolder(root=str(root), load_size=20, crop_size=16)
    assert len(ds) == 5  # the larger domain
    item = ds[4]
    assert item["A"].shape == item["B"].shape == (3, 16, 16)
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        seen.add(round(float(ds[0]["B"][0].mean()), 3))
    assert len(seen) > 2  # B drawn at random
    serial = UnalignedFolder(root=str(root), load_size=20, crop_size=16, serial=True, flip=False)
    assert len({round(float(serial[3]["B"][0].mean()), 3) for _ in range(3)}) == 1
    gray = UnalignedFolder(root=str(root), split="test", crop_size=16, grayscale=True)
    assert gray[0]["A"].shape == (1, 16, 16)


def test_unaligned_folder_missing_domain_names_the_folder_and_layout(tmp_path):
    root = _folder(tmp_path, {"trainB": 1})
    with pytest.raises(DataError, match="trainA") as info:
        UnalignedFolder(root=str(root))
    assert "horse2zebra" in info.value.hint
    with pytest.raises(DataError, match="does not exist"):
        UnalignedFolder(root=str(tmp_path / "nowhere"))


def test_unaligned_folder_empty_domain(tmp_path):
    root = _folder(tmp_path, {"trainA": 1})
    (root / "trainB").mkdir()
    (root / "trainB" / "notes.txt").write_text("not an image")
    with pytest.raises(DataError, match="no images in .*trainB"):
        UnalignedFolder(root=str(root))


def test_unaligned_folder_skips_corrupt_images_or_refuses_them_when_strict(tmp_path):
    root = _folder(tmp_path, {"trainA": 2, "trainB": 2})
    (root / "trainB" / "broken.png").write_bytes(b"\x89PNG not really")
    ds = UnalignedFolder(root=str(root), load_size=20, crop_size=16)
    assert len(ds) == 2 and [p.name for p, _ in ds.skipped] == ["broken.png"]
    with pytest.raises(DataError, match="broken.png"):
        UnalignedFolder(root=str(root), strict=True)
    for p in (root / "trainA").iterdir():
        p.write_bytes(b"garbage")
    with pytest.raises(DataError, match="no readable images"):
        UnalignedFolder(root=str(root))


def test_unaligned_folder_truncated_image_gives_way_to_the_next(tmp_path):
    root = _folder(tmp_path, {"trainA": 2, "trainB": 1})
    data = (root / "trainA" / "0.png").read_bytes()
    (root / "trainA" / "0.png").write_bytes(data[: len(data) // 2])  # header reads, pixels do not
    ds = UnalignedFolder(root=str(root), load_size=20, crop_size=16, flip=False)
    with pytest.warns(RuntimeWarning, match="0.png: image file is truncated; using the next image instead"):
        assert torch.equal(ds[0]["A"], ds[1]["A"])
    assert [p.name for p, _ in ds.skipped] == ["0.png"]
    with pytest.raises(DataError, match="0.png"):
        UnalignedFolder(root=str(root), strict=True, load_size=20, crop_size=16)[0]


def test_unaligned_folder_without_test_split(tmp_path):
    root = _folder(tmp_path, {"trainA": 1, "trainB": 1})
    with pytest.raises(SplitNotFound):
        UnalignedFolder(root=str(root), split="test")


def test_cli_reports_a_bad_dataset_folder(cli, tmp_path):
    result = cli("run", RECIPE, "--dry-run", "--set", f"data={{name: unaligned_folder, root: {tmp_path}}}")
    assert result.exit_code == 1
    assert "trainA" in result.output and "expected layout" in result.output


def test_a_conditional_discriminator_is_a_recipe_error(cli):
    result = cli("run", RECIPE, "--dry-run", "--set", "components.D_B.in_channels=6")
    assert result.exit_code == 1
    assert "cyclegan.yaml" in result.output and "D_B.in_channels: 3" in result.output
