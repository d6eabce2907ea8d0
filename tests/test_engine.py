"""The shared training engine, driven by the toy model plugin of tests/toy_plugin.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from ganzoo.engine import Trainer
from ganzoo.errors import CheckpointError, NonFiniteLoss, TrainingError
from ganzoo.recipe import apply_override, load_recipe
from ganzoo.resolve import resolve

from conftest import run_ganzoo


def make_trainer(registry, recipe_path, out, *overrides, resume=None):
    recipe = load_recipe(recipe_path, overrides)
    return Trainer(resolve(recipe, registry), registry, out=out, resume=resume, progress=False, log=lambda m: None)


def loss_rows(run_dir):
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if "/" in k and not k.startswith("lr/")} | {"step": r["step"]}
            for r in rows if "D/loss" in r]


def test_run_directory_cadence_and_manifest(toy_registry, toy_recipe, tmp_path):
    result = make_trainer(toy_registry, toy_recipe, tmp_path / "run").fit()
    run = tmp_path / "run"
    assert result.step == 8
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000004.png", "step_0000008.png"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt", "step_0000004.pt",
                                                                       "step_0000008.pt"]
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6, 8]
    assert {"D/loss", "G/adv", "G/rec", "lr/G", "lr/D", "samples_per_s", "time", "epoch"} <= set(rows[0])
    assert (run / "losses.png").stat().st_size > 1000
    manifest = json.loads((run / "manifest.json").read_text())
    assert {"ganzoo", "python", "torch", "device", "seed", "command", "git_sha", "plugins"} <= set(manifest)
    assert manifest["components"]["components.generator"] == {"name": "toy_gen", "dist": "toy", "version": "0"}
    assert manifest["precision"] == "fp32" and manifest["device"].startswith("cpu")
    recipe = load_recipe(run / "recipe.yaml")  # the resolved recipe is a valid recipe with every default
    assert recipe.data["components"]["generator"]["width"] == 4
    assert json.loads((run / "eval.json").read_text())["results"]["AtoB"]["psnr"] > 0


def test_checkpoint_is_a_plain_weights_only_dict(toy_registry, toy_recipe, tmp_path):
    make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.compile=false").fit()
    state = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)
    assert state["format"] == 1 and state["step"] == 8
    assert state["recipe"]["model"]["name"] == "toy_gan"
    assert state["provenance"]["components.generator"]["dist"] == "toy"
    assert set(state["optimizers"]) == {"G", "D"} and "torch" in state["rng"]
    assert all(not k.startswith(("module.", "_orig_mod.")) for k in state["model"])
    assert state["sample_shapes"] == {"A": [3, 8, 8], "B": [3, 8, 8]}


RESUME = ["train.deterministic=true", "components.generator.norm=batch", "train.log_every=1",
          "train.checkpoint_every=100", "train.sample_every=100", "model.d_steps=2"]


def test_resume_is_bit_identical(toy_registry, toy_recipe, tmp_path):
    full = make_trainer(toy_registry, toy_recipe, tmp_path / "full", *RESUME, "train.steps=12")
    full.fit()
    make_trainer(toy_registry, toy_recipe, tmp_path / "half", *RESUME, "train.steps=6").fit()
    resumed = make_trainer(toy_registry, toy_recipe, None, *RESUME, "train.steps=12", resume=tmp_path / "half")
    assert resumed.step == 6
    resumed.fit()
    assert loss_rows(tmp_path / "half") == loss_rows(tmp_path / "full")
    a = torch.load(tmp_path / "full/checkpoints/last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "half/checkpoints/last.pt", weights_only=True)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_other_components_lists_differences(toy_registry, toy_recipe, tmp_path):
    make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.steps=2").fit()
    with pytest.raises(CheckpointError) as err:
        make_trainer(toy_registry, toy_recipe, None, "components.generator.width=8", "optim.D.name=AdamW",
                     resume=tmp_path / "run")
    assert "components.generator.width: 4 -> 8" in err.value.message
    assert "optim.D: 'Adam' -> 'AdamW'" in err.value.message
    run = tmp_path / "run"
    assert f"resume with the run's own recipe: ganzoo run {run}/recipe.yaml --resume {run}" in err.value.hint


def test_corrupt_checkpoint_is_a_clear_error(toy_registry, toy_recipe, tmp_path, cli, toy_installed):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=f"cannot read checkpoint {bad}: corrupt, truncated"):
        make_trainer(toy_registry, toy_recipe, tmp_path / "run", resume=bad)
    result = cli("run", toy_recipe, "--resume", bad)
    assert result.exit_code == 1 and result.output.startswith(f"Error: cannot read checkpoint {bad}")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a ganzoo checkpoint"):
        make_trainer(toy_registry, toy_recipe, tmp_path / "run", resume=tmp_path / "other.pt")


def test_nan_stops_and_keeps_last_good_checkpoint(toy_registry, toy_recipe, tmp_path):
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "model.nan_at=5",
                           "train.checkpoint_every=2")
    with pytest.raises(NonFiniteLoss) as err:
        trainer.fit()
    assert err.value.step == 5 and "is nan at step 5" in err.value.message
    assert "last good checkpoint" in err.value.hint
    assert torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)["step"] == 4
    assert not (tmp_path / "run/checkpoints/step_0000005.pt").exists()


def test_nan_skip_mode_skips_the_update(toy_registry, toy_recipe, tmp_path):
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "model.nan_at=3", "train.on_nan=skip")
    before = {k: v.clone() for k, v in trainer.model.generator.state_dict().items()}
    trainer.fit()
    assert trainer.opt.skipped == 1
    rows = [json.loads(l) for l in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["skipped"] == 1
    after = trainer.model.generator.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values())
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_bf16_autocast_on_cpu(toy_registry, toy_recipe, tmp_path):
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.precision=bf16")
    assert trainer.dtype is torch.bfloat16
    trainer.fit()
    rows = loss_rows(tmp_path / "run")
    assert all(v == v for r in rows for v in r.values())  # finite, not NaN
    assert json.loads((tmp_path / "run/manifest.json").read_text())["precision"] == "bf16"  # the recipe's name


def test_linear_decay_schedule_and_epochs(toy_registry, toy_recipe, tmp_path):
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.steps=null", "train.epochs=2",
                           "train.lr_schedule={name: linear_decay, hold: 0.5}")
    assert trainer.total == 16  # 16 samples / batch 2 = 8 steps per epoch
    trainer.fit()
    lrs = [json.loads(l)["lr/G"] for l in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert lrs[:4] == [2e-4] * 4 and lrs[4] > lrs[5] > lrs[6] > lrs[7] > 0


def test_keep_last_k_checkpoints(toy_registry, toy_recipe, tmp_path):
    make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.checkpoint_every=1",
                 "train.keep_checkpoints=2").fit()
    assert sorted(p.name for p in (tmp_path / "run/checkpoints").iterdir()) == [
        "last.pt", "step_0000007.pt", "step_0000008.pt"]


def test_ema_weights_are_checkpointed(toy_registry, toy_recipe, tmp_path):
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.ema={decay: 0.5}")
    trainer.fit()
    state = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)
    ema, live = state["ema"]["generator"], trainer.model.generator.state_dict()
    assert ema.keys() == live.keys()
    assert any(not torch.equal(ema[k], live[k]) for k in ema if ema[k].is_floating_point())


def test_unwritable_run_directory(toy_registry, toy_recipe, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(TrainingError, match="cannot write the run directory"):
        make_trainer(toy_registry, toy_recipe, blocker / "run")


def test_contract_dataset_must_feed_the_model(toy_registry, toy_recipe, tmp_path):
    from ganzoo.errors import RecipeError

    import toy_plugin

    toy_plugin.ToyPairs.keys = ("A",)
    try:
        with pytest.raises(RecipeError, match=r"provides \['A'\], but model 'toy_gan' reads \['A', 'B'\]"):
            make_trainer(toy_registry, toy_recipe, tmp_path / "run")
    finally:
        toy_plugin.ToyPairs.keys = ("A", "B")


def test_optim_groups_must_match(toy_registry, toy_recipe):
    from ganzoo.errors import RecipeError

    recipe = load_recipe(toy_recipe)
    del recipe.data["optim"]["D"]
    with pytest.raises(RecipeError, match="missing optim.D, required by model 'toy_gan'"):
        resolve(recipe, toy_registry)
    apply_override(recipe, "optim.E={name: Adam}")
    with pytest.raises(RecipeError, match="has no optim slot 'E'"):
        resolve(recipe, toy_registry)


def test_cuda_requested_without_cuda(toy_registry, toy_recipe, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(TrainingError, match="CUDA is not available"):
        make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.device=cuda")


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_cuda_run(toy_registry, toy_recipe, tmp_path, precision):
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.device=cuda",
                           f"train.precision={precision}", "train.workers=1")
    trainer.fit()
    assert trainer.model.device.type == "cuda"
    assert (trainer.scaler is not None) == (precision == "fp16")
    state = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True, map_location="cpu")
    assert state["step"] == 8


def test_interrupt_writes_checkpoint_and_resumes(toy_installed, toy_recipe, tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "ganzoo", "run", str(toy_recipe), "--out", str(run), "--no-progress",
            "--set", "train.steps=100000", "--set", "train.log_every=1", "--set", "train.sample_every=100000"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not ((run / "metrics.jsonl").exists()
                                          and (run / "metrics.jsonl").stat().st_size > 0):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Error: interrupted at step" in err and "training failed" not in err
    # the printed command works as printed: the run's own recipe carries its --set values
    command = err.split("Hint: resume with: ", 1)[1].split()
    assert command == ["ganzoo", "run", f"{run}/recipe.yaml", "--resume", str(run)]
    state = torch.load(run / "checkpoints/last.pt", weights_only=True)
    assert 0 < state["step"] < 100000
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == f"interrupted at step {state['step']}"
    done = run_ganzoo(*command[1:], "--no-progress",
                      "--set", "train.steps=" + str(state["step"] + 2), "--set", "train.sample_every=100000")
    assert done.returncode == 0, done.stderr
    assert f"resumed from {run}/checkpoints/last.pt at step {state['step']}" in done.stderr
    assert "recipe change since the checkpoint: train.steps" in done.stderr
    assert f"\ntoy: {state['step'] + 2} steps" in done.stderr  # named after the original recipe, not "recipe"
    assert json.loads((run / "manifest.json").read_text())["status"] == "done"
    recipe_before = (run / "recipe.yaml").read_text()
    again = run_ganzoo(*command[1:], "--no-progress", "--set", "train.steps=1")  # fewer steps than done
    assert again.returncode == 0, again.stderr
    assert f"already at step {state['step'] + 2} ≥ 1: nothing to train" in again.stderr
    assert (run / "recipe.yaml").read_text() == recipe_before  # a no-op rewrites nothing


def test_seeded_items_draw_from_their_seed_and_restore_the_global_rng():
    import random

    from torch.utils.data import Dataset

    from ganzoo.data import SeededItems

    class Noisy(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            return torch.rand(3), random.random()

    items = SeededItems(Noisy())
    torch.manual_seed(1)
    random.seed(1)
    first = items[(0, 7)]
    after = (torch.rand(1), random.random())
    torch.manual_seed(2)  # a different global state: the item does not change
    second = items[(0, 7)]
    assert torch.equal(first[0], second[0]) and first[1] == second[1]
    assert not torch.equal(items[(0, 8)][0], first[0])
    torch.manual_seed(1)
    random.seed(1)
    items[(0, 7)]
    assert torch.equal(torch.rand(1), after[0]) and random.random() == after[1]
