"""Reconstruction distances between an output and its target, computed in fp32."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganzoo.losses import ReconstructionLoss, fp32


class L1(ReconstructionLoss):
    """Mean absolute error (pix2pix's reconstruction term, CycleGAN's cycle and identity terms)."""

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(fp32(output), fp32(target))


class L2(ReconstructionLoss):
    """Mean squared error."""

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(fp32(output), fp32(target))
