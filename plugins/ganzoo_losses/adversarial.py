"""Adversarial objectives, read from raw discriminator scores. All are computed in fp32."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganzoo.losses import AdversarialLoss, fp32


class Vanilla(AdversarialLoss):
    """The original GAN / cGAN objective: binary cross-entropy on logits; the generator's is non-saturating.

    ``real_label`` < 1 gives one-sided label smoothing.
    """

    def __init__(self, *, weight: float = 1.0, real_label: float = 1.0, fake_label: float = 0.0):
        super().__init__(weight=weight)
        self.real_label, self.fake_label = real_label, fake_label

    @staticmethod
    def _bce(scores: Tensor, label: float) -> Tensor:
        s = fp32(scores)
        # BCE-with-logits against a constant label, without allocating a target tensor
        if label == 1.0:
            return F.softplus(-s).mean()
        if label == 0.0:
            return F.softplus(s).mean()
        return (label * F.softplus(-s) + (1.0 - label) * F.softplus(s)).mean()

    def real(self, scores: Tensor) -> Tensor:
        return self._bce(scores, self.real_label)

    def fake(self, scores: Tensor) -> Tensor:
        return self._bce(scores, self.fake_label)

    def generator(self, scores: Tensor) -> Tensor:
        return self._bce(scores, 1.0)


class LSGAN(AdversarialLoss):
    """Least-squares GAN: mean squared distance of scores to the real/fake labels (CycleGAN's choice)."""

    def __init__(self, *, weight: float = 1.0, real_label: float = 1.0, fake_label: float = 0.0):
        super().__init__(weight=weight)
        self.real_label, self.fake_label = real_label, fake_label

    def real(self, scores: Tensor) -> Tensor:
        return (fp32(scores) - self.real_label).square().mean()

    def fake(self, scores: Tensor) -> Tensor:
        return (fp32(scores) - self.fake_label).square().mean()

    def generator(self, scores: Tensor) -> Tensor:
        return (fp32(scores) - self.real_label).square().mean()


class Hinge(AdversarialLoss):
    """Hinge loss: max(0, 1 - D(real)) + max(0, 1 + D(fake)) for the discriminator, -D(fake) for the generator."""

    def real(self, scores: Tensor) -> Tensor:
        return F.relu(1.0 - fp32(scores)).mean()

    def fake(self, scores: Tensor) -> Tensor:
        return F.relu(1.0 + fp32(scores)).mean()

    def generator(self, scores: Tensor) -> Tensor:
        return -fp32(scores).mean()


class Wasserstein(AdversarialLoss):
    """Wasserstein critic objective: mean(D(fake)) - mean(D(real)); generator: -mean(D(fake))."""

    def real(self, scores: Tensor) -> Tensor:
        return -fp32(scores).mean()

    def fake(self, scores: Tensor) -> Tensor:
        return fp32(scores).mean()

    def generator(self, scores: Tensor) -> Tensor:
        return -fp32(scores).mean()
