"""A small image-to-image generator."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from ganzoo.layers import Init, init_weights


class TinyTranslator(nn.Module):
    """A small residual image-to-image network: conv in, residual 3x3 blocks, conv out, Tanh."""

    def __init__(self, *, in_channels: int = 3, out_channels: int = 3, width: int = 16, blocks: int = 2,
                 activation: Literal["relu", "leaky_relu"] = "relu", init: Init = "normal", init_gain: float = 0.02):
        super().__init__()
        if blocks < 0:
            raise ValueError(f"blocks must be >= 0, got {blocks}")
        act = nn.ReLU if activation == "relu" else lambda: nn.LeakyReLU(0.2)
        self.size_multiple = 1  # stride 1 throughout: `ganzoo translate` feeds it images of any size
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), act())
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), act(), nn.Conv2d(width, width, 3, padding=1))
            for _ in range(blocks)
        )
        self.head = nn.Sequential(nn.Conv2d(width, out_channels, 3, padding=1), nn.Tanh())
        init_weights(self, init, init_gain)

    def forward(self, x: Tensor) -> Tensor:
        h = self.stem(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)
