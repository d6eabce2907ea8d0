"""CycleGAN plugin units: ResNet generator, image pool, the training step, the shapes2stripes dataset."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch
from torch import nn

import ganzoo_cyclegan
import ganzoo_losses
from ganzoo.errors import SplitNotFound
from ganzoo.optim import OptimizerSet
from ganzoo.testing import registry_from
from ganzoo_cyclegan.model import CycleGAN
from ganzoo_cyclegan.networks import ExpandingBlock, ResidualBlock, ResnetGenerator
from ganzoo_cyclegan.pool import ImagePool
from ganzoo_cyclegan.synthetic import BOX, DARK, ELLIPSE, TRIANGLE, Scene, Shape, ShapesStripes, render


@pytest.fixture(scope="module")
def registry():
    return registry_from(ganzoo_cyclegan, ganzoo_losses)


# Generator ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, blocks", [("resnet_6blocks", 6), ("resnet_9blocks", 9)])
@pytest.mark.parametrize("size", [(16, 16), (16, 24), (12, 32)])
def test_generator_variants_keep_the_shape(registry, name, blocks, size):
    g = registry.get("generator", name).factory(ngf=4)
    assert sum(isinstance(m, ResidualBlock) for m in g.modules()) == blocks
    y = g(torch.randn(2, 3, *size))
    assert y.shape == (2, 3, *size)
    assert y.abs().max() <= 1


def test_generator_channels_and_expanding_block_doubles_exactly():
    g = ResnetGenerator(in_channels=1, out_channels=3, ngf=4, n_blocks=1)
    assert g(torch.randn(1, 1, 8, 20)).shape == (1, 3, 8, 20)
    assert ExpandingBlock(4, 2)(torch.randn(1, 4, 5, 7)).shape == (1, 2, 10, 14)


@pytest.mark.parametrize("size", [(18, 16), (16, 30), (4, 4)])
def test_generator_rejects_sizes_not_divisible_by_4(size):
    g = ResnetGenerator(ngf=4, n_blocks=1)
    with pytest.raises(ValueError, match="divisible by 4"):
        g(torch.randn(1, 3, *size))


@pytest.mark.parametrize("params", [{"ngf": 0}, {"n_blocks": -1}, {"dropout": 1.0}])
def test_generator_rejects_bad_parameters(params):
    with pytest.raises(ValueError):
        ResnetGenerator(**params)


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_residual_block_is_the_identity_at_zero_weights(norm):
    block = ResidualBlock(6, norm, dropout=0.5).train()
    for p in block.parameters():
        nn.init.zeros_(p)
    x = torch.randn(2, 6, 8, 8)
    torch.testing.assert_close(block(x), x)


# Image pool ---------------------------------------------------------------------------------------------------
def _constants(*values: float) -> torch.Tensor:
    return torch.stack([torch.full((1, 2, 2), float(v)) for v in values])


def _stored(pool: ImagePool) -> list[float]:
    return sorted(float(t[0, 0, 0]) for t in pool.images)


def test_pool_fills_then_swaps_half_the_time():
    torch.manual_seed(0)
    pool = ImagePool(4)
    torch.testing.assert_close(pool.query(_constants(0, 1, 2)), _constants(0, 1, 2))  # filling: returned as is
    torch.testing.assert_close(pool.query(_constants(3)), _constants(3))
    assert _stored(pool) == [0, 1, 2, 3]
    swapped = 0
    for k in range(200):
        new = 100.0 + k
        before = _stored(pool)
        out = float(pool.query(_constants(new))[0, 0, 0, 0])
        after = _stored(pool)
        if out == new:  # the new image itself; the pool is unchanged
            assert after == before
        else:  # a stored image, replaced by the new one
            swapped += 1
            assert out in before and out not in after and new in after
            assert sorted(before[:before.index(out)] + before[before.index(out) + 1:] + [new]) == after
        assert len(pool) == 4
    assert 70 <= swapped <= 130  # Binomial(200, 0.5): mean 100, sd 7


def test_pool_of_size_zero_passes_images_through():
    pool = ImagePool(0)
    x = torch.randn(3, 3, 4, 4)
    torch.testing.assert_close(pool.query(x), x)
    assert len(pool) == 0


def test_pool_images_survive_a_checkpoint_round_trip():
    torch.manual_seed(0)
    pool = ImagePool(5)
    pool.query(torch.randn(2, 3, 8, 8))
    pool.query(torch.randn(1, 3, 4, 6))  # stored images need not share a shape
    buffer = io.BytesIO()
    torch.save({"model": pool.state_dict()}, buffer)
    buffer.seek(0)
    restored = ImagePool(5)
    restored.load_state_dict(torch.load(buffer, weights_only=True)["model"])
    assert len(restored) == 3
    for a, b in zip(pool.images, restored.images):
        torch.testing.assert_close(a, b)
    # the same history gives the same answers
    torch.manual_seed(1)
    x = torch.randn(4, 3, 8, 8)
    torch.manual_seed(2)
    expected = pool.query(x)
    torch.manual_seed(2)
    torch.testing.assert_close(restored.query(x), expected)


# Model ----------------------------------------------------------------------------------------------------------
class TinyD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3, 1, 1))
        self.seen: list[torch.Tensor] = []

    def forward(self, x):
        self.seen.append(x.detach())
        return self.net(x)


def _model(identity: float = 5.0, pool_size: int = 50) -> CycleGAN:
    torch.manual_seed(0)
    return CycleGAN(
        ResnetGenerator(ngf=4, n_blocks=1), ResnetGenerator(ngf=4, n_blocks=1), TinyD(), TinyD(),
        ganzoo_losses.LSGAN(), ganzoo_losses.L1(weight=10.0), ganzoo_losses.L1(weight=identity), pool_size=pool_size,
    )


def _optimizers(model: CycleGAN) -> OptimizerSet:
    opts = {g: torch.optim.Adam(model.group_parameters(g), lr=2e-4, betas=(0.5, 0.999)) for g in ("G", "D")}
    return OptimizerSet(model, opts, torch.device("cpu"))


def _calls(module: nn.Module) -> list[int]:
    count = [0]
    module.register_forward_hook(lambda *_: count.__setitem__(0, count[0] + 1))
    return count


def _batch(n: int = 2, size: int = 16) -> dict[str, torch.Tensor]:
    return {"A": torch.rand(n, 3, size, size) * 2 - 1, "B": torch.rand(n, 3, size, size) * 2 - 1}


def test_train_step_logs_every_term_and_updates_both_groups():
    model = _model()
    batch = _batch()
    before = {k: v.clone() for k, v in model.state_dict().items() if torch.is_tensor(v)}
    values = model.train_step(batch, _optimizers(model), 0)
    assert set(values) == {"G/adv_AB", "G/adv_BA", "G/cycle_A", "G/cycle_B", "G/idt_A", "G/idt_B",
                           "D_A/real", "D_A/fake", "D_B/real", "D_B/fake"}
    assert all(not v.requires_grad and v.dim() == 0 for v in values.values())
    for slot in ("G_AB", "G_BA", "D_A", "D_B"):
        assert any(not torch.equal(v, before[k]) for k, v in model.state_dict().items() if k.startswith(slot))
    assert len(model.pool_A) == len(model.pool_B) == 2
    # D_A judges domain A: it saw the real A images (and D_B the real B ones)
    assert any(torch.equal(x, batch["A"]) for x in model.D_A.seen)
    assert any(torch.equal(x, batch["B"]) for x in model.D_B.seen)


def test_identity_weight_zero_skips_the_identity_passes():
    with_idt, without = _model(identity=5.0), _model(identity=0.0)
    counts = {name: _calls(m.G_AB) for name, m in (("with", with_idt), ("without", without))}
    batch = _batch()
    with_idt.train_step(batch, _optimizers(with_idt), 0)
    values = without.train_step(batch, _optimizers(without), 0)
    assert counts == {"with": [3], "without": [2]}  # G_AB(A), G_AB(G_BA(B)) [, G_AB(B)]
    assert not any(k.startswith("G/idt") for k in values)


def test_identity_loss_needs_matching_channels():
    with pytest.raises(ValueError, match="identity"):
        CycleGAN(ResnetGenerator(in_channels=1, out_channels=3, ngf=4, n_blocks=1),
                 ResnetGenerator(in_channels=3, out_channels=1, ngf=4, n_blocks=1), TinyD(), TinyD(),
                 ganzoo_losses.LSGAN(), ganzoo_losses.L1(weight=10.0), ganzoo_losses.L1(weight=5.0))


def test_translate_sample_and_evaluation_pairs():
    model = _model().eval()
    batch = _batch()
    with torch.no_grad():
        torch.testing.assert_close(model.translate(batch["A"], "AtoB"), model.G_AB(batch["A"]))
        torch.testing.assert_close(model.translate(batch["B"], "BtoA"), model.G_BA(batch["B"]))
        assert list(model.sample(batch)) == ["real A", "fake B", "rec A", "real B", "fake A", "rec B"]
        assert set(model.evaluation_pairs(batch)) == {"cycle_A", "cycle_B"}
        truth = batch | {"A_true_B": batch["B"], "B_true_A": batch["A"]}
        pairs = model.evaluation_pairs(truth)
        assert set(pairs) == {"cycle_A", "cycle_B", "AtoB", "BtoA"}
        torch.testing.assert_close(pairs["AtoB"][1], batch["B"])
        assert "true B" in model.sample(truth)
    with pytest.raises(ValueError, match="direction"):
        model.translate(batch["A"], "CtoD")


# shapes2stripes -------------------------------------------------------------------------------------------------
def _scene(kind: int, cx: float = 0.4) -> Scene:
    return Scene((-0.5, 0.0, 0.6), (0.1, 0.2, -0.4), 0.55, (Shape(kind, cx, 0.5, 0.3, 1.1, (0.9, 0.6, 0.1)),))


@pytest.mark.parametrize("kind", [ELLIPSE, BOX, TRIANGLE])
def test_stripes_change_only_the_shape_and_follow_it_under_flips(kind):
    plain, striped = render(_scene(kind), 64, False), render(_scene(kind), 64, True)
    outside = (plain - striped).abs().amax(0) == 0
    assert 0.3 < outside.float().mean() < 0.95  # background untouched, the shape changed
    assert (striped.amax(0) < DARK + 0.05).float().mean() > 0.03  # dark stripes
    mirrored = dataclasses.replace(_scene(kind), shapes=(dataclasses.replace(_scene(kind).shapes[0], cx=0.6),))
    torch.testing.assert_close(render(mirrored, 64, True), striped.flip(-1), atol=1e-4, rtol=0)


def test_shapes2stripes_is_deterministic_and_test_items_carry_the_truth():
    test = ShapesStripes(split="test", image_size=16, size=3)
    assert test.keys == ("A", "B", "A_true_B", "B_true_A") and len(test) == 3
    a, b = test[1], test[1]
    for key in test.keys:
        assert a[key].shape == (3, 16, 16)
        torch.testing.assert_close(a[key], b[key])
    assert not torch.equal(test[0]["A"], test[1]["A"])
    paired = ShapesStripes(split="test", image_size=16, size=3, paired=True)
    assert paired.keys == ("A", "B")
    torch.testing.assert_close(paired[1]["A"], a["A"])
    torch.testing.assert_close(paired[1]["B"], a["A_true_B"])


def test_shapes2stripes_train_pairs_at_random_unless_serial():
    train = ShapesStripes(split="train", image_size=16, size=20)
    assert train.keys == ("A", "B") and train.transform.load_size == 18 and train.transform.crop_size == 16
    draws = []
    for seed in range(4):
        torch.manual_seed(seed)
        draws.append(train[0]["B"])
    assert any(not torch.equal(draws[0], d) for d in draws[1:])
    serial = ShapesStripes(split="train", image_size=16, size=20, serial=True, preprocess="none", flip=False)
    torch.manual_seed(0)
    first = serial[2]["B"]
    torch.manual_seed(1)
    torch.testing.assert_close(serial[2]["B"], first)


def test_shapes2stripes_bad_parameters():
    with pytest.raises(SplitNotFound):
        ShapesStripes(split="val")
    with pytest.raises(ValueError, match="image_size"):
        ShapesStripes(image_size=4)
    with pytest.raises(ValueError, match="size"):
        ShapesStripes(size=0)
