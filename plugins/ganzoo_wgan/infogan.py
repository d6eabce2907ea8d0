"""The InfoGAN networks for 28x28 images (MNIST, Fashion-MNIST): the architecture of Lucic et al. 2018.

"Are GANs Created Equal?" (Lucic et al., NeurIPS 2018) trains every GAN on MNIST and Fashion-MNIST with the
InfoGAN paper's networks (Chen et al. 2016, appendix C.1), at the images' own 28x28: two fully connected layers
and two strided (transposed) convolutions, 7 -> 14 -> 28. Their sizes only need to be divisible by 4.
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from ganzoo.layers import Init, init_weights

#: normalisations of the discriminator's hidden layers: ``layer`` keeps samples independent (WGAN-GP)
DNorm = Literal["batch", "layer", "none"]


def _quarter(image_size: int, what: str) -> int:
    if image_size < 4 or image_size % 4:
        raise ValueError(f"{what} image_size must be divisible by 4 (28 for Fashion-MNIST), got {image_size}")
    return image_size // 4


class InfoGANGenerator(nn.Module):
    """InfoGAN generator for 28 px (7 -> 14 -> 28): (N, z_dim) noise -> images in [-1, 1].

    FC ``fc_dim`` -> FC 2·``hidden_dim`` maps of size/4 -> transposed convolution (k4, s2) to ``hidden_dim`` maps
    of size/2 -> transposed convolution to ``im_chan`` -> Tanh.

    Batch norm and ReLU after every hidden layer, as in InfoGAN; Tanh instead of the papers' sigmoid because
    ganzoo's images live in [-1, 1]. Defaults: the published 28 px network (z 64, 1024, 128x7x7, 64x14x14).
    """

    def __init__(self, *, z_dim: int = 64, fc_dim: int = 1024, hidden_dim: int = 64, im_chan: int = 1,
                 image_size: int = 28, init: Init = "normal", init_gain: float = 0.02):
        super().__init__()
        q = _quarter(image_size, "generator")
        self.z_dim, self.shape = z_dim, (2 * hidden_dim, q, q)
        self.fc = nn.Sequential(
            nn.Linear(z_dim, fc_dim, bias=False), nn.BatchNorm1d(fc_dim), nn.ReLU(inplace=True),
            nn.Linear(fc_dim, 2 * hidden_dim * q * q, bias=False), nn.BatchNorm1d(2 * hidden_dim * q * q),
            nn.ReLU(inplace=True),
        )
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(2 * hidden_dim, hidden_dim, 4, 2, 1, bias=False), nn.BatchNorm2d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(hidden_dim, im_chan, 4, 2, 1), nn.Tanh(),
        )
        init_weights(self, init, init_gain)

    def forward(self, z: Tensor) -> Tensor:
        return self.conv(self.fc(z.reshape(len(z), self.z_dim)).view(len(z), *self.shape))


class InfoGANDiscriminator(nn.Module):
    """InfoGAN discriminator / critic for 28 px: images -> one score per sample, shape (N,).

    Convolution (k4, s2) to ``hidden_dim`` maps -> LeakyReLU(0.2) -> convolution to 2·``hidden_dim`` maps of
    size/4 -> norm -> LeakyReLU -> FC ``fc_dim`` -> norm -> LeakyReLU -> FC 1.

    ``norm: batch`` is InfoGAN's (a DCGAN discriminator); ``layer`` (default) normalises each sample on its
    own, which the WGAN-GP gradient penalty needs (batch norm mixes the samples of a batch); ``none`` is plain.
    The first convolution is never normalised.
    """

    def __init__(self, *, im_chan: int = 1, hidden_dim: int = 64, fc_dim: int = 1024, image_size: int = 28,
                 norm: DNorm = "layer", init: Init = "normal", init_gain: float = 0.02):
        super().__init__()
        q = _quarter(image_size, "discriminator")
        if norm not in ("batch", "layer", "none"):
            raise ValueError(f"unknown norm {norm!r}: batch, layer or none")
        maps = (2 * hidden_dim, q, q)
        flat = 2 * hidden_dim * q * q
        self.net = nn.Sequential(
            nn.Conv2d(im_chan, hidden_dim, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(hidden_dim, 2 * hidden_dim, 4, 2, 1, bias=norm != "batch"),
            _norm(norm, maps), nn.LeakyReLU(0.2, inplace=True), nn.Flatten(),
            nn.Linear(flat, fc_dim, bias=norm != "batch"), _norm(norm, (fc_dim,)), nn.LeakyReLU(0.2, inplace=True),
            nn.Linear(fc_dim, 1),
        )
        init_weights(self, init, init_gain)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).squeeze(1)


def _norm(kind: DNorm, shape: tuple[int, ...]) -> nn.Module:
    """Batch norm over channels (2-D maps) or features; layer norm over one sample's whole activation."""
    if kind == "batch":
        return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
    if kind == "layer":
        return nn.GroupNorm(1, shape[0]) if len(shape) == 3 else nn.LayerNorm(shape[0])
    return nn.Identity()
