"""The model contract, enforced by the engine: every mistake a model plugin can make in its step is one named error."""

from __future__ import annotations

import sys
import types

import pytest
import torch

import toy_plugin
from conftest import TOY_RECIPE
from ganzoo import hookimpl
from ganzoo.engine import Trainer
from ganzoo.errors import ContractError
from ganzoo.recipe import parse_recipe
from ganzoo.resolve import resolve
from ganzoo.testing import registry_from


class Backward(toy_plugin.ToyGAN):
    def train_step(self, batch, optimizers, step):
        values = super().train_step(batch, optimizers, step)
        self.reconstruction(self.generator(batch["A"]), batch["B"]).backward()
        return values


class StepsByHand(toy_plugin.ToyGAN):
    def train_step(self, batch, optimizers, step):
        values = super().train_step(batch, optimizers, step)
        optimizers["G"].step()
        return values


class OwnOptimizer(toy_plugin.ToyGAN):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.opt_g = torch.optim.Adam(self.generator.parameters())


class NeverStepsG(toy_plugin.ToyGAN):
    def train_step(self, batch, optimizers, step):
        d = self.adversarial.real(self.discriminator(torch.cat([batch["A"], batch["B"]], 1)))
        optimizers.step("D", d)
        return {"D/real": d.detach()}


class EditsWeights(toy_plugin.ToyGAN):
    def train_step(self, batch, optimizers, step):
        values = super().train_step(batch, optimizers, step)
        with torch.no_grad():
            for p in self.discriminator.parameters():
                p.clamp_(-0.01, 0.01)  # original-WGAN clipping, behind the optimizer's back
        return values


class NonScalar(toy_plugin.ToyGAN):
    def train_step(self, batch, optimizers, step):
        values = super().train_step(batch, optimizers, step)
        return {**values, "G/per_sample": torch.ones(4)}


class Unnamed(toy_plugin.ToyGAN):
    def train_step(self, batch, optimizers, step):
        return {"loss": super().train_step(batch, optimizers, step)["G/adv"]}


class Intermittent(toy_plugin.ToyGAN):
    """Steps G every other step only, and says so."""

    intermittent_groups = ("G",)

    def train_step(self, batch, optimizers, step):
        if step % 2 == 0:
            return super().train_step(batch, optimizers, step)
        d = self.adversarial.real(self.discriminator(torch.cat([batch["A"], batch["B"]], 1)))
        optimizers.step("D", d)
        return {"D/loss": d.detach()}


MISTAKES = {
    "backward": (Backward, "left gradients on group 'G'", "do not call loss.backward() yourself"),
    "steps_by_hand": (StepsByHand, "called optimizers['G'].step() itself", "call optimizers.step(group, loss)"),
    "own_optimizer": (OwnOptimizer, "holds its own torch.optim optimizer (opt_g)", "declare optimizer_groups"),
    "never_steps_g": (NeverStepsG, "did not step optimizer group 'G' in step 1", "intermittent_groups = ('G',)"),
    "edits_weights": (EditsWeights, "changed the weights of group 'D' outside optimizers.step", "parametrize"),
    "non_scalar": (NonScalar, "returned 'G/per_sample' with shape (4,)", "values must be scalar tensors or floats"),
    "unnamed": (Unnamed, "returned the name 'loss': names are group/term", "named group/term"),
}


@pytest.fixture
def registry():
    import ganzoo_losses
    import ganzoo_metrics

    module = types.ModuleType("contract_models")

    @hookimpl
    def register_models(register):
        for name, (cls, _, _) in MISTAKES.items():
            register(name, cls)
        register("intermittent", Intermittent)

    module.register_models = register_models
    sys.modules["contract_models"] = module
    yield registry_from(toy_plugin, module, ganzoo_losses, ganzoo_metrics, dist="toy")
    sys.modules.pop("contract_models", None)


def _trainer(registry, model: str, tmp_path, steps: int = 2) -> Trainer:
    recipe = parse_recipe(TOY_RECIPE.replace("toy_gan", model).replace("steps: 8", f"steps: {steps}"), "toy.yaml")
    return Trainer(resolve(recipe, registry), registry, out=tmp_path / "run", progress=False, log=lambda m: None)


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_mistake_is_a_named_error(registry, tmp_path, mistake):
    _, message, hint = MISTAKES[mistake]
    with pytest.raises(ContractError) as err:
        _trainer(registry, mistake, tmp_path).fit()
    assert message in str(err.value) and hint in err.value.hint
    if mistake != "own_optimizer":  # the class and its plugin's module are named
        assert str(err.value).startswith(f"{MISTAKES[mistake][0].__name__} (test_contract): train_step ")


