"""Recipes: safe YAML, line numbers, overrides, validation against factory signatures."""

from __future__ import annotations

import pytest

from ganzoo.errors import RecipeError
from ganzoo.recipe import apply_override, load_recipe, parse_recipe
from ganzoo.resolve import resolve

from conftest import TOY_RECIPE


def resolve_text(text, registry, overrides=()):
    recipe = parse_recipe(text, source="r.yaml", name="r")
    for o in overrides:
        apply_override(recipe, o)
    return resolve(recipe, registry)


def error_of(text, registry, overrides=()) -> RecipeError:
    with pytest.raises(RecipeError) as err:
        resolve_text(text, registry, overrides)
    return err.value


def test_scientific_notation_is_a_float_and_yes_is_a_string():
    recipe = parse_recipe("optim: {G: {lr: 2e-4}}\nmodel: {direction: yes}\n")
    assert recipe.data["optim"]["G"]["lr"] == pytest.approx(2e-4)
    assert recipe.data["model"]["direction"] == "yes"


def test_line_numbers_for_dotted_paths():
    recipe = parse_recipe(TOY_RECIPE, source="toy.yaml")
    assert recipe.where("components.generator.name") == "toy.yaml:3 (components.generator.name)"
    assert recipe.where("components.generator.ngf") == "toy.yaml:3 (components.generator.ngf)"  # nearest parent


def test_resolved_recipe_fills_defaults_and_coerces(toy_registry):
    resolved = resolve_text(TOY_RECIPE, toy_registry)
    assert resolved.components["generator"].params == {"channels": 3, "width": 4, "norm": "none", "dropout": 0.2}
    assert resolved.optim["G"].params["betas"] == (0.5, 0.999)  # list -> tuple as annotated
    assert resolved.losses["reconstruction"].params["weight"] == 10.0
    assert resolved.train.lr_schedule == {"name": "constant"}
    assert "components.generator.name" in resolved.explicit and "train.seed" not in resolved.explicit


@pytest.mark.parametrize(
    "old, new, message, where",
    [
        ("{name: toy_gen}", "{name: toy_gn}", "unknown generator 'toy_gn' (did you mean 'toy_gen'?)", "r.yaml:3"),
        ("{name: toy_gen}", "{name: toy_gen, widht: 3}", "unknown parameter 'widht' for generator 'toy_gen' "
         "(did you mean 'width'?)", "r.yaml:3 (components.generator.widht)"),
        ("{name: toy_gen}", '{name: toy_gen, width: "abc"}', "generator 'toy_gen': width: expected int, got str 'abc'",
         "components.generator.width"),
        ("{name: toy_gen}", '{name: toy_gen, width: "8"}', "(a quoted number is a string: remove the quotes)", ""),
        ("{name: toy_gen}", "{name: toy_gen, norm: group}", "expected one of 'batch', 'none', got 'group'", ""),
        ("{name: toy_gen}", "{width: 3}", "missing 'name' of the generator", "r.yaml:3"),
        ("reconstruction: {name: l1, weight: 10}", "reconstruction: {name: vanilla}",
         "'vanilla' is an adversarial loss; slot 'reconstruction' of model 'toy_gan' takes a reconstruction loss", ""),
        ("G: {name: Adam", "G: {name: Adamm", "unknown optimizer 'Adamm' (did you mean 'Adam'?)", "optim.G.name"),
        ("G: {name: Adam,", "G: {name: Adam, lr_: 1,", "unknown parameter 'lr_' for optimizer Adam", "optim.G"),
        ("steps: 8", "steps: 0", "train.steps must be >= 1, got 0", "r.yaml:13"),
        ("steps: 8", "epochs: 2\n  steps: 8", "set train.steps or train.epochs, not both", ""),
        ("workers: 0", "workers: 0\n  device: gpu", "unknown device 'gpu'", ""),
        ("data: {name: toy_pairs, size: 16}", "data: {name: toy_pairs, size: 16}\nextra: 1",
         "unknown section 'extra'", "r.yaml:9 (extra)"),
        ("  discriminator: {name: toy_disc}\n", "", "missing components.discriminator, required by model 'toy_gan'", ""),
    ],
)
def test_validation_errors_name_the_place(toy_registry, old, new, message, where):
    assert old in TOY_RECIPE
    err = error_of(TOY_RECIPE.replace(old, new, 1), toy_registry)
    assert message in err.message, err.message
    assert where in str(err.where)


def test_unknown_parameter_hint_lists_accepted(toy_registry):
    err = error_of(TOY_RECIPE.replace("{name: toy_gen}", "{name: toy_gen, foo: 1}"), toy_registry)
    assert err.hint == "accepted parameters: channels, width, norm, dropout"


