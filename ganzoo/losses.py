"""Loss roles: the small interfaces a model's loss slots accept.

A loss plugin subclasses one role. Every loss has a ``weight`` (from the recipe) that the model multiplies
in; the loss itself returns the unweighted term so that logs stay in natural units.
"""

from __future__ import annotations

from typing import Callable, ClassVar

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
    """An adversarial objective, read from raw discriminator scores (logits).

    One-sided losses implement ``real``, ``fake`` and ``generator``. Models call the pairwise forms,
    ``discriminator_terms(real_scores, fake_scores)`` and ``generator_term(fake_scores, real_scores)``, whose
    defaults are those one-sided terms, so every loss works with every model that uses them. A pairwise loss
    (relativistic: each term compares real and fake scores) overrides the pairwise forms and declares
    ``requires = ("pairwise",)``; a model that passes real scores to ``generator_term`` declares
    ``loss_capabilities = ("pairwise",)``, and ganzoo refuses the combination otherwise when resolving a recipe.
    """

    role = "adversarial"
    #: what the loss needs from the model beyond one-sided terms (``"pairwise"``: real scores in the G step)
    requires: ClassVar[tuple[str, ...]] = ()

    @property
    def pairwise(self) -> bool:
        """The generator's term needs real scores too (see :func:`real_scores`)."""
        return "pairwise" in self.requires

    def discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> tuple[Tensor, Tensor]:
        """The discriminator's (real term, fake term) on scores of real and generated samples."""
        return self.real(real_scores), self.fake(fake_scores)

    def generator_term(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        """The generator's loss on scores of its samples; ``real_scores`` (no gradient) for pairwise losses."""
        return self.generator(fake_scores)

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


def real_scores(loss: AdversarialLoss, judge: Callable[[], Tensor]) -> Tensor | None:
    """For a model's generator step: ``judge()`` (the discriminator on real samples, without gradients: the
    generator's gradient flows through the fake scores) when ``loss`` is pairwise, else None and no forward pass.

    ``g = adv.generator_term(D(fake), real_scores(adv, lambda: D(real)))``
    """
    if not loss.pairwise:
        return None
    with torch.no_grad():
        return judge()


def fp32(x: Tensor) -> Tensor:
    """``x`` as float32 (penalties and metrics are computed in fp32 under any autocast)."""
    return x.float() if x.dtype != torch.float32 else x
