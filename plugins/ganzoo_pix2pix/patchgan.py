"""PatchGAN and PixelGAN discriminators: a grid of real/fake logits, one per overlapping input patch."""

from __future__ import annotations

from torch import Tensor, nn

from ganzoo.keymap import Row
from ganzoo.layers import Init, Norm, init_weights, norm_layer, uses_bias

from .unet import InputSizeError


def receptive_field(module: nn.Module) -> int:
    """Side of the input square that one output score sees, from the module's convolutions in order."""
    field = 1
    for conv in reversed([m for m in module.modules() if isinstance(m, nn.Conv2d)]):
        field = (field - 1) * conv.stride[0] + conv.kernel_size[0]
    return field


class PatchGAN(nn.Module):
    """PatchGAN: n_layers stride-2 convs, one stride-1 conv, a 1-channel logit map (70x70 px patches at n_layers 3).

    Conditional use (pix2pix) feeds input and output concatenated: ``in_channels`` 6 for RGB pairs;
    unconditional use (CycleGAN) feeds one image (``in_channels`` 3). Channels ndf, 2ndf, ... capped at 8ndf.
    """

    def __init__(
        self,
        *,
        in_channels: int = 6,
        ndf: int = 64,
        n_layers: int = 3,
        norm: Norm = "batch",
        init: Init = "normal",
        init_gain: float = 0.02,
    ):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers} (for 1x1 patches use the `pixel` discriminator)")
        if in_channels < 1 or ndf < 1:
            raise ValueError("in_channels and ndf must be >= 1")
        self.n_layers, self.norm = n_layers, norm
        bias = uses_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no norm first
        width = ndf
        for n in range(1, n_layers + 1):
            wider = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1  # the last feature conv keeps the resolution
            layers += [nn.Conv2d(width, wider, 4, stride, 1, bias=bias), norm_layer(norm, wider), nn.LeakyReLU(0.2, True)]
            width = wider
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self, init, init_gain)

    def junyanz_table(self) -> list[Row]:
        """The reference's ``NLayerDiscriminator`` numbers the same layers alike under ``model``; its inner convs
        have a bias only under instance norm (the first and the last always have one)."""
        convs = [i for i, m in enumerate(self.net) if isinstance(m, nn.Conv2d)]
        always = (convs[0], convs[-1])
        return [Row(f"net.{i}", f"model.{i}", i in always or self.norm == "instance" or i not in convs)
                for i in range(len(self.net))]

    def forward(self, x: Tensor) -> Tensor:
        if min(x.shape[-2:]) >> self.n_layers < 3:  # the stride-1 convs need a 3x3 map to leave a logit
            need, (h, w) = 3 * 2**self.n_layers, x.shape[-2:]
            fewer = f" (n_layers {self.n_layers - 1} needs {need // 2} px)" if self.n_layers > 1 else ""
            raise InputSizeError(f"PatchGAN input of {w}x{h} px: with n_layers {self.n_layers} both sides must be "
                                 f"at least {need} px",
                                 hint=f"use larger images (data.crop_size) or fewer n_layers{fewer}")
        return self.net(x)

    @classmethod
    def details(cls, *, n_layers: int = 3, **_: object) -> str:
        """The receptive field for ``n_layers``, and a table of the alternatives."""
        def field(n: int) -> int:
            return receptive_field(cls(in_channels=1, ndf=1, n_layers=n, norm="none"))

        rows = "\n".join(f"  {n:>8}  {field(n):>3}x{field(n)} px" for n in range(1, 6))
        return (f"receptive field: {field(n_layers)}x{field(n_layers)} px (n_layers {n_layers})\n\n"
                f"  n_layers  receptive field\n{rows}")


class PixelGAN(nn.Module):
    """PixelGAN: 1x1 convolutions only, one logit per pixel (judges colour, not structure)."""

    def __init__(
        self,
        *,
        in_channels: int = 6,
        ndf: int = 64,
        norm: Norm = "batch",
        init: Init = "normal",
        init_gain: float = 0.02,
    ):
        super().__init__()
        if in_channels < 1 or ndf < 1:
            raise ValueError("in_channels and ndf must be >= 1")
        self.norm = norm
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=uses_bias(norm)), norm_layer(norm, ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1),
        )
        init_weights(self, init, init_gain)

    def junyanz_table(self) -> list[Row]:
        """The reference's ``PixelDiscriminator`` has the same ``net`` Sequential; its second and last convs have
        a bias only under instance norm."""
        instance = self.norm == "instance"
        return [Row("net.0", "net.0"), Row("net.2", "net.2", instance), Row("net.3", "net.3"),
                Row("net.5", "net.5", instance)]

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    @classmethod
    def details(cls, **_: object) -> str:
        return "receptive field: 1x1 px"
