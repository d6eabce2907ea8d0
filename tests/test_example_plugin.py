"""The third-party example plugin, installed with pip (as .ci/run does), seen and used through the CLI."""

from __future__ import annotations

import importlib.metadata
import json

import pytest

from conftest import ROOT, run_ganzoo

RECIPE = ROOT / "examples/ganzoo-example-plugin/ganzoo_example/recipes/example_pix2pix.yaml"


@pytest.fixture(autouse=True)
def installed():
    try:
        importlib.metadata.distribution("ganzoo-example-plugin")
    except importlib.metadata.PackageNotFoundError:
        pytest.fail("install the example plugin first: pip install -e examples/ganzoo-example-plugin")


def test_listed_and_attributed_to_its_distribution(cli):
    rows = json.loads(cli("list", "--json").output)["components"]
    mine = {(r["kind"], r["name"]) for r in rows if r["plugin"] == "ganzoo-example-plugin"}
    assert {("generator", "tiny_translator"), ("dataset", "stripes_pairs")} <= mine
    assert "ganzoo-example-plugin 0.1.0  [example = ganzoo_example]  provides: generator, dataset" in cli(
        "plugins").output


def test_recipe_with_third_party_components_dry_runs(cli):
    result = cli("run", RECIPE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "generator: tiny_translator" in result.output


def test_recipe_with_third_party_components_trains(tmp_path):
    proc = run_ganzoo("run", RECIPE, "--out", tmp_path / "run", "--no-progress", "--set", "train.steps=2",
                      "--set", "train.workers=0", "--set", "data.image_size=16", "--set", "data.size=8")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run/checkpoints/last.pt").exists()
    manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    assert manifest["components"]["components.generator"]["dist"] == "ganzoo-example-plugin"


def test_a_recipe_shipped_by_the_plugin_runs_by_name(cli):
    listed = cli("list", "recipe").output
    assert "example_pix2pix  ganzoo-example-plugin 0.1.0  ganzoo's built-in pix2pix scheme" in listed
    for name in ("example_pix2pix", "ganzoo-example-plugin:example_pix2pix"):
        result = cli("run", name, "--dry-run", "--set", "data.image_size=16", "--set", "data.size=4")
        assert result.exit_code == 0, result.output
        assert "ganzoo_example/recipes/example_pix2pix.yaml" in result.output  # the resolved recipe's source
    result = cli("run", "exampel_pix2pix", "--dry-run")
    assert result.exit_code == 1 and "(did you mean 'example_pix2pix'?)" in result.output
