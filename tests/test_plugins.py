"""Plugin discovery through entry points: failures recorded, misspelt hooks, duplicates, allowlist."""

from __future__ import annotations

import json

import pytest

from ganzoo.errors import PluginError
from ganzoo.registry import build_registry

GOOD = """
from ganzoo import hookimpl
from torch import nn

class Net(nn.Module):
    '''A test generator.'''
    def __init__(self, *, width: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

@hookimpl
def register_generators(register):
    register("shared_net", Net)
"""

BROKEN = "import this_module_does_not_exist\n"

MISSPELT = """
from ganzoo import hookimpl

@hookimpl
def register_generator(register):
    pass
"""


def test_builtins_are_registered_through_entry_points():
    registry = build_registry()
    dists = {p.dist for p in registry.plugins}
    assert "ganzoo" in dists
    entry = registry.get("loss", "l1")
    assert (entry.dist, entry.plugin.entry_point) == ("ganzoo", "losses = ganzoo_losses")
    assert entry.summary.startswith("Mean absolute error")


def test_broken_plugin_is_recorded_and_others_keep_working(plugin_path, cli):
    plugin_path("broken-plugin", {"broken": "broken_mod"}, {"broken_mod": BROKEN}, version="2.0")
    registry = build_registry()
    broken = [p for p in registry.plugins if p.dist == "broken-plugin"]
    assert broken and "ModuleNotFoundError" in broken[0].errors[0]
    assert broken[0].version == "2.0"
    assert registry.get("loss", "l1")  # the built-ins are unaffected

    result = cli("list", "loss")
    assert result.exit_code == 0 and "l1" in result.output
    assert "reported errors (broken-plugin)" in result.output
    result = cli("plugins", "--json")
    rows = {r["dist"]: r for r in json.loads(result.output)}
    assert "this_module_does_not_exist" in rows["broken-plugin"]["errors"][0]
    assert rows["broken-plugin"]["entry_point"] == "broken = broken_mod"

    listed = json.loads(cli("list", "--json").output)  # machine-readable listings carry the load errors too
    failed = {e["dist"]: e for e in listed["plugin_errors"]}
    assert "this_module_does_not_exist" in failed["broken-plugin"]["errors"][0]
    assert any(c["name"] == "l1" for c in listed["components"])
    version = cli("--version").output
    assert "broken-plugin 2.0 (failed to load" in version and "ganzoo 0.1.0," in version


def test_strict_mode_reraises(plugin_path, monkeypatch):
    plugin_path("broken-plugin", {"broken": "broken_mod"}, {"broken_mod": BROKEN})
    monkeypatch.setenv("GANZOO_STRICT_PLUGINS", "1")
    with pytest.raises(ModuleNotFoundError):
        build_registry()


def test_misspelt_hook_is_reported_with_suggestion(plugin_path, cli):
    plugin_path("typo-plugin", {"typo": "typo_mod"}, {"typo_mod": MISSPELT})
    registry = build_registry()
    typo = next(p for p in registry.plugins if p.dist == "typo-plugin")
    assert typo.errors == ["unknown hook 'register_generator' (did you mean 'register_generators'?)"]
    assert "unknown hook 'register_generator'" in cli("plugins").output


def test_duplicate_names_listed_and_only_an_error_when_used(plugin_path, cli, tmp_path):
    plugin_path("plugin-one", {"one": "mod_one"}, {"mod_one": GOOD})
    plugin_path("plugin-two", {"two": "mod_two"}, {"mod_two": GOOD})
    registry = build_registry()
    assert [[e.dist for e in es] for es in registry.duplicates()] == [["plugin-one", "plugin-two"]]
    with pytest.raises(PluginError) as err:
        registry.get("generator", "shared_net")
    assert "plugin-one 0.1.0, plugin-two 0.1.0" in err.value.message
    assert "'plugin-one:shared_net' or 'plugin-two:shared_net'" in err.value.hint
    assert registry.get("generator", "plugin-two:shared_net").dist == "plugin-two"

    listing = cli("list", "generators").output
    assert "[duplicate: use plugin-one:shared_net]" in listing
    assert "plugin-one:shared_net, plugin-two:shared_net" in cli("plugins").output


def test_ambiguous_name_in_recipe_is_a_one_line_error(plugin_path, toy_installed, toy_recipe, cli):
    plugin_path("plugin-one", {"one": "mod_one"}, {"mod_one": GOOD.replace("shared_net", "toy_gen")})
    result = cli("run", toy_recipe, "--dry-run")
    assert result.exit_code == 1
    assert "generator 'toy_gen' is ambiguous: registered by" in result.output
    assert "'ganzoo-toy:toy_gen'" in result.output and "'plugin-one:toy_gen'" in result.output
    assert "Traceback" not in result.output
    settled = cli("run", toy_recipe, "--dry-run", "--set", "components.generator.name=ganzoo-toy:toy_gen")
    assert settled.exit_code == 0, settled.output


def test_allowlist_restricts_loaded_distributions(plugin_path, monkeypatch):
    plugin_path("plugin-one", {"one": "mod_one"}, {"mod_one": GOOD})
    plugin_path("broken-plugin", {"broken": "broken_mod"}, {"broken_mod": BROKEN})
    monkeypatch.setenv("GANZOO_LOAD_PLUGINS", "plugin_one")
    registry = build_registry()
    assert {p.dist for p in registry.plugins} == {"plugin-one"}
    assert registry.names("generator") == ["shared_net"]
    assert not registry.problems


