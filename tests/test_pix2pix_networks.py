"""pix2pix networks and training scheme: U-Net, PatchGAN/PixelGAN, the Pix2Pix model's step."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import ganzoo_losses
import ganzoo_pix2pix
from ganzoo.errors import GanzooError
from ganzoo.testing import registry_from
from ganzoo_losses.adversarial import Vanilla
from ganzoo_losses.reconstruction import L1
from ganzoo_pix2pix.model import Pix2Pix
from ganzoo_pix2pix.patchgan import PatchGAN, PixelGAN, receptive_field
from ganzoo_pix2pix.unet import InputSizeError, UNet

NORMS = ("batch", "instance", "layer", "none")



@pytest.fixture(scope="module")
def registry():
    return registry_from(ganzoo_pix2pix, ganzoo_losses)


# U-Net ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, params, size", [("unet", {"num_downs": 5}, 32), ("unet_128", {}, 128),
                                                ("unet_256", {}, 256)])
def test_unet_variants_keep_the_image_shape(registry, name, params, size):
    net = registry.get("generator", name).factory(ngf=2, **params)
    y = net(torch.randn(1, 3, size, size))
    assert y.shape == (1, 3, size, size)
    assert y.abs().max() <= 1  # Tanh output


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("channels", [(1, 3), (3, 1)])
def test_unet_every_norm_and_channel_count(norm, channels):
    net = UNet(in_channels=channels[0], out_channels=channels[1], ngf=4, num_downs=5, norm=norm)
    assert net(torch.randn(2, channels[0], 32, 64)).shape == (2, channels[1], 32, 64)


def test_unet_variant_depths(registry):
    downs = lambda net: sum(isinstance(m, nn.Conv2d) and m.stride == (2, 2) for m in net.modules())
    assert downs(registry.get("generator", "unet_256").factory(ngf=1)) == 8
    assert downs(registry.get("generator", "unet_128").factory(ngf=1)) == 7


def test_unet_size_not_divisible_is_a_clear_error():
    net = UNet(ngf=2, num_downs=5)
    with pytest.raises(InputSizeError, match=r"48x40 px.*2\*\*num_downs = 32 \(num_downs 5\)") as info:
        net(torch.randn(1, 3, 40, 48))
    assert isinstance(info.value, ValueError) and isinstance(info.value, GanzooError)
    assert "crop_size" in info.value.hint


def test_unet_convs_before_batch_norm_have_no_bias():
    net = UNet(ngf=4, num_downs=5, norm="batch")
    layers = [m for m in net.modules() if not isinstance(m, (nn.Sequential, UNet)) and not list(m.children())]
    for conv, nxt in zip(layers, layers[1:]):
        if isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
            assert (conv.bias is None) == isinstance(nxt, nn.BatchNorm2d), (conv, nxt)


def test_unet_dropout_in_the_three_innermost_decoder_blocks():
    net = UNet(ngf=2, num_downs=8)
    drops = [m for m in net.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == 3 and all(d.p == 0.5 for d in drops)
    assert not any(isinstance(m, nn.Dropout) for m in UNet(ngf=2, num_downs=8, dropout=0.0).modules())
    # the innermost block's up path (first decoder layer) is one of them
    inner = net.model
    while not isinstance(inner.inner, nn.Identity):
        inner = inner.inner
    assert any(isinstance(m, nn.Dropout) for m in inner.up)


def test_unet_skips_carry_fine_detail():
    """An output pixel depends mostly on the input near it: the skips bypass the 1x1 bottleneck."""
    torch.manual_seed(0)
    net = UNet(ngf=8, num_downs=5).eval()
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    net(x)[0, :, 16, 16].sum().backward()
    grad = x.grad.abs().sum(1)[0]
    # with the skip connections removed this fraction is about 0.07; with them about 0.95
    assert grad[13:20, 13:20].sum() / grad.sum() > 0.5


def test_unet_init_is_configurable():
    torch.manual_seed(0)
    normal = UNet(ngf=8, num_downs=5, init="normal", init_gain=0.02)
    kaiming = UNet(ngf=8, num_downs=5, init="kaiming")
    w = lambda net: net.model.down[0].weight.std().item()
    assert abs(w(normal) - 0.02) < 0.004
    assert w(kaiming) > 0.1


def test_unet_rejects_inconsistent_parameters():
    with pytest.raises(ValueError, match="num_downs"):
        UNet(num_downs=0)
    with pytest.raises(ValueError, match="dropout"):
        UNet(dropout=1.0)


# Discriminators -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("n_layers, side", [(1, 14), (2, 6), (3, 2)])
def test_patchgan_shapes(norm, n_layers, side):
    d = PatchGAN(ndf=4, n_layers=n_layers, norm=norm)
    assert d(torch.randn(2, 6, 32, 32)).shape == (2, 1, side, side)


def test_patchgan_unconditional_use_as_cyclegan_does():
    d = PatchGAN(in_channels=3, norm="instance", ndf=4)
    assert d(torch.randn(1, 3, 64, 64)).shape == (1, 1, 6, 6)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def _gradient_box(d: nn.Module, size: int, channels: int = 6) -> tuple[int, int]:
    """Height and width of the input region that the centre output score depends on."""
    x = torch.randn(1, channels, size, size, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[-2] // 2, out.shape[-1] // 2].backward()
    rows, cols = x.grad.abs().sum((0, 1)).nonzero(as_tuple=True)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


@pytest.mark.parametrize("n_layers, field", [(1, 16), (2, 34), (3, 70)])
def test_patchgan_receptive_field_by_gradient(n_layers, field):
    torch.manual_seed(0)
    d = PatchGAN(ndf=2, n_layers=n_layers, norm="none")
    assert _gradient_box(d, 160) == (field, field)
    assert receptive_field(d) == field


def test_patchgan_details_lists_the_receptive_field(registry, cli):
    assert PatchGAN.details(n_layers=4).startswith("receptive field: 142x142 px (n_layers 4)")
    result = cli("list", "discriminator", "patchgan")
    assert result.exit_code == 0
    assert "receptive field: 70x70 px (n_layers 3)" in result.output
    assert "286x286" in result.output  # the table of alternatives


def test_pixelgan_judges_each_pixel_alone():
    torch.manual_seed(0)
    d = PixelGAN(ndf=4, norm="none")
    assert d(torch.randn(2, 6, 16, 16)).shape == (2, 1, 16, 16)
    assert _gradient_box(d, 16) == (1, 1)
    assert PixelGAN.details() == "receptive field: 1x1 px"


def test_patchgan_rejects_zero_layers():
    with pytest.raises(ValueError, match="pixel"):
        PatchGAN(n_layers=0)


# The model ----------------------------------------------------------------------------------------------------
class SpyOptimizers:
    """Records what train_step asks to optimize and checks each loss reaches only its group's networks."""

    def __init__(self, model: Pix2Pix):
        self.model, self.calls = model, []

    def step(self, group, loss):
        own = self.model.generator if group == "G" else self.model.discriminator
        other = self.model.discriminator if group == "G" else self.model.generator
        self.calls.append((group, float(loss.detach())))
        grads = torch.autograd.grad(loss, list(own.parameters()) + list(other.parameters()), allow_unused=True,
                                    retain_graph=True)
        n = len(list(own.parameters()))
        assert all(g is not None for g in grads[:n])
        if group == "D":  # G's output is detached for the D step
            assert all(g is None for g in grads[n:])


