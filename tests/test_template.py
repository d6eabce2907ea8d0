"""`ganzoo new-plugin`: the package it writes passes its own tests, installs, lists and trains by recipe name."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import run_ganzoo
from ganzoo.errors import GanzooError
from ganzoo.template import new_plugin
from ganzoo.testing import check_model, check_plugin, fake_distribution, registry_from


def test_the_template_passes_its_tests_and_trains_once_installed(cli, tmp_path, monkeypatch):
    kinds = "generator,discriminator,dataset,model,loss"
    result = cli("new-plugin", "ganzoo-blobs", "--dir", tmp_path, "--kinds", kinds)
    assert result.exit_code == 0, result.output
    root = tmp_path / "ganzoo-blobs"
    assert "pip install -e '.[test]' && pytest && ganzoo run blobs" in result.output
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root,
                           env=env, capture_output=True, text=True, timeout=300)
    assert tests.returncode == 0 and "3 passed" in tests.stdout, tests.stdout + tests.stderr

    fake_distribution(root, "ganzoo-blobs", {"blobs": "ganzoo_blobs"})  # what `pip install -e .` leaves
    monkeypatch.setenv("PYTHONPATH", env["PYTHONPATH"])
    plugins = run_ganzoo("plugins")
    assert "ganzoo-blobs 0.1.0  [blobs = ganzoo_blobs]  provides: generator, discriminator, loss, dataset, model, " \
           "recipe" in plugins.stdout
    run = run_ganzoo("run", "blobs", "--out", tmp_path / "run", "--no-progress", "--set", "train.steps=4",
                     "--set", "train.workers=0", "--set", "train.eval_at_end=false")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "run/checkpoints/last.pt").exists() and (tmp_path / "run/samples").is_dir()


def test_a_template_of_some_kinds_fills_the_rest_with_builtins(tmp_path, monkeypatch):
    import importlib

    import ganzoo_losses
    import ganzoo_metrics
    import ganzoo_wgan

    root = new_plugin("ganzoo-nets", tmp_path, ("generator", "dataset"))
    monkeypatch.syspath_prepend(str(root))
    module = importlib.import_module("ganzoo_nets")
    try:
        check_plugin(module)
        registry = registry_from(module, ganzoo_losses, ganzoo_metrics, ganzoo_wgan)
        recipe = root / "ganzoo_nets/recipes/nets.yaml"
        assert "model: {name: dcgan}" in recipe.read_text()
        check_model(recipe, "train.batch_size=4", "train.sample_count=4", registry=registry, workdir=tmp_path)
    finally:
        sys.modules.pop("ganzoo_nets", None)


def test_the_template_never_overwrites_and_checks_its_arguments(tmp_path):
    new_plugin("ganzoo-x", tmp_path)
    with pytest.raises(GanzooError, match="already exists"):
        new_plugin("ganzoo-x", tmp_path)
    with pytest.raises(GanzooError, match="choose from generator"):
        new_plugin("ganzoo-y", tmp_path, ("generators",))
    with pytest.raises(GanzooError, match="lower-case letters"):
        new_plugin("Bad Name", tmp_path)