def test_hook_that_raises_is_recorded(plugin_path):
    plugin_path("raising", {"r": "raising_mod"}, {"raising_mod": """
from ganzoo import hookimpl

@hookimpl
def register_losses(register):
    raise RuntimeError("boom")
"""})
    registry = build_registry()
    plugin = next(p for p in registry.plugins if p.dist == "raising")
    assert plugin.errors == ["register_losses raised RuntimeError: boom"]


def test_uninstalled_checkout_says_how_to_install(monkeypatch, cli):
    monkeypatch.setattr("ganzoo.plugins.entry_points", lambda: [])
    result = cli("list")
    assert result.exit_code == 0
    assert result.output.strip() == "no plugins found: install ganzoo (pip install -e .)"
    assert "install ganzoo" in cli("plugins").output


def test_registry_entry_knows_its_parameters(toy_registry):
    entry = toy_registry.get("generator", "toy_gen")
    params = {p.name: (p.default, p.type_name) for p in entry.params}
    assert params == {"channels": (3, "int"), "width": (4, "int"), "norm": ("none", "'batch' | 'none'"),
                      "dropout": (0.2, "float")}
    model = toy_registry.get("model", "toy_gan")
    # slots are not options
    assert [p.name for p in model.params] == ["nan_at", "d_steps", "fail_on_rank", "nan_grad_at", "nan_from"]
    dataset = toy_registry.get("dataset", "toy_pairs")
    assert "split" not in [p.name for p in dataset.params]


def test_model_factory_must_be_a_ganmodel():
    import types

    from ganzoo import hookimpl
    from ganzoo.testing import registry_from

    module = types.ModuleType("bad_models")

    @hookimpl
    def register_models(register):
        register("not_a_model", dict)

    module.register_models = register_models
    registry = registry_from(module)
    assert "must be a ganzoo.GANModel subclass" in registry.plugins[0].errors[0]


def test_public_api_resolve_is_callable_whatever_was_imported_first(toy_registry, toy_recipe):
    import ganzoo
    import ganzoo.resolve  # binds the submodule as the package's attribute
    from ganzoo import load_recipe, resolve

    assert resolve(load_recipe(toy_recipe), toy_registry).model.name == "toy_gan"
    assert ganzoo.resolve(load_recipe(toy_recipe), toy_registry).train.steps == 8
    assert callable(ganzoo.load_trained) and callable(ganzoo.save_samples)


def test_list_model_shows_its_contract(cli):
    out = cli("list", "model", "cyclegan").output
    assert "component slots: G_AB (generator), G_BA (generator), D_A (discriminator), D_B (discriminator)" in out
    assert "loss slots:      adversarial (adversarial loss), cycle (reconstruction loss)" in out
    assert "optimizer groups: G: G_AB, G_BA; D: D_A, D_B" in out and "batch keys:      A, B" in out
    assert "capabilities:    translate, evaluation_pairs, generated_images" in out
    row = json.loads(cli("list", "model", "dcgan", "--json").output)
    assert row["contract"]["batch_keys"] == ["x"] and "generate" in row["contract"]["capabilities"]


def test_messages_use_the_right_article_and_plural(cli, tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: {name: dcgan}\ncomponents: {generator: dcgan, critic: critic}\n"
                      "losses: {adversarial: l1}\ndata: shapes\noptim: {G: Adam, D: Adam}\ntrain: {steps: 1}\n")
    out = cli("run", recipe, "--dry-run").output
    assert "takes an adversarial loss" in out and "is a reconstruction loss" in out
    out = cli("run", recipe, "--dry-run", "--set", "losses.adversarial=nosuch").output
    assert "registered losses" in out and "losss" not in out


def test_init_weights_norm_scales_follow_the_scheme():
    import torch
    from torch import nn

    from ganzoo.layers import init_weights

    torch.manual_seed(0)
    for scheme, gain, spread in (("normal", 0.02, 0.02), ("xavier", 1.0, 0.02), ("kaiming", 1.0, 0.02)):
        net = init_weights(nn.Sequential(nn.Conv2d(3, 512, 1), nn.BatchNorm2d(512)), scheme, gain)
        scale = net[1].weight.detach()
        assert abs(scale.mean().item() - 1) < 0.01 and abs(scale.std().item() - spread) < 0.005, scheme
        assert (scale > 0).all()  # N(1, 1) would have flipped ~16% of the channels


RECIPES = """
from pathlib import Path
from ganzoo import hookimpl

@hookimpl
def register_recipes(register):
    register("shipped", Path(__file__).parent / "shipped.yaml")
"""


def test_recipes_from_plugins_are_listed_and_run_by_name(plugin_path, toy_installed, cli, tmp_path):
    from conftest import TOY_RECIPE

    root = plugin_path("ganzoo-recipes", {"recipes": "recipes_mod"}, {"recipes_mod": RECIPES})
    (root / "shipped.yaml").write_text("# the toy recipe, shipped by a plugin\n" + TOY_RECIPE)
    line = next(x for x in cli("list", "recipe").output.splitlines() if "shipped " in x)
    assert line.split()[:3] == ["shipped", "ganzoo-recipes", "0.1.0"] and line.endswith("shipped by a plugin")
    assert "provides: recipe" in cli("plugins").output
    row = next(r for r in json.loads(cli("list", "recipes", "--json").output) if r["name"] == "shipped")
    assert row["path"] == str(root / "shipped.yaml") and row["run"] == "ganzoo run ganzoo-recipes:shipped"
    result = cli("run", "ganzoo-recipes:shipped", "--out", tmp_path / "run", "--no-progress", "--set", "train.steps=1")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run/checkpoints/last.pt").exists()