def _model(direction="AtoB", channels=(3, 3)):
    torch.manual_seed(0)
    g = UNet(in_channels=channels[0], out_channels=channels[1], ngf=4, num_downs=4)
    d = PatchGAN(in_channels=sum(channels), ndf=4, n_layers=1)
    return Pix2Pix(g, d, Vanilla(), L1(weight=100.0), direction=direction)


def test_train_step_losses_and_logs():
    model = _model()
    calls = []
    model.generator.register_forward_hook(lambda *a: calls.append(1))
    batch = {"A": torch.rand(2, 3, 16, 16) * 2 - 1, "B": torch.rand(2, 3, 16, 16) * 2 - 1}
    spy = SpyOptimizers(model)
    logs = model.train_step(batch, spy, 0)
    assert set(logs) == {"D/real", "D/fake", "G/adv", "G/l1"}
    assert all(not v.requires_grad for v in logs.values())
    assert len(calls) == 1  # G(A) once per step
    (dg, d_loss), (gg, g_loss) = spy.calls
    assert (dg, gg) == ("D", "G")
    assert d_loss == pytest.approx(0.5 * float(logs["D/real"] + logs["D/fake"]), rel=1e-5)
    assert g_loss == pytest.approx(float(logs["G/adv"] + 100 * logs["G/l1"]), rel=1e-5)


def test_direction_picks_the_source():
    batch = {"A": torch.zeros(1, 3, 16, 16), "B": torch.ones(1, 1, 16, 16)}
    model = _model("BtoA", channels=(1, 3))
    assert model.directions == ("BtoA",)
    sample = model.eval().sample(batch)
    assert torch.equal(sample["input"], batch["B"]) and torch.equal(sample["target"], batch["A"])
    assert sample["output"].shape == (1, 3, 16, 16)
    (name, (output, target)), = model.evaluation_pairs(batch).items()
    assert name == "BtoA" and torch.equal(target, batch["A"])
    assert model.translate(batch["B"], "BtoA").shape == (1, 3, 16, 16)
    with pytest.raises(ValueError, match="trained BtoA"):
        model.translate(batch["A"], "AtoB")


def test_discriminator_channel_mismatch_is_warned():
    g = UNet(ngf=4, num_downs=4)
    assert Pix2Pix(g, PatchGAN(ndf=4), Vanilla(), L1()).warnings() == []
    warnings = Pix2Pix(g, PatchGAN(in_channels=3, ndf=4), Vanilla(), L1()).warnings()
    assert "3 + 3" in warnings[0] and "in_channels" in warnings[0]


def test_patchgan_too_small_input_is_a_clear_error():
    d = PatchGAN(in_channels=6, ndf=4, n_layers=3, norm="batch")
    assert d(torch.randn(1, 6, 24, 24)).shape == (1, 1, 1, 1)  # the smallest that trains at batch 1
    with pytest.raises(InputSizeError, match=r"16x16 px: with n_layers 3 both sides must be at least 24 px") as info:
        d(torch.randn(1, 6, 16, 16))
    assert "n_layers 2 needs 12 px" in info.value.hint
