"""Class-conditional models: the generate(n, labels=...) convention, `ganzoo sample --label/--labels/--per-class`
with titled rows, labelled training grids, and the model's validate hook checking num_classes at resolve time."""

from __future__ import annotations

import pytest
from PIL import Image

import toy_conditional
from conftest import ROOT
from ganzoo.errors import RecipeError
from ganzoo.flow import row_labels
from ganzoo.recipe import parse_recipe
from ganzoo.resolve import resolve
from ganzoo.testing import check_dataset, check_model, check_plugin, registry_from

RECIPE = """\
model: {name: cond_gan}
components:
  generator: {name: cond_gen, num_classes: 3}
  discriminator: {name: cond_disc, num_classes: 3}
losses:
  adversarial: {name: vanilla}
data: {name: labelled, num_classes: 3}
optim:
  G: {name: Adam, lr: 2e-4, betas: [0.5, 0.999]}
  D: {name: Adam, lr: 2e-4, betas: [0.5, 0.999]}
train: {steps: 2, batch_size: 3, workers: 0, precision: fp32, sample_every: 2, checkpoint_every: 2, sample_count: 6,
        tensorboard: false, eval_at_end: false}
"""


@pytest.fixture
def registry():
    import ganzoo_losses
    import ganzoo_metrics

    return registry_from(toy_conditional, ganzoo_losses, ganzoo_metrics, dist="toy-conditional")


def test_the_conditional_plugin_conforms(registry, tmp_path):
    check_plugin(toy_conditional)
    assert int(check_dataset(toy_conditional, "labelled", num_classes=4)["label"]) == 0
    recipe = tmp_path / "cond.yaml"
    recipe.write_text(RECIPE)
    assert check_model(recipe, registry=registry, workdir=tmp_path)["capabilities"] == ["generate", "validate"]


def test_validate_reports_a_class_count_mismatch_at_its_line(registry):
    recipe = parse_recipe(RECIPE.replace("generator: {name: cond_gen, num_classes: 3}",
                                         "generator: {name: cond_gen, num_classes: 5}"), "cond.yaml")
    with pytest.raises(RecipeError) as err:
        resolve(recipe, registry)
    assert str(err.value) == ("cond.yaml:3 (components.generator.num_classes): the generator has 5 classes, but "
                              "dataset 'labelled' has 3")
    assert err.value.hint == "set it to 3"


@pytest.fixture
def trained_run(plugin_path, tmp_path, cli):
    plugin_path("ganzoo-toy-conditional", {"cond": "toy_conditional"})
    recipe = tmp_path / "cond.yaml"
    recipe.write_text(RECIPE)
    run = tmp_path / "run"
    result = cli("run", recipe, "--out", run, "--no-progress")
    assert result.exit_code == 0, result.output
    return run


def test_sample_by_class_from_the_cli(trained_run, cli, tmp_path):
    result = cli("sample", trained_run, "--per-class", "2", "--out", tmp_path / "grid.png")
    assert result.exit_code == 0, result.output
    assert "wrote 2 sample(s) of each of 3 class(es)" in result.output
    three_rows = Image.open(tmp_path / "grid.png").size
    cli("sample", trained_run, "--label", "1", "-n", "2", "--out", tmp_path / "one.png")
    one_row = Image.open(tmp_path / "one.png").size
    assert three_rows[1] > 2 * one_row[1]  # one titled row per class

    result = cli("sample", trained_run, "--labels", "0,2", "-n", "2", "--out", tmp_path / "files")
    assert sorted(p.name for p in (tmp_path / "files").iterdir()) == [
        "label0_00000.png", "label0_00001.png", "label2_00000.png", "label2_00001.png"]

    result = cli("sample", trained_run, "--label", "7", "--out", tmp_path / "bad.png")
    assert result.exit_code == 1
    assert "Error: class 7 is out of range: model 'cond_gan' has 3 classes (0..2)" in result.output
    assert "classes: 0: level0, 1: level1, 2: level2" in result.output


def test_training_grids_title_rows_by_class(registry, tmp_path):
    from ganzoo.engine import Trainer

    trainer = Trainer(resolve(parse_recipe(RECIPE, "cond.yaml"), registry), registry, out=tmp_path / "run",
                      progress=False, log=lambda m: None)
    assert row_labels(trainer.model, trainer.fixed, trainer.train_data) == [
        "0: level0", "1: level1", "2: level2", "0: level0", "1: level1", "2: level2"]
    trainer.fit()
    assert (tmp_path / "run/samples/step_0000002.png").exists()


def test_an_unconditional_model_refuses_labels(cli, tmp_path):
    run = tmp_path / "dcgan"
    tiny = ["data.image_size=16", "data.size=4", "train.batch_size=2", "train.sample_count=2", "train.steps=1",
            "train.workers=0", "components.generator={name: dcgan, z_dim: 4, hidden_dim: 4, image_size: 16}",
            "components.critic.hidden_dim=4", "components.critic.image_size=16", "train.eval_at_end=false"]
    args = [a for t in tiny for a in ("--set", t)]
    assert cli("run", ROOT / "recipes/dcgan.yaml", *args, "--out", run, "--no-progress").exit_code == 0
    result = cli("sample", run, "--per-class", "2", "--out", tmp_path / "g.png")
    assert result.exit_code == 1 and "model 'dcgan' is not class-conditional" in result.output
