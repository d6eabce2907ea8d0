"""Loss roles: the small interfaces a model's loss slots accept.

A loss plugin subclasses one role. Every loss has a ``weight`` (from the recipe) that the model multiplies
in; the loss itself returns the unweighted term so that logs stay in natural units.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn


class Loss(nn.Module):
    """Base of all loss roles."""

    role = "loss"

    def __init__(self, *, weight: float = 1.0):
        super().__init__()
        self.weight = float(weight)

    def extra_repr(self) -> str:
        return f"weight={self.weight:g}"


class AdversarialLoss(Loss):
    """An adversarial objective, read from raw discriminator scores (logits)."""

    role = "adversarial"

    def real(self, scores: Tensor) -> Tensor:
        """Discriminator loss on scores of real samples."""
        raise NotImplementedError

    def fake(self, scores: Tensor) -> Tensor:
        """Discriminator loss on scores of generated samples."""
        raise NotImplementedError

    def generator(self, scores: Tensor) -> Tensor:
        """Generator loss on scores of its samples."""
        raise NotImplementedError


class ReconstructionLoss(Loss):
    """A distance between an output and its target (L1, L2, ...)."""

    role = "reconstruction"

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        raise NotImplementedError


class Penalty(Loss):
    """A regulariser on the discriminator, e.g. the WGAN-GP gradient penalty or R1."""

    role = "penalty"
    #: differentiates the critic's input gradient again (torch.compile's AOTAutograd cannot)
    double_backward = True

    def forward(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError


ROLES: dict[str, type[Loss]] = {cls.role: cls for cls in (AdversarialLoss, ReconstructionLoss, Penalty)}


def fp32(x: Tensor) -> Tensor:
    """``x`` as float32 (penalties and metrics are computed in fp32 under any autocast)."""
    return x.float() if x.dtype != torch.float32 else x
