"""No host-device synchronisation inside a training step: the steps between two log rows make no call that
waits for the device (``.item()``, ``float(t)``, ``int(t)``, ``bool(t)``, ``.cpu()``, ``.tolist()``, ``.numpy()``).

On CPU nothing waits, but the same calls on CUDA block the host until the GPU has caught up, so they are counted
here by patching ``torch.Tensor`` while a toy model trains.
"""

from __future__ import annotations

import pytest
import torch

from ganzoo.engine import Trainer
from ganzoo.recipe import load_recipe
from ganzoo.resolve import resolve

SYNCING = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__", "__index__")


@pytest.fixture
def sync_calls(monkeypatch):
    """``calls`` gets one list per training step (see ``per_step``); each syncing call appends its name."""
    buckets: list[list[str]] = [[]]

    def counting(name):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, **kwargs):
            buckets[-1].append(name)
            return original(self, *args, **kwargs)

        return wrapper

    for name in SYNCING:
        monkeypatch.setattr(torch.Tensor, name, counting(name))
    return buckets


def per_step(trainer: Trainer, buckets: list[list[str]]) -> None:
    """Open a new bucket at the start of every step: bucket ``s`` holds the calls of step ``s`` and of the loop's
    work after it (rows, samples, checkpoints), up to the start of step ``s + 1``."""
    one_step = trainer._one_step

    def counted():
        buckets.append([])
        return one_step()

    trainer._one_step = counted


@pytest.mark.parametrize("overrides", [
    [],
    ["model.d_steps=2", "train.ema={slots: [generator], decay: 0.9}"],
    ["train.on_nan=skip"],  # documented exception: skip decides per update, so only rows are checked here
], ids=["stop", "several-updates-ema", "skip"])
def test_no_sync_between_log_rows(toy_registry, toy_recipe, tmp_path, sync_calls, overrides):
    recipe = load_recipe(toy_recipe, ["train.steps=12", "train.log_every=4", "train.sample_every=100",
                                      "train.checkpoint_every=100", "train.eval_at_end=false", "data.size=64",
                                      "train.workers=1", *overrides])
    trainer = Trainer(resolve(recipe, toy_registry), toy_registry, out=tmp_path / "run", progress=False,
                      log=lambda m: None)
    sync_calls.clear()
    sync_calls.append([])
    per_step(trainer, sync_calls)
    trainer.fit()
    steps = sync_calls[1:]  # [0]: before the first step
    assert len(steps) == 12
    quiet = [s for s in range(2, 13) if s % 4 != 0]  # step 1 starts the DataLoader (CPU work, once)
    skip = "train.on_nan=skip" in overrides
    for s in quiet:
        calls = [c for c in steps[s - 1] if not (skip and c == "__bool__")]
        assert calls == [], f"step {s} synchronised with the device: {calls}"
    assert all(steps[s - 1] for s in (4, 8, 12)), "the log rows read the losses: the counting must see it"


# The scalars read back later ------------------------------------------------------------------------------------
def test_pending_scalars_read_back_in_order_as_copies():
    from ganzoo.scalars import PendingScalars, first_nonfinite

    pending = PendingScalars(torch.device("cpu"))
    loss = torch.tensor(2.0)
    pending.add(1, 0.5, {"D/a": torch.tensor(1.5, dtype=torch.bfloat16), "n": 3, "G/b": loss},
                [("D (total)", torch.tensor(0.25))])
    loss.add_(100)  # changed in place after the step: the recorded value is a copy
    pending.add(2, 0.25, {"D/a": torch.tensor(float("inf")), "n": 4, "G/b": torch.tensor([7.0])},
                [("D (total)", torch.tensor(float("nan")))])
    steps = pending.read()
    assert len(pending) == 0 and pending.read() == []
    assert [s.step for s in steps] == [1, 2] and steps[0].seconds == 0.5
    assert steps[0].values == {"D/a": 1.5, "n": 3.0, "G/b": 2.0}
    assert list(steps[1].values) == ["D/a", "n", "G/b"] and steps[0].updates == [("D (total)", 0.25)]
    bad = first_nonfinite(steps)  # the update ran before the step's values existed: it comes first
    assert (bad.step, bad.name, bad.in_update) == (2, "D (total)", True)
    steps[1].updates.clear()
    bad = first_nonfinite(steps)
    assert (bad.step, bad.name, bad.value, bad.in_update) == (2, "D/a", float("inf"), False)
    assert first_nonfinite(steps, values=False) is None


