"""The CycleGAN ResNet generator: contracting blocks, residual blocks, expanding blocks (Johnson et al. 2016)."""

from __future__ import annotations

from torch import Tensor, nn

from ganzoo.keymap import Row
from ganzoo.layers import Init, Norm, init_weights, norm_layer, uses_bias


class ContractingBlock(nn.Module):
    """Halve the spatial size: 3x3 stride-2 convolution, norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: Norm = "instance"):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=uses_bias(norm)),
            norm_layer(norm, out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class ResidualBlock(nn.Module):
    """x + (reflect-pad, 3x3 conv, norm, ReLU, [dropout], reflect-pad, 3x3 conv, norm)(x)."""

    def __init__(self, channels: int, norm: Norm = "instance", dropout: float = 0.0):
        super().__init__()
        bias = uses_bias(norm)
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels),
            nn.ReLU(inplace=True),
            *([nn.Dropout(dropout)] if dropout > 0 else []),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3, bias=bias),
            norm_layer(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.block(x)


class ExpandingBlock(nn.Module):
    """Double the spatial size exactly: 3x3 stride-2 transposed convolution (output_padding 1), norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: Norm = "instance"):
        super().__init__()
        self.block = nn.Sequential(
            nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1,
                               bias=uses_bias(norm)),
            norm_layer(norm, out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.block(x)


class ResnetGenerator(nn.Module):
    """ResNet generator (CycleGAN): 7x7 conv, 2 contracting blocks, n residual blocks, 2 expanding blocks, Tanh.

    Image sides must be divisible by 4 (two stride-2 stages) and at least 8 (reflection padding at 1/4 size).
    """

    def __init__(
        self,
        *,
        in_channels: int = 3,
        out_channels: int = 3,
        ngf: int = 64,
        n_blocks: int = 9,
        norm: Norm = "instance",
        dropout: float = 0.0,
        init: Init = "normal",
        init_gain: float = 0.02,
    ):
        super().__init__()
        if min(in_channels, out_channels, ngf) < 1:
            raise ValueError(f"in_channels, out_channels and ngf must be >= 1, got {in_channels}, {out_channels}, {ngf}")
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be >= 0, got {n_blocks}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.n_blocks, self.norm = n_blocks, norm
        self.size_multiple = 4  # image sides it takes (`ganzoo translate` pads other sizes to it)
        self.model = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=uses_bias(norm)),
            norm_layer(norm, ngf),
            nn.ReLU(inplace=True),
            ContractingBlock(ngf, ngf * 2, norm),
            ContractingBlock(ngf * 2, ngf * 4, norm),
            *(ResidualBlock(ngf * 4, norm, dropout) for _ in range(n_blocks)),
            ExpandingBlock(ngf * 4, ngf * 2, norm),
            ExpandingBlock(ngf * 2, ngf, norm),
            nn.ReflectionPad2d(3),
            nn.Conv2d(ngf, out_channels, 7),
            nn.Tanh(),
        )
        init_weights(self, init, init_gain)

    def junyanz_table(self) -> list[Row]:
        """Our layers and their key prefixes in the reference's ``ResnetGenerator`` (one flat Sequential there,
        where the contracting/expanding blocks take three indices each; residual blocks are numbered alike).
        The reference gives convs a bias only under instance norm, except the last one."""
        n, bias = self.n_blocks, self.norm == "instance"
        rows = [Row("model.1", "model.1", bias), Row("model.2", "model.2")]
        for i in range(2):  # contracting: ours model.4, model.5; theirs model.4-6, model.7-9
            rows += [Row(f"model.{4 + i}.block.0", f"model.{4 + 3 * i}", bias),
                     Row(f"model.{4 + i}.block.1", f"model.{5 + 3 * i}")]
        for b in range(n):  # residual blocks: the same layers at the same indices
            rows += [Row(f"model.{6 + b}.block.{j}", f"model.{10 + b}.conv_block.{j}",
                         bias or not isinstance(m, nn.Conv2d)) for j, m in enumerate(self.model[6 + b].block)]
        for i in range(2):  # expanding: ours model.(6+n), model.(7+n); theirs model.(10+n)..., model.(13+n)...
            rows += [Row(f"model.{6 + n + i}.block.0", f"model.{10 + n + 3 * i}", bias),
                     Row(f"model.{6 + n + i}.block.1", f"model.{11 + n + 3 * i}")]
        return rows + [Row(f"model.{9 + n}", f"model.{17 + n}")]

    def forward(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        if h % 4 or w % 4 or min(h, w) < 8:
            raise ValueError(f"resnet generator: input of {w}x{h} px; both sides must be divisible by 4 and >= 8 "
                             f"(two stride-2 stages), e.g. {max(8, w // 4 * 4)}x{max(8, h // 4 * 4)}")
        return self.model(x)
