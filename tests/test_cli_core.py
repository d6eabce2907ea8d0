"""The command line: list, plugins, --version, run --dry-run, and one-line errors for bad input."""

from __future__ import annotations

import json

import pytest

from conftest import run_ganzoo


def test_list_groups_by_kind_and_accepts_plurals(toy_installed, cli):
    out = cli("list").output
    assert "generators:" in out and "losses:" in out and "models:" in out
    assert "toy_gen" in out and "ganzoo-toy 0.1.0" in out and "Two 3x3 convolutions, Tanh." in out
    assert cli("list", "generators").output == cli("list", "generator").output
    assert "losses:" not in cli("list", "generator").output


def test_list_pattern_and_json(toy_installed, cli):
    rows = json.loads(cli("list", "loss", "l*", "--json").output)["components"]
    assert {r["name"] for r in rows} == {"l1", "l2", "lsgan"}
    row = next(r for r in rows if r["name"] == "l1")
    assert set(row) == {"kind", "name", "plugin", "version", "summary", "params"}
    assert row["plugin"] == "ganzoo" and row["params"] == [
        {"name": "weight", "type": "float", "default": 1.0, "required": False}]


def test_list_one_component_shows_parameters(toy_installed, cli):
    out = cli("list", "generator", "toy_gen").output
    assert "generator toy_gen  (ganzoo-toy:toy_gen, version 0.1.0)" in out
    assert "width" in out and "default 4" in out and "'batch' | 'none'" in out
    assert json.loads(cli("list", "generator", "toy_gen", "--json").output)["name"] == "toy_gen"


def test_list_unknown_kind(cli):
    result = cli("list", "generater")
    assert result.exit_code == 1
    assert result.output.startswith("Error: unknown kind 'generater' (did you mean 'generator'?)")


def test_plugins_and_version(toy_installed, cli):
    out = cli("plugins").output
    assert "ganzoo-toy 0.1.0  [toy = toy_plugin]  provides: generator, discriminator, dataset, model" in out
    version = cli("--version").output
    assert version.startswith("ganzoo 0.1.0 (torch ") and "ganzoo-toy 0.1.0" in version


def test_dry_run_prints_resolved_recipe_and_builds(toy_installed, toy_recipe, cli):
    result = cli("run", toy_recipe, "--dry-run", "--set", "components.generator.width=8")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "    width: 8  # *" in out and "    channels: 3\n" in out  # set vs default
    assert "generator: toy_gen, " in out and " parameters" in out
    assert "data: toy_pairs (train 16, test 16 samples)" in out
    assert "dry run: nothing trained" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "missing.yaml"], "Error: recipe not found: missing.yaml"),
        (["run", "{recipe}", "--set", "train.steps"], "Error: --set 'train.steps': expected KEY=VALUE"),
        (["run", "{recipe}", "--set", "trian.steps=3"], "Error: --set trian.steps: unknown section 'trian'"),
        (["run", "{recipe}", "--set", "components.generator.ngf=3"],
         "Error: --set components.generator.ngf: unknown parameter 'ngf' for generator 'toy_gen'"),
        (["run", "{recipe}", "--set", "components.generator.width=abc"],
         "Error: --set components.generator.width: generator 'toy_gen': width: expected int, got str 'abc'"),
        (["run", "{recipe}", "--set", "components.generator.name=unet9"],
         "Error: --set components.generator.name: unknown generator 'unet9'"),
    ],
)
def test_bad_input_is_one_error_line(toy_installed, toy_recipe, cli, args, message):
    result = cli(*[a.replace("{recipe}", str(toy_recipe)) for a in args])
    assert result.exit_code == 1
    assert result.output.startswith(message), result.output
    assert "Traceback" not in result.output
    assert len([l for l in result.output.splitlines() if l.startswith("Error:")]) == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("model: {name: x\n", "YAML syntax error"),
        ("", "the recipe is empty"),
        ("models: {name: toy_gan}\n", "unknown section 'models' (did you mean 'model'?)"),
    ],
)
def test_bad_recipe_files(tmp_path, cli, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = cli("run", path)
    assert result.exit_code == 1 and message in result.output and str(path) in result.output


def test_component_from_a_broken_plugin_points_at_ganzoo_plugins(plugin_path, toy_installed, toy_recipe, cli):
    plugin_path("broken-plugin", {"broken": "broken_mod2"}, {"broken_mod2": "raise ImportError('no cuda here')\n"})
    result = cli("run", toy_recipe, "--set", "components.generator.name=fancy_net")
    assert result.exit_code == 1
    assert "plugins with load errors: broken-plugin (see `ganzoo plugins`)" in result.output


def test_real_console_entry_point(toy_installed, toy_recipe):
    proc = run_ganzoo("run", toy_recipe, "--set", "components.generator.widht=3")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: --set components.generator.widht: unknown parameter 'widht'")
    assert "Hint: accepted parameters: channels, width, norm, dropout" in proc.stderr
    assert "Traceback" not in proc.stderr
