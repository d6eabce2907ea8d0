"""The DCGAN and InfoGAN generators and critics, the MLPs, and the per-sample independence the gradient penalty needs."""

import pytest
import torch

from ganzoo_wgan.mlp import MLPDiscriminator, MLPGenerator
from ganzoo_wgan.infogan import InfoGANDiscriminator, InfoGANGenerator
from ganzoo_wgan.networks import Critic, DCGANGenerator


@pytest.mark.parametrize("size,blocks", [(8, 0), (16, 1), (32, 2), (64, 3), (128, 4)])
def test_generator_shapes_per_image_size(size, blocks):
    g = DCGANGenerator(z_dim=5, hidden_dim=2, im_chan=3, image_size=size)
    out = g(torch.randn(4, 5))
    assert out.shape == (4, 3, size, size)
    assert out.abs().max() <= 1.0
    assert g.z_dim == 5
    # first block (1x1 -> 4x4) + BatchNorm/ReLU doubling blocks + final ConvTranspose2d/Tanh
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(convs) == blocks + 2
    assert convs[0].stride == (1, 1) and convs[0].padding == (0, 0)
    assert all(c.stride == (2, 2) and c.padding == (1, 1) for c in convs[1:])
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in g.modules()) == blocks + 1
    assert isinstance(g.net[-1], torch.nn.Tanh)


def test_generator_notes_channels_at_64():
    g = DCGANGenerator(z_dim=10, hidden_dim=32, im_chan=3, image_size=64)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(10, 256), (256, 128), (128, 64), (64, 32), (32, 3)]


@pytest.mark.parametrize("size", [8, 16, 32, 64])
@pytest.mark.parametrize("norm", ["none", "layer", "instance", "batch"])
def test_critic_one_score_per_sample(size, norm):
    c = Critic(im_chan=1, hidden_dim=2, image_size=size, norm=norm)
    assert c(torch.randn(3, 1, size, size)).shape == (3,)


def test_critic_first_block_is_not_normalised():
    # a norm there hides the batch's / image's overall colour from the critic: the generator never learns it
    c = Critic(im_chan=3, hidden_dim=2, image_size=16, norm="batch")
    assert isinstance(c.net[0][1], torch.nn.Identity) and c.net[0][0].bias is not None
    assert isinstance(c.net[1][1], torch.nn.BatchNorm2d)
    x = torch.rand(4, 3, 16, 16)
    assert not torch.allclose(c(x), c(x + 0.5))  # sees a colour shift of the whole batch


@pytest.mark.parametrize("size", [48, 4, 100])
def test_image_sizes_must_be_powers_of_two(size):
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(image_size=size)
    with pytest.raises(ValueError, match="power of two"):
        Critic(image_size=size)


def test_mlps():
    g = MLPGenerator(z_dim=3, hidden=[8, 8], activation="leaky_relu")
    d = MLPDiscriminator(hidden=[8])
    assert g.z_dim == 3
    assert g(torch.randn(5, 3)).shape == (5, 2)
    assert d(torch.randn(5, 2)).shape == (5,)
    assert sum(isinstance(m, torch.nn.Linear) for m in g.modules()) == 3
    with pytest.raises(ValueError, match="hidden"):
        MLPDiscriminator(hidden=[])


def _cross_gradient(critic, x):
    """|d score_0 / d x_j| summed over the other samples j != 0."""
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x)[0], x)
    return grad[1:].abs().sum().item(), grad[0].abs().sum().item()


@pytest.mark.parametrize("norm", ["layer", "none", "instance"])
def test_critic_scores_are_per_sample_without_batch_norm(norm):
    torch.manual_seed(0)
    critic = Critic(im_chan=1, hidden_dim=4, image_size=16, norm=norm).train()
    others, own = _cross_gradient(critic, torch.randn(4, 1, 16, 16))
    assert own > 0 and others == 0.0


def test_batch_norm_critic_couples_samples():
    torch.manual_seed(0)
    critic = Critic(im_chan=1, hidden_dim=4, image_size=16, norm="batch").train()
    others, own = _cross_gradient(critic, torch.randn(4, 1, 16, 16))
    assert own > 0 and others > 1e-6 * own


def test_mlps_stay_fp32_under_bf16_autocast():
    g, d = MLPGenerator(hidden=[8, 8]), MLPDiscriminator(hidden=[8, 8])
    z = torch.randn(4, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        points = g(z)
        scores = d(points)
    assert points.dtype == torch.float32 and scores.dtype == torch.float32
    assert torch.equal(points, g(z))  # the same numbers as outside autocast


@pytest.mark.parametrize("size", [8, 28])
def test_infogan_generator_is_7_14_28_at_28px(size):
    g = InfoGANGenerator(z_dim=5, fc_dim=8, hidden_dim=2, im_chan=1, image_size=size)
    z = torch.randn(3, 5)
    out = g(z)
    assert out.shape == (3, 1, size, size) and out.abs().max() <= 1.0 and g.z_dim == 5
    # two linear layers, then two transposed convolutions that double size/4 -> size/2 -> size
    assert [m.out_features for m in g.modules() if isinstance(m, torch.nn.Linear)] == [8, 4 * (size // 4) ** 2]
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels, c.stride) for c in convs] == [(4, 2, (2, 2)), (2, 1, (2, 2))]
    assert torch.equal(g(z.view(3, 5, 1, 1)), out)  # a (N, z, 1, 1) noise map is accepted too


def test_infogan_defaults_are_the_published_28px_network():
    g, d = InfoGANGenerator(), InfoGANDiscriminator()
    assert g.z_dim == 64 and g.shape == (128, 7, 7)
    assert [m.out_features for m in d.modules() if isinstance(m, torch.nn.Linear)] == [1024, 1]
    assert [m.out_channels for m in d.modules() if isinstance(m, torch.nn.Conv2d)] == [64, 128]


@pytest.mark.parametrize("norm,kinds", [("layer", (torch.nn.GroupNorm, torch.nn.LayerNorm)),
                                        ("batch", (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)),
                                        ("none", ())])
def test_infogan_discriminator_scores_and_norms(norm, kinds):
    d = InfoGANDiscriminator(im_chan=3, hidden_dim=2, fc_dim=8, image_size=12, norm=norm)
    assert d(torch.randn(4, 3, 12, 12)).shape == (4,)
    found = tuple(type(m) for m in d.modules() if isinstance(m, (torch.nn.GroupNorm, torch.nn.LayerNorm,
                                                                 torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)))
    assert found == kinds
    assert d.net[0].bias is not None and isinstance(d.net[1], torch.nn.LeakyReLU)  # first conv not normalised


def test_infogan_layer_norm_discriminator_keeps_samples_independent():
    d = InfoGANDiscriminator(hidden_dim=2, fc_dim=8, image_size=8, norm="layer").train()
    x = torch.randn(4, 1, 8, 8)
    assert torch.allclose(d(x)[:2], d(x[:2]), atol=1e-6)  # a sample's score ignores the rest of the batch


@pytest.mark.parametrize("size", [30, 2])
def test_infogan_sizes_must_divide_by_4(size):
    with pytest.raises(ValueError, match="divisible by 4"):
        InfoGANGenerator(image_size=size)
    with pytest.raises(ValueError, match="divisible by 4"):
        InfoGANDiscriminator(image_size=size)
    with pytest.raises(ValueError, match="unknown norm"):
        InfoGANDiscriminator(norm="instance")
