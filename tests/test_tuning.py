"""Per-device speed settings (ganzoo/tuning.py): what a GPU run would get, decided and tested on a CPU."""

from __future__ import annotations

import json

import pytest
import torch

from ganzoo.device import configure
from ganzoo.errors import TrainingError
from ganzoo.tuning import DeviceFacts, Tuning, apply, choose, loader_options

AMPERE, TURING, HOPPER = DeviceFacts("cuda", (8, 0)), DeviceFacts("cuda", (7, 5)), DeviceFacts("cuda", (9, 0))
CPU = DeviceFacts("cpu")


@pytest.mark.parametrize("facts, setting, deterministic, expected", [
    (CPU, "auto", False, Tuning(tf32=False, cudnn_benchmark=False)),
    (CPU, False, False, Tuning(tf32=False, cudnn_benchmark=False)),
    (DeviceFacts("mps"), "auto", False, Tuning(tf32=False, cudnn_benchmark=False)),
    (AMPERE, "auto", False, Tuning(tf32=True, cudnn_benchmark=True)),
    (HOPPER, True, False, Tuning(tf32=True, cudnn_benchmark=True)),
    (HOPPER, False, False, Tuning(tf32=False, cudnn_benchmark=True)),
    (TURING, "auto", False, Tuning(tf32=False, cudnn_benchmark=True)),  # no TF32 before Ampere
    (AMPERE, "auto", True, Tuning(tf32=True, cudnn_benchmark=False)),  # autotuning picks kernels by timing
])
def test_choices_per_device(facts, setting, deterministic, expected):
    assert choose(facts, tf32=setting, deterministic=deterministic) == expected


@pytest.mark.parametrize("facts, where", [(CPU, "this run is on cpu"), (TURING, "compute capability 7.5")])
def test_tf32_true_without_tf32_is_an_error(facts, where):
    with pytest.raises(TrainingError) as err:
        choose(facts, tf32=True)
    assert where in err.value.message and "train.tf32: auto" in err.value.hint


@pytest.fixture
def cuda_flags():
    """Restore torch's process-wide CUDA flags after a test sets them."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark = saved


def flags():
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark


def test_cpu_sets_no_cuda_flag(cuda_flags):
    before = flags()
    apply(Tuning(tf32=True, cudnn_benchmark=True), CPU)
    assert flags() == before
    assert configure(torch.device("cpu"), threads=None, deterministic=False) == Tuning(False, False)
    assert flags() == before


def test_configure_on_an_ampere_gpu_sets_the_flags(cuda_flags, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 6))
    assert DeviceFacts.of(torch.device("cuda:0")) == DeviceFacts("cuda", (8, 6))
    assert configure(torch.device("cuda:0"), threads=None, deterministic=False) == Tuning(True, True)
    assert flags() == (True, True, True)
    assert configure(torch.device("cuda:0"), threads=None, deterministic=False, tf32=False) == Tuning(False, True)
    assert flags() == (False, False, True)


@pytest.mark.parametrize("device, workers, expected", [
    ("cpu", 0, {"pin_memory": False, "persistent_workers": False, "prefetch_factor": None}),
    ("cpu", 1, {"pin_memory": False, "persistent_workers": True, "prefetch_factor": 4}),
    ("cuda", 0, {"pin_memory": True, "persistent_workers": False, "prefetch_factor": None}),
    ("cuda", 4, {"pin_memory": True, "persistent_workers": True, "prefetch_factor": 4}),
])
def test_loader_options(device, workers, expected):
    assert loader_options(device, workers) == expected


def test_a_cpu_run_records_its_settings_and_pins_nothing(toy_registry, toy_recipe, tmp_path):
    from ganzoo.engine import Trainer
    from ganzoo.recipe import load_recipe
    from ganzoo.resolve import resolve

    recipe = load_recipe(toy_recipe, ["train.steps=2", "train.workers=1"])
    trainer = Trainer(resolve(recipe, toy_registry), toy_registry, out=tmp_path / "run", progress=False,
                      log=lambda m: None)
    loader = trainer.batches.loader
    assert (loader.pin_memory, loader.persistent_workers, loader.prefetch_factor) == (False, True, 4)
    manifest = json.loads((tmp_path / "run/manifest.json").read_text())
    assert manifest["tf32"] is False and manifest["cudnn_benchmark"] is False
    assert "TF32" not in trainer.describe()
    bad = load_recipe(toy_recipe, ["train.tf32=true"])
    with pytest.raises(TrainingError, match="train.tf32: true needs an NVIDIA GPU"):
        Trainer(resolve(bad, toy_registry), toy_registry, out=tmp_path / "other", progress=False, log=lambda m: None)
