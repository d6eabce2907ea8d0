"""The example plugin's own tests: no installation needed."""

from pathlib import Path

import pytest
import torch

import ganzoo_example
from ganzoo.testing import check_component, conformance_tests, registry_from

RECIPE = Path(ganzoo_example.__file__).parent / "recipes" / "example_pix2pix.yaml"

# ganzoo's conformance kit, one line: the hooks and signatures, the dataset's items, and a real 2-step run of the
# recipe with sampling, a checkpoint round trip and an exact resume.
test_conformance = conformance_tests(
    ganzoo_example,
    datasets={"stripes_pairs": {"size": 4, "image_size": 16}},
    recipes={RECIPE: ["data.image_size=16", "data.size=4", "train.batch_size=2", "train.sample_count=2"]},
)


@pytest.fixture
def registry():
    return registry_from(ganzoo_example, dist="ganzoo-example-plugin")


def test_components_are_registered(registry):
    assert registry.names("generator") == ["tiny_translator", "tiny_translator_wide"]
    assert registry.names("dataset") == ["stripes_pairs"]
    assert registry.get("generator", "tiny_translator_wide").summary == "TinyTranslator with 32 feature channels"


def test_translator_keeps_shape_and_range(registry):
    net = check_component(registry, "generator", "tiny_translator", width=4)
    y = net(torch.randn(2, 3, 16, 16))
    assert y.shape == (2, 3, 16, 16) and y.abs().max() <= 1


def test_dataset_is_deterministic_and_paired(registry):
    data = check_component(registry, "dataset", "stripes_pairs", size=4, image_size=16)
    a, b = data[1], data[1]
    assert torch.equal(a["A"], b["A"]) and a["A"].shape == a["B"].shape == (3, 16, 16)
    assert not torch.equal(data[0]["A"], data[1]["A"])
    test = check_component(registry, "dataset", "stripes_pairs", split="test", size=4, image_size=16)
    assert not torch.equal(test[0]["A"], data[0]["A"])
