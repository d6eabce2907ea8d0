"""Discriminator regularisers, computed in fp32 whatever the autocast setting."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ganzoo.losses import Penalty


def _input_gradient(critic: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """d(sum of critic scores)/dx, per sample, in fp32, keeping the graph for the double backward."""
    x = x.float().requires_grad_(True)
    with torch.autocast(x.device.type, enabled=False):
        scores = critic(x)
    (grad,) = torch.autograd.grad(scores.float().sum(), x, create_graph=True)
    return grad.flatten(1)


class GradientPenalty(Penalty):
    """WGAN-GP: mean((||grad D(x_hat)|| - target)^2) at per-sample random interpolates of real and fake.

    One interpolation coefficient per sample; the gradient norm is over all non-batch dimensions. The paper
    uses weight 10 for images; its authors used 0.1 for 2-D toy data.
    """

    def __init__(self, *, weight: float = 10.0, target: float = 1.0):
        super().__init__(weight=weight)
        self.target = target

    def forward(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        real, fake = real.detach().float(), fake.detach().float()
        alpha = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device)
        interpolates = torch.lerp(fake, real, alpha)  # alpha * real + (1 - alpha) * fake
        grad = _input_gradient(critic, interpolates)
        norm = torch.sqrt(grad.square().sum(1) + 1e-12)  # eps: finite double-backward at zero gradient
        return (norm - self.target).square().mean()


class R1(Penalty):
    """R1: mean squared gradient norm of D on real samples (Mescheder et al. 2018). Weight = gamma / 2."""

    def __init__(self, *, weight: float = 5.0):
        super().__init__(weight=weight)

    def forward(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
        return _input_gradient(critic, real.detach()).square().sum(1).mean()
