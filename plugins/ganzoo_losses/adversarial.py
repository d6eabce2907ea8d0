"""Adversarial objectives, read from raw discriminator scores. All are computed in fp32.

One-sided (vanilla, lsgan, hinge, wasserstein) and relativistic average (ra_vanilla, ra_lsgan, ra_hinge:
Jolicoeur-Martineau 2018, each score compared with the mean score of the other kind).
"""

from __future__ import annotations

from typing import ClassVar

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


class RelativisticAverage(AdversarialLoss):
    """Relativistic average GAN (Jolicoeur-Martineau 2018): D estimates how much more realistic a real sample is
    than the average fake (and the reverse); G gets the mirrored objective, so it also learns from real scores.

    D terms: real = pos(D(x_r) - mean D(x_f)), fake = neg(D(x_f) - mean D(x_r)); G term: the mean of
    pos(D(x_f) - mean D(x_r)) and neg(D(x_r) - mean D(x_f)) (the two terms averaged, as ESRGAN does, so its size
    matches a one-sided G loss). Subclasses define ``pos`` (the loss of a score that should read real) and
    ``neg``. Pairwise: the model must pass real scores to ``generator_term``.
    """

    requires: ClassVar[tuple[str, ...]] = ("pairwise",)

    def pos(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def neg(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> tuple[Tensor, Tensor]:
        r, f = fp32(real_scores), fp32(fake_scores)
        return self.pos(r - f.mean()), self.neg(f - r.mean())

    def generator_term(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        if real_scores is None:
            raise ValueError(f"{type(self).__name__} is a relativistic loss: generator_term needs real scores "
                             "(use ganzoo.losses.real_scores in the model's generator step)")
        r, f = fp32(real_scores), fp32(fake_scores)
        return 0.5 * (self.pos(f - r.mean()) + self.neg(r - f.mean()))

    def _one_sided(self, *_: Tensor) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} is pairwise: it reads real and fake scores together "
                                  "(discriminator_terms / generator_term)")

    real = fake = generator = _one_sided


class RaVanilla(RelativisticAverage):
    """Relativistic average standard GAN (RaSGAN): BCE on logits of score differences (ESRGAN's adversarial loss)."""

    def pos(self, x: Tensor) -> Tensor:
        return F.softplus(-x).mean()

    def neg(self, x: Tensor) -> Tensor:
        return F.softplus(x).mean()


class RaLSGAN(RelativisticAverage):
    """Relativistic average least squares: (difference - 1)^2 for real, (difference + 1)^2 for fake."""

    def pos(self, x: Tensor) -> Tensor:
        return (x - 1.0).square().mean()

    def neg(self, x: Tensor) -> Tensor:
        return (x + 1.0).square().mean()


class RaHinge(RelativisticAverage):
    """Relativistic average hinge: max(0, 1 - difference) for real, max(0, 1 + difference) for fake."""

    def pos(self, x: Tensor) -> Tensor:
        return F.relu(1.0 - x).mean()

    def neg(self, x: Tensor) -> Tensor:
        return F.relu(1.0 + x).mean()
