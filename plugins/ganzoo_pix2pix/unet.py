"""The pix2pix U-Net generator: an encoder-decoder whose mirrored layers are joined by skip connections."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ganzoo.errors import GanzooError
from ganzoo.keymap import Row
from ganzoo.layers import Init, Norm, init_weights, norm_layer, uses_bias


class InputSizeError(GanzooError, ValueError):
    """An image whose sides the U-Net cannot halve ``num_downs`` times (a user-fixable size mismatch)."""


class _SkipBlock(nn.Module):
    """One U-Net level: LeakyReLU, down-sample, the inner levels, up-sample; returns [activated input, up].

    The skip carries the encoder's activations (the paper's "activations from layer i"). The outermost level
    takes the raw image (no activation), returns ``up`` alone and ends in Tanh instead of a norm.
    """

    def __init__(self, outer: int, inner: int, *, inner_block: nn.Module | None, norm: Norm, dropout: float,
                 outermost: bool = False, in_channels: int | None = None):
        super().__init__()
        in_channels = outer if in_channels is None else in_channels
        innermost = inner_block is None
        bias = uses_bias(norm)
        self.act = nn.Identity() if outermost else nn.LeakyReLU(0.2)
        # No norm on the outermost encoder conv (paper) nor on the innermost one: at 1x1 a norm would zero it.
        down: list[nn.Module] = [nn.Conv2d(in_channels, inner, 4, 2, 1, bias=bias or outermost or innermost)]
        if not (outermost or innermost):
            down.append(norm_layer(norm, inner))
        up_in = inner if innermost else inner * 2  # the inner level returns its skip concatenation
        up: list[nn.Module] = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=bias or outermost)]
        up.append(nn.Tanh() if outermost else norm_layer(norm, outer))
        if dropout > 0 and not outermost:
            up.append(nn.Dropout(dropout))
        self.down = nn.Sequential(*down)
        self.inner = inner_block if inner_block is not None else nn.Identity()
        self.up = nn.Sequential(*up)
        self.outermost = outermost

    def forward(self, x: Tensor) -> Tensor:
        a = self.act(x)
        y = self.up(self.inner(self.down(a)))
        return y if self.outermost else torch.cat([a, y], 1)


#: Where the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) keeps each layer of a U-Net level:
#: level kind -> ((our module in the level, its index in the reference's ``model`` Sequential), ...), and the
#: index of the inner level. Its levels number down conv, [norm], inner level, up conv, [norm]; ours group them.
JUNYANZ_LEVELS = {
    "outermost": ((("down.0", 0), ("up.1", 3)), 1),
    "middle": ((("down.0", 1), ("down.1", 2), ("up.1", 5), ("up.2", 6)), 3),
    "innermost": ((("down.0", 1), ("up.1", 3), ("up.2", 4)), None),
}

DropoutLayout = Literal["paper", "reference"]


class UNet(nn.Module):
    """pix2pix U-Net: num_downs stride-2 encoder convs, mirrored decoder, skip connections, Tanh output.

    Encoder blocks are Conv(k4, s2) -> norm -> LeakyReLU(0.2) (no norm on the first and the innermost),
    decoder blocks ConvTranspose(k4, s2) -> norm -> ReLU, with ``dropout`` in the three decoder blocks
    nearest the bottleneck (the paper's noise; its CD512 x3). Channels: ngf, 2ngf, 4ngf, then 8ngf.
    ``dropout_layout: reference`` places dropout as the reference implementation does instead: one level
    further out, in the num_downs - 5 levels above the innermost (2 in unet_128, 3 in unet_256), as models
    imported from it were trained. Images must have sides divisible by 2**num_downs (256 for unet_256).
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        num_downs: int = 8,
        norm: Norm = "batch",
        dropout: float = 0.5,
        dropout_layout: DropoutLayout = "paper",
        init: Init = "normal",
        init_gain: float = 0.02,
    ):
        super().__init__()
        if num_downs < 1:
            raise ValueError(f"num_downs must be >= 1, got {num_downs}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if min(in_channels, out_channels, ngf) < 1:
            raise ValueError("in_channels, out_channels and ngf must be >= 1")
        if dropout_layout not in ("paper", "reference"):
            raise ValueError(f"dropout_layout must be paper or reference, got {dropout_layout!r}")
        self.num_downs, self.norm = num_downs, norm
        self.size_multiple = 2**num_downs  # image sides it takes (`ganzoo translate` pads other sizes to it)
        widths = [ngf * min(2**i, 8) for i in range(num_downs)]  # encoder output channels, outermost first
        block: nn.Module | None = None
        for depth in range(num_downs - 1, 0, -1):  # innermost first
            inner = widths[depth]
            if dropout_layout == "paper":  # the three levels nearest the bottleneck
                drop = dropout if depth >= num_downs - 3 else 0.0
            else:  # the reference's 8ngf -> 8ngf levels between the innermost and the 4ngf one
                drop = dropout if 4 <= depth <= num_downs - 2 else 0.0
            block = _SkipBlock(widths[depth - 1], inner, inner_block=block, norm=norm, dropout=drop)
        self.model = _SkipBlock(out_channels, widths[0], inner_block=block, norm=norm, dropout=0.0,
                                outermost=True, in_channels=in_channels)
        init_weights(self, init, init_gain)

    def junyanz_table(self) -> list[Row]:
        """Each conv and norm of ours and its key prefix in the reference's ``UnetGenerator`` (nested levels).

        The reference gives convs a bias only under instance norm, except the outermost up conv; ours always
        have one on the outermost and innermost down convs and whenever the norm is not batch norm.
        """
        rows: list[Row] = []
        block, ours, theirs = self.model, "model", "model.model"
        while True:
            kind = "outermost" if block.outermost else "innermost" if isinstance(block.inner, nn.Identity) \
                else "middle"
            layers, inner = JUNYANZ_LEVELS[kind]
            for ours_layer, index in layers:
                conv = ours_layer in ("down.0", "up.1")
                bias = not conv or self.norm == "instance" or (kind == "outermost" and ours_layer == "up.1")
                rows.append(Row(f"{ours}.{ours_layer}", f"{theirs}.{index}", bias))
            if inner is None:
                return rows
            block, ours, theirs = block.inner, f"{ours}.inner", f"{theirs}.{inner}.model"

    def check_size(self, height: int, width: int) -> None:
        """Raise InputSizeError unless both sides are multiples of 2**num_downs."""
        factor = 2**self.num_downs
        if height % factor or width % factor:
            raise InputSizeError(
                f"U-Net input of {width}x{height} px: sides must be multiples of 2**num_downs = {factor} "
                f"(num_downs {self.num_downs})",
                hint=f"set data.crop_size to a multiple of {factor}, or pick a generator with fewer num_downs "
                     "(unet_128 has 7, for 128 px)",
            )

    def forward(self, x: Tensor) -> Tensor:
        self.check_size(x.shape[-2], x.shape[-1])
        return self.model(x)