def make(registry, recipe_path, out, *overrides, resume=None):
    recipe = load_recipe(recipe_path, overrides)
    return Trainer(resolve(recipe, registry), registry, out=out, resume=resume, progress=False, log=lambda m: None)


def rows(run) -> list[dict]:
    import json

    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_a_nan_is_found_within_log_every_steps_and_reported_where_it_happened(toy_registry, toy_recipe, tmp_path):
    from ganzoo.errors import NonFiniteLoss

    trainer = make(toy_registry, toy_recipe, tmp_path / "run", "model.nan_at=5", "train.log_every=4",
                   "train.sample_every=4", "train.checkpoint_every=100", "train.steps=20")
    seen = []
    one_step = trainer._one_step
    trainer._one_step = lambda: (seen.append(trainer.step + 1), one_step())
    with pytest.raises(NonFiniteLoss) as err:
        trainer.fit()
    assert err.value.step == 5 and err.value.message == "loss 'G (total)' is nan at step 5"
    assert seen[-1] == 8  # steps 6-8 ran on (nothing read the loss back), then the log row at 8 found it
    assert [r["step"] for r in rows(tmp_path / "run") if "G/adv" in r] == [4]  # no row from a NaN step
    assert [p.name for p in (tmp_path / "run/samples").iterdir()] == ["step_0000004.png"]  # none of NaN weights
    assert not list((tmp_path / "run/checkpoints").iterdir())
    import json

    status = json.loads((tmp_path / "run/manifest.json").read_text())["status"]
    assert status == "failed in step 5: loss 'G (total)' is nan at step 5"


def test_no_checkpoint_is_written_between_a_nan_and_its_detection(toy_registry, toy_recipe, tmp_path):
    from ganzoo.errors import NonFiniteLoss

    trainer = make(toy_registry, toy_recipe, tmp_path / "run", "model.nan_at=5", "train.log_every=10",
                   "train.sample_every=100", "train.checkpoint_every=3", "train.steps=20")
    with pytest.raises(NonFiniteLoss) as err:  # not NonFiniteWeights at step 6: the check comes first
        trainer.fit()
    assert err.value.step == 5 and f"last good checkpoint: {tmp_path / 'run/checkpoints/last.pt'}" in err.value.hint
    assert torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)["step"] == 3
    assert not (tmp_path / "run/checkpoints/step_0000006.pt").exists()


def test_a_crash_after_an_unread_nan_is_reported_as_the_nan(toy_registry, toy_recipe, tmp_path):
    from ganzoo.errors import NonFiniteLoss

    trainer = make(toy_registry, toy_recipe, tmp_path / "run", "model.nan_at=5", "train.log_every=10",
                   "train.sample_every=100", "train.checkpoint_every=100", "train.steps=20")
    train_step = trainer.model.train_step

    def fragile(batch, optimizers, step):  # e.g. torch.multinomial refusing NaN probabilities
        if any(not p.isfinite().all() for p in trainer.model.generator.parameters()):
            raise RuntimeError("probability tensor contains either inf, nan or element < 0")
        return train_step(batch, optimizers, step)

    trainer.model.train_step = fragile
    with pytest.raises(NonFiniteLoss) as err:
        trainer.fit()
    assert err.value.step == 5 and isinstance(err.value.__cause__, RuntimeError)


def test_resume_from_a_checkpoint_inside_a_log_window_is_bit_identical(toy_registry, toy_recipe, tmp_path):
    import shutil

    settings = ["train.deterministic=true", "train.log_every=4", "train.checkpoint_every=3", "train.steps=12",
                "train.sample_every=100", "train.eval_at_end=false"]
    make(toy_registry, toy_recipe, tmp_path / "full", *settings).fit()
    shutil.copytree(tmp_path / "full", tmp_path / "copy")
    (tmp_path / "copy/metrics.jsonl").write_text("")  # the resumed run must rebuild rows 8 and 12 itself
    state = torch.load(tmp_path / "copy/checkpoints/step_0000006.pt", weights_only=True)
    assert state["window"]["steps"] == 2 and len(state["window"]["values"]["G/adv"]) == 2  # steps 5 and 6
    make(toy_registry, toy_recipe, None, *settings, resume=tmp_path / "copy/checkpoints/step_0000006.pt").fit()
    losses = lambda run: [{k: v for k, v in r.items() if "/" in k} for r in rows(run) if "G/adv" in r]  # noqa: E731
    assert losses(tmp_path / "copy") == losses(tmp_path / "full")[1:]  # rows 8 and 12
    a = torch.load(tmp_path / "full/checkpoints/last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "copy/checkpoints/last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
