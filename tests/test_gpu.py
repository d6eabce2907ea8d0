"""What only a GPU can show: the training step queues work without waiting for the device, TF32 and cuDNN
autotuning are on where they should be, batches come from pinned memory, a NaN found later still stops the run.

Marked ``cuda``: skipped without a GPU; ``benchmarks/gpu_check.sh`` runs them (``pytest -m cuda``).
"""

from __future__ import annotations

import json

import pytest
import torch

from ganzoo.engine import Trainer
from ganzoo.errors import NonFiniteLoss
from ganzoo.recipe import load_recipe
from ganzoo.resolve import resolve
from ganzoo.tuning import DeviceFacts

pytestmark = pytest.mark.cuda


def make(registry, recipe_path, out, *overrides):
    recipe = load_recipe(recipe_path, ["train.device=cuda", *overrides])
    return Trainer(resolve(recipe, registry), registry, out=out, progress=False, log=lambda m: None)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_steps_never_synchronise_with_the_gpu(toy_registry, toy_recipe, tmp_path, precision):
    """torch's sync debug mode raises on any call that makes the host wait for the GPU (.item(), a D2H copy,
    nonzero, ...): on in every step after the first (cuDNN autotuning and lazy initialisation happen there)."""
    trainer = make(toy_registry, toy_recipe, tmp_path / "run", f"train.precision={precision}", "train.steps=12",
                   "train.log_every=4", "train.sample_every=100", "train.checkpoint_every=100", "data.size=64",
                   "train.workers=1", "train.ema={slots: [generator], decay: 0.9}", "model.d_steps=2")
    one_step = trainer._one_step

    def strict():
        if trainer.step == 0:
            return one_step()
        torch.cuda.set_sync_debug_mode("error")
        try:
            return one_step()
        finally:
            torch.cuda.set_sync_debug_mode("default")

    trainer._one_step = strict
    trainer.fit()
    assert trainer.step == 12


def test_settings_of_a_gpu_run(toy_registry, toy_recipe, tmp_path):
    trainer = make(toy_registry, toy_recipe, tmp_path / "run", "train.workers=1", "train.steps=2")
    facts = DeviceFacts.of(trainer.device)
    assert trainer.tuning.tf32 == facts.has_tf32 == torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cudnn.benchmark and trainer.batches.loader.pin_memory
    assert next(trainer.batches)["A"].is_pinned()
    trainer.fit()
    manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    assert manifest["tf32"] == facts.has_tf32 and manifest["cudnn_benchmark"] is True


def test_a_nan_on_the_gpu_is_found_at_the_next_row(toy_registry, toy_recipe, tmp_path):
    trainer = make(toy_registry, toy_recipe, tmp_path / "run", "model.nan_at=5", "train.log_every=4",
                   "train.sample_every=4", "train.checkpoint_every=100", "train.steps=20")
    with pytest.raises(NonFiniteLoss) as err:
        trainer.fit()
    assert err.value.step == 5 and "'G (total)' is nan at step 5" in err.value.message
