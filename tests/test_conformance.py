"""The conformance kit (ganzoo.testing): every built-in component passes it, and each plugin-author mistake fails it
loudly, naming the component and the fix."""

from __future__ import annotations

import sys
import textwrap
import types

import pytest
from PIL import Image

import ganzoo_cyclegan
import ganzoo_losses
import ganzoo_metrics
import ganzoo_pix2pix
import ganzoo_wgan
import toy_plugin
from conftest import ROOT
from ganzoo.registry import build_registry
from ganzoo.testing import ConformanceError, check_dataset, check_model, check_plugin, conformance_tests


@pytest.mark.parametrize("module", [ganzoo_losses, ganzoo_metrics, ganzoo_pix2pix, ganzoo_cyclegan, ganzoo_wgan,
                                    toy_plugin], ids=lambda m: m.__name__)
def test_builtin_plugins_pass_check_plugin(module):
    registry = check_plugin(module)
    assert registry.entries()


def test_an_installed_distribution_is_checked_by_name():
    assert check_plugin("ganzoo").get("model", "pix2pix")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Tiny image folders in the layouts of aligned_folder, paired_folders, unaligned_folder and image_folder."""
    root = tmp_path_factory.mktemp("folders")
    for i in range(2):
        pair = Image.new("RGB", (32, 16), (40 * i, 90, 200))
        (root / "aligned" / "train").mkdir(parents=True, exist_ok=True)
        pair.save(root / "aligned" / "train" / f"{i}.png")
        for side in ("A", "B"):
            (root / "paired" / side / "train").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 16), (10, 60 * i, 30)).save(root / "paired" / side / "train" / f"{i}.png")
            (root / "unaligned" / f"train{side}").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (16, 16), (90, 10, 60 * i)).save(root / "unaligned" / f"train{side}" / f"{i}.png")
        (root / "images").mkdir(exist_ok=True)
        Image.new("RGB", (20, 20), (200, 10 * i, 0)).save(root / "images" / f"{i}.png")
    return root


def test_builtin_datasets_pass_check_dataset(folders):
    registry = build_registry()
    small = {"load_size": 18, "crop_size": 16}
    cases = {
        "facades_synthetic": {"image_size": 16, **small},
        "shapes2stripes": {"image_size": 16, "size": 4},
        "shapes": {"image_size": 16, "size": 4},
        "toy2d": {"size": 8},
        "aligned_folder": {"root": str(folders / "aligned"), **small},
        "paired_folders": {"root": str(folders / "paired"), **small},
        "unaligned_folder": {"root": str(folders / "unaligned"), **small},
        "image_folder": {"root": str(folders / "images"), "image_size": 16},
        "stripes_pairs": {"image_size": 16, "size": 4},
    }
    for name, params in cases.items():
        item = check_dataset(registry, name, **params)
        assert item, name
    assert {e.name for e in registry.entries("dataset")} - set(cases) <= {"fashion_mnist"}  # needs its IDX files


TINY_IMAGES = ["data.image_size=16", "data.size=8", "train.batch_size=2", "train.sample_count=2",
               "components.generator={name: dcgan, z_dim: 8, hidden_dim: 4, image_size: 16}",
               "components.critic.hidden_dim=4", "components.critic.image_size=16"]
MODELS = {
    "pix2pix": ["components.generator={name: unet, num_downs: 4, ngf: 4}", "components.discriminator.ndf=4",
                "components.discriminator.n_layers=1", "data.image_size=16", "data.load_size=18",
                "data.crop_size=16", "train.sample_count=2"],
    "cyclegan": ["data.image_size=16", "data.size=4", "train.sample_count=2",
                 *(f"components.{g}.{k}" for g in ("G_AB", "G_BA") for k in ("ngf=4", "n_blocks=1")),
                 *(f"components.{d}.{k}" for d in ("D_A", "D_B") for k in ("ndf=4", "n_layers=1"))],
    "dcgan": TINY_IMAGES,
    "wgan_gp": [*TINY_IMAGES, "model.n_critic=2"],
    "wgan_gp_toy": ["components.generator.hidden=[8]", "components.critic.hidden=[8]", "data.size=64",
                    "train.batch_size=8", "train.sample_count=8"],
}


@pytest.mark.parametrize("recipe", list(MODELS))
def test_builtin_models_pass_check_model(recipe, tmp_path):
    report = check_model(ROOT / "recipes" / f"{recipe}.yaml", *MODELS[recipe], workdir=tmp_path)
    assert report["steps"] == 2
    expected = {"pix2pix": "translate", "cyclegan": "evaluation_pairs", "dcgan": "generate", "wgan_gp": "generate",
                "wgan_gp_toy": "generate"}[recipe]
    assert expected in report["capabilities"]


# A plugin with every mistake of issue 16, one per component, and the line each must produce ---------------------
BROKEN = '''
import torch
from torch import nn
from torch.utils.data import Dataset
from ganzoo import hookimpl


class Unannotated(nn.Module):
    """A generator whose constructor has no type hints."""
    def __init__(self, *, width=4):
        super().__init__()


class KwargsOnly(nn.Module):
    """A generator taking **kwargs only."""
    def __init__(self, **kwargs):
        super().__init__()


class Fine(nn.Module):
    """A correct discriminator."""
    def __init__(self, *, width: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 1)


class Images(Dataset):
    """Images in several wrong ways, chosen by `mistake`."""
    keys = ("x",)
    def __init__(self, *, split: str = "train", image_size: int = 8, mistake: str = "hwc"):
        self.image_size, self.mistake = image_size, mistake
    def __len__(self):
        return 4
    def __getitem__(self, i):
        n = self.image_size
        if self.mistake == "hwc":
            return {"x": torch.zeros(n, n, 3)}
        if self.mistake == "size":
            return {"x": torch.zeros(3, n + 2, n + 2)}
        if self.mistake == "range":
            return {"x": torch.rand(3, n, n) * 255}
        if self.mistake == "unit":
            return {"x": torch.rand(3, n, n)}
        if self.mistake == "undeclared":
            return {"x": torch.zeros(3, n, n), "extra": torch.zeros(3, n, n)}
        if self.mistake == "random":
            return {"x": torch.zeros(3, n, n) + float(__import__("random").random()) * 0.5}
        return {"x": torch.zeros(3, n, n)}


def register_discriminators(register):  # forgot @hookimpl
    register("fine", Fine)


@hookimpl
def register_generators(register):
    register("unannotated", Unannotated)
    register("kwargs_only", KwargsOnly)


@hookimpl
def register_datasets(register):
    register("images", Images)


@hookimpl
def register_dataset(register):  # misspelt
    pass
'''


@pytest.fixture
def broken():
    module = types.ModuleType("broken_plugin")
    exec(textwrap.dedent(BROKEN), module.__dict__)
    sys.modules["broken_plugin"] = module
    yield module
    sys.modules.pop("broken_plugin", None)


def test_check_plugin_lists_every_mistake_with_its_fix(broken):
    with pytest.raises(ConformanceError) as err:
        check_plugin(broken)
    problems = "\n".join(err.value.problems)
    assert "broken_plugin.register_discriminators is not marked @ganzoo.hookimpl: ganzoo never calls it" in problems
    assert "unknown hook 'register_dataset' (did you mean 'register_datasets'?)" in problems
    assert "generator 'unannotated': parameter 'width' has no type annotation" in problems
    assert "generator 'kwargs_only': **kwargs in its signature" in problems
    assert isinstance(err.value, AssertionError)  # pytest shows it as a failed check


@pytest.mark.parametrize("mistake,message", [
    ("hwc", "looks like HWC: images are (C, H, W)"),
    ("size", "size 10x10, but its parameters say 8x8"),
    ("range", "outside [-1, 1]"),
    ("unit", "never goes below 0 in 3 items: scaled to [0, 1]?"),
    ("undeclared", "items carry keys ['extra'] that `keys` ('x',) does not declare"),
    ("random", "differs between two reads with the same seed"),
])
def test_check_dataset_catches_each_item_mistake(broken, mistake, message):
    with pytest.raises(ConformanceError) as err:
        check_dataset(broken, "images", mistake=mistake)
    assert message in str(err.value) and "dataset 'images'" in str(err.value)


def test_check_dataset_passes_a_correct_dataset(broken):
    assert check_dataset(broken, "images", mistake="none")["x"].shape == (3, 8, 8)


test_example_conformance = conformance_tests(toy_plugin, datasets={"toy_pairs": {"size": 4}})
