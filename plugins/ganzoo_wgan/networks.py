"""DCGAN-style image networks from the notes: the ``gen_block`` generator and the ``crit_block`` critic."""

from __future__ import annotations

from torch import Tensor, nn

from ganzoo.layers import Init, Norm, init_weights, norm_layer, uses_bias


def _halvings(image_size: int, what: str) -> int:
    """log2(image_size / 4): how many x2 steps lie between a 4x4 map and the image."""
    if image_size < 8 or image_size & (image_size - 1):
        raise ValueError(f"{what} image_size must be a power of two >= 8 (32, 64, 128...), got {image_size}")
    return image_size.bit_length() - 3


def gen_block(in_channels: int, out_channels: int, *, first: bool = False) -> nn.Sequential:
    """ConvTranspose2d -> BatchNorm -> ReLU; the first block maps the 1x1 noise map to 4x4, the others double."""
    stride, padding = (1, 0) if first else (2, 1)
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 4, stride, padding, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DCGANGenerator(nn.Module):
    """DCGAN generator (the notes' gen_block design): (N, z_dim) noise -> images in [-1, 1].

    z as a 1x1 map -> ConvTranspose2d(k4, s1, p0) to 4x4 -> ConvTranspose2d(k4, s2, p1) + BatchNorm + ReLU
    blocks halving the channels -> a final ConvTranspose2d(k4, s2, p1) to ``im_chan`` channels -> Tanh. For
    64 px: 10 -> 256 (4x4) -> 128 (8x8) -> 64 (16x16) -> 32 (32x32) -> 3 (64x64) with hidden_dim 32.
    """

    def __init__(
        self,
        *,
        z_dim: int = 10,
        hidden_dim: int = 32,
        im_chan: int = 3,
        image_size: int = 64,
        init: Init = "normal",
        init_gain: float = 0.02,
    ):
        super().__init__()
        blocks = _halvings(image_size, "generator") - 1  # the final layer does the last doubling
        self.z_dim = z_dim
        channels = [hidden_dim * 2 ** i for i in range(blocks, -1, -1)]  # e.g. 256, 128, 64, 32
        layers = [gen_block(z_dim, channels[0], first=True)]
        layers += [gen_block(c_in, c_out) for c_in, c_out in zip(channels, channels[1:])]
        layers += [nn.ConvTranspose2d(channels[-1], im_chan, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_weights(self, init, init_gain)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.reshape(z.shape[0], self.z_dim, 1, 1))


def crit_block(in_channels: int, out_channels: int, norm: Norm) -> nn.Sequential:
    """Conv2d(k4, s2, p1) -> norm -> LeakyReLU(0.2): halves the size."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=uses_bias(norm)),
        norm_layer(norm, out_channels),
        nn.LeakyReLU(0.2, inplace=True),
    )


class Critic(nn.Module):
    """DCGAN critic (the notes' crit_block design): images -> one score per sample, shape (N,).

    Conv2d(k4, s2, p1) -> norm -> LeakyReLU(0.2) blocks doubling the channels down to 4x4, a final
    Conv2d(k4, s2, p1) to one channel, averaged over its 2x2 map. ``norm: layer`` (default) keeps samples
    independent, which the WGAN-GP gradient penalty assumes; ``batch`` (the notes' choice) couples the samples
    of a batch and breaks that penalty (WGAN-GP paper, section 4) - fine for a DCGAN discriminator.

    The first block has no norm (as in the DCGAN and WGAN-GP papers): normalising the first convolution's
    output hides the overall colour and brightness of a batch (batch norm) or an image (layer norm) from the
    critic, so the generator gets no signal to fix them - the notes' critic normalised it too.
    """

    def __init__(
        self,
        *,
        im_chan: int = 3,
        hidden_dim: int = 16,
        image_size: int = 64,
        norm: Norm = "layer",
        init: Init = "normal",
        init_gain: float = 0.02,
    ):
        super().__init__()
        blocks = _halvings(image_size, "critic")
        channels = [im_chan] + [hidden_dim * 2 ** i for i in range(blocks)]  # e.g. 3, 16, 32, 64, 128
        layers = [crit_block(c_in, c_out, "none" if i == 0 else norm)
                  for i, (c_in, c_out) in enumerate(zip(channels, channels[1:]))]
        layers.append(nn.Conv2d(channels[-1], 1, 4, 2, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self, init, init_gain)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).mean(dim=(1, 2, 3))
