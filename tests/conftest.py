"""Shared fixtures: a toy-model registry, fake installed distributions, and CLI runners."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ganzoo.testing import fake_distribution, registry_from

# Tests run tiny tensors, which gain nothing from intra-op threads, and OpenMP threads that spin while another
# process holds the other core make small ops 100x slower. One thread here and in every subprocess.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)

# The suite never reads or writes the user's ganzoo cache (Inception weights, cached real features). Tests of the
# real Inception network take its path from INCEPTION (None when `ganzoo inception fetch` has not been run).
try:
    from ganzoo.inception import WeightsError, find_weights

    INCEPTION: Path | None = find_weights()
except WeightsError:
    INCEPTION = None
os.environ["GANZOO_CACHE"] = tempfile.mkdtemp(prefix="ganzoo-test-cache-")
os.environ["TORCH_HOME"] = os.environ["GANZOO_CACHE"]
os.environ.pop("GANZOO_INCEPTION", None)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

TOY_RECIPE = """\
model: {name: toy_gan}
components:
  generator: {name: toy_gen}
  discriminator: {name: toy_disc}
losses:
  adversarial: {name: vanilla}
  reconstruction: {name: l1, weight: 10}
data: {name: toy_pairs, size: 16}
optim:
  G: {name: Adam, lr: 2e-4, betas: [0.5, 0.999]}
  D: {name: Adam, lr: 2e-4, betas: [0.5, 0.999]}
train:
  steps: 8
  batch_size: 2
  log_every: 2
  sample_every: 4
  checkpoint_every: 4
  workers: 0
  precision: fp32
"""


def _runs_in_checkout() -> set[Path]:
    runs = ROOT / "runs"
    return {p for p in runs.glob("*/*")} if runs.is_dir() else set()


@pytest.fixture(scope="session", autouse=True)
def no_runs_left_in_the_checkout():
    """Tests write runs under tmp_path (--out, or cwd=tmp_path): one left in the checkout fails the session."""
    before = _runs_in_checkout()
    yield
    left = sorted(str(p.relative_to(ROOT)) for p in _runs_in_checkout() - before)
    assert not left, f"tests left run directories in the checkout: {', '.join(left)}"


@pytest.fixture
def toy_registry():
    import ganzoo_losses
    import ganzoo_metrics
    import toy_plugin

    return registry_from(toy_plugin, ganzoo_losses, ganzoo_metrics, dist="toy")


@pytest.fixture
def toy_recipe(tmp_path) -> Path:
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_RECIPE)
    return path


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    """Install fake distributions into a folder on sys.path (and PYTHONPATH for subprocesses).

    Returns ``add(dist, entry_points, modules)``.
    """
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), str(TESTS), os.environ.get("PYTHONPATH", "")]))

    created: list[str] = []

    def add(dist: str, entry_points: dict[str, str], modules: dict[str, str] | None = None, version="0.1.0"):
        fake_distribution(root, dist, entry_points, modules, version)
        created.extend(modules or {})
        importlib.invalidate_caches()
        return root

    yield add
    for name in created:  # the next test may write a module of the same name with other contents
        sys.modules.pop(name, None)


@pytest.fixture
def toy_installed(plugin_path):
    """The toy model plugin, installed as the distribution ``ganzoo-toy``."""
    plugin_path("ganzoo-toy", {"toy": "toy_plugin"})


@pytest.fixture
def cli():
    """Invoke the CLI in-process; returns click's Result (exit_code, output)."""
    from ganzoo.cli import cli as group

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(group, [str(a) for a in args], catch_exceptions=False)

    return invoke


def run_ganzoo(*args: str, cwd: Path | None = None, timeout: float = 180, env: dict | None = None):
    """Run the real command line in a subprocess (``python -m ganzoo``)."""
    return subprocess.run([sys.executable, "-m", "ganzoo", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env={**os.environ, **(env or {})})