def test_a_declared_intermittent_group_may_skip_steps(registry, tmp_path):
    result = _trainer(registry, "intermittent", tmp_path, steps=3).fit()
    assert result.step == 3


def test_the_contract_costs_nothing_measurable(toy_registry, tmp_path):
    """The bookkeeping per step is a few additions over the parameters' version counters: time it against the
    toy step it guards (the smallest step there is, so the share is an upper bound for any real model)."""
    import time

    trainer = _trainer(toy_registry, "toy_gan", tmp_path)
    ledger = trainer.opt.ledger
    start = time.perf_counter()
    for _ in range(200):
        ledger.begin(1)
        for group in ("D", "G"):
            with ledger.stepping(group):
                pass
        ledger.end()
    per_step = (time.perf_counter() - start) / 200
    assert per_step < 1e-3, f"{per_step * 1e6:.0f} us per step"


# --dry-run touches data and the model; a first step that fails names the component -----------------------------
BROKEN_DATA = '''
import torch
from ganzoo import hookimpl
from toy_plugin import ToyPairs


class Broken(ToyPairs):
    """Toy pairs, broken in the way `mistake` says."""

    def __init__(self, *, split: str = "train", size: int = 16, image_size: int = 8, mistake: str = "hwc"):
        super().__init__(split=split, size=size, image_size=image_size)
        self.mistake, self.image_size = mistake, image_size

    def __getitem__(self, i):
        item = super().__getitem__(i)
        if self.mistake == "hwc":
            return {k: v.permute(1, 2, 0) for k, v in item.items()}
        if self.mistake == "size":
            return {k: torch.nn.functional.pad(v, (1, 1, 1, 1)) for k, v in item.items()}
        if self.mistake == "missing":
            return {"A": item["A"]}
        return item


class Crashing(__import__("toy_plugin").ToyGAN):
    """A model whose step has a bug of its own."""

    def train_step(self, batch, optimizers, step):
        return self.helper(batch["A"])

    def helper(self, x):
        return {"G/x": x.sum(dim="nope")}


@hookimpl
def register_datasets(register):
    register("broken_pairs", Broken)


@hookimpl
def register_models(register):
    register("crashing", Crashing)
'''


@pytest.fixture
def broken_installed(plugin_path, toy_installed):
    plugin_path("ganzoo-broken", {"broken": "broken_data"}, {"broken_data": BROKEN_DATA})


@pytest.mark.parametrize("mistake,message", [
    ("hwc", "dataset 'broken_pairs' item['A']: shape (8, 8, 3) looks like HWC"),
    ("size", "dataset 'broken_pairs' item['A']: size 10x10, but its parameters say 8x8"),
    ("missing", "dataset 'broken_pairs' gave no 'B' in its items (they hold ['A'])"),
])
def test_dry_run_finds_dataset_mistakes_before_training(broken_installed, toy_recipe, cli, mistake, message):
    result = cli("run", toy_recipe, "--dry-run", "--set", f"data={{name: broken_pairs, mistake: {mistake}}}")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: --set data (data.name): {message}"), result.output
    assert "Traceback" not in result.output and "check_dataset" in result.output


def test_dry_run_runs_sample_and_one_step_and_restores_the_rng(toy_registry, toy_recipe):
    from ganzoo.dryrun import dry_run
    from ganzoo.recipe import load_recipe

    resolved = resolve(load_recipe(toy_recipe), toy_registry)
    before = torch.get_rng_state()
    out = dry_run(resolved)
    assert torch.equal(torch.get_rng_state(), before)
    assert "checked: a batch of 2 (A (2, 3, 8, 8), B (2, 3, 8, 8)); sample() -> input, output, target; " \
           "one train_step -> D/loss" in out


def test_dry_run_and_a_real_first_step_name_the_failing_model(broken_installed, toy_recipe, cli, tmp_path):
    for args in (["--dry-run"], ["--out", tmp_path / "run", "--no-progress"]):
        result = cli("run", toy_recipe, "--set", "model.name=crashing", *args)
        assert result.exit_code == 1
        error = next(line for line in result.output.splitlines() if line.startswith("Error:"))
        assert error.startswith("Error: model 'crashing' from ganzoo-broken failed in its first train_step: "
                                "TypeError:"), error
        assert "broken_data.py:" in error  # the plugin's own line, not torch's
    assert not (tmp_path / "run").exists()  # nothing was written, the directory is gone


def test_a_real_first_step_blames_the_dataset(broken_installed, toy_recipe, cli, tmp_path):
    result = cli("run", toy_recipe, "--set", "data={name: broken_pairs, mistake: hwc}", "--out", tmp_path / "run",
                 "--no-progress")
    assert result.exit_code == 1 and "Error: --set data (data.name): dataset 'broken_pairs'" in result.output