def test_lr_schedule_and_ema_are_validated(toy_registry):
    resolved = resolve_text(TOY_RECIPE, toy_registry, ["train.lr_schedule={name: linear_decay, hold: 0.25}",
                                                       "train.ema={slots: [generator], decay: 0.9}"])
    assert resolved.train.lr_schedule == {"name": "linear_decay", "hold": 0.25}
    assert resolved.train.ema.decay == 0.9
    err = error_of(TOY_RECIPE, toy_registry, ["train.lr_schedule=linear_decy"])
    assert "did you mean 'linear_decay'" in err.message and err.where == "--set train.lr_schedule"
    err = error_of(TOY_RECIPE, toy_registry, ["train.lr_schedule={name: linear_decay, hold: 2.0}"])
    assert "hold must be a fraction" in err.message
    err = error_of(TOY_RECIPE, toy_registry, ["train.ema={slots: [generatr]}"])
    assert "unknown slot 'generatr' (did you mean 'generator'?)" in err.message


def test_overrides(toy_registry):
    resolved = resolve_text(TOY_RECIPE, toy_registry, ["train.steps=100", "components.generator.width=8",
                                                       "optim.G.lr=1e-3"])
    assert resolved.train.steps == 100
    assert resolved.components["generator"].params["width"] == 8
    assert resolved.optim["G"].params["lr"] == pytest.approx(1e-3)
    err = error_of(TOY_RECIPE, toy_registry, ["components.generator.widht=8"])
    assert err.where == "--set components.generator.widht" and "did you mean 'width'" in err.message
    err = error_of(TOY_RECIPE, toy_registry, ["components.genrator.width=8"])
    assert err.where.startswith("--set components.genrator.width")
    assert "no components slot 'genrator' (did you mean 'generator'?)" in err.message


def test_steps_or_epochs_override_replaces_the_other(toy_registry):
    resolved = resolve_text(TOY_RECIPE, toy_registry, ["train.epochs=3"])
    assert (resolved.train.steps, resolved.train.epochs) == (None, 3.0)
    text = TOY_RECIPE.replace("steps: 8", "epochs: 2")
    resolved = resolve_text(text, toy_registry, ["train.steps=5"])
    assert (resolved.train.steps, resolved.train.epochs) == (5, None)


def test_override_syntax_errors():
    recipe = parse_recipe(TOY_RECIPE)
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        apply_override(recipe, "train.steps")
    with pytest.raises(RecipeError, match=r"unknown section 'trian' \(did you mean 'train'\?\)"):
        apply_override(recipe, "trian.steps=3")
    with pytest.raises(RecipeError, match="train.steps is a int, not a mapping"):
        apply_override(recipe, "train.steps.x=3")


def test_anchor_twins_are_independent_copies():
    text = "components:\n  G_AB: &g {name: toy_gen, width: 4}\n  G_BA: *g\n"
    recipe = parse_recipe(text)
    apply_override(recipe, "components.G_AB.width=8")
    assert recipe.data["components"]["G_AB"]["width"] == 8
    assert recipe.data["components"]["G_BA"]["width"] == 4


@pytest.mark.parametrize(
    "text, message",
    [
        ("model: {name: x\n", "YAML syntax error"),
        ("", "the recipe is empty"),
        ("- a\n- b\n", "a recipe is a mapping of sections, got list"),
        ("model: 1\nmodel: 2\n", "duplicate key 'model'"),
    ],
)
def test_malformed_yaml(text, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(text, source="bad.yaml")


def test_yaml_error_names_the_line():
    with pytest.raises(RecipeError) as err:
        parse_recipe("model: {name: toy}\ndata: [\n", source="bad.yaml")
    assert err.value.where == "bad.yaml:3"


def test_yaml_never_constructs_objects():
    with pytest.raises(RecipeError, match="YAML"):
        parse_recipe("model: !!python/object/apply:os.system ['echo hacked']\n")


def test_missing_recipe_file(tmp_path):
    with pytest.raises(RecipeError, match="recipe not found"):
        load_recipe(tmp_path / "nope.yaml")


def test_compile_with_a_gradient_penalty_is_refused_up_front():
    from ganzoo.registry import build_registry

    from conftest import ROOT

    recipe = load_recipe(ROOT / "recipes/wgan_gp.yaml", ["train.compile=true"])
    with pytest.raises(RecipeError, match="cannot be combined with losses.penalty"):
        resolve(recipe, build_registry())
