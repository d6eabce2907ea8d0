"""The pix2pix training scheme: a conditional GAN (D sees input and output together) plus a reconstruction term."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ganzoo import GANModel
from ganzoo.losses import AdversarialLoss, ReconstructionLoss, real_scores

from .junyanz import Pix2PixReference
from .test_mode import paper_forward

Direction = Literal["AtoB", "BtoA"]
TestMode = Literal["paper", "eval"]


class Pix2Pix(GANModel):
    """pix2pix (Isola et al. 2017): G maps source to target; D judges (source, image) pairs, real or generated.

    Each step: D on (source, target) vs (source, G(source).detach()), its loss halved (slows D relative to G);
    then G on the adversarial term plus ``reconstruction.weight`` x the reconstruction term (L1 x100 in the
    paper). ``direction`` picks which image of a pair is the source; the model translates only that way.

    ``test_mode`` is how the generator runs outside training (sample grids, ``translate``, ``eval``): ``eval``
    uses batch norm's running statistics and no dropout; ``paper`` is the paper's and the reference
    implementation's default test run: each image normalised by its own statistics, dropout on (seeded draws),
    running statistics untouched.
    """

    component_slots = {"generator": "generator", "discriminator": "discriminator"}
    loss_slots = {"adversarial": AdversarialLoss, "reconstruction": ReconstructionLoss}
    batch_keys = ("A", "B")
    optimizer_groups = {"G": ("generator",), "D": ("discriminator",)}
    directions = ("AtoB", "BtoA")  # what the class can be trained for; an instance has only its own
    loss_capabilities = ("pairwise",)  # relativistic losses: the G step passes real scores
    junyanz = Pix2PixReference()  # ganzoo import/export: the reference implementation's names

    def __init__(self, generator: nn.Module, discriminator: nn.Module, adversarial: AdversarialLoss,
                 reconstruction: ReconstructionLoss, *, direction: Direction = "AtoB", test_mode: TestMode = "eval"):
        super().__init__()
        if direction not in ("AtoB", "BtoA"):
            raise ValueError(f"direction must be AtoB or BtoA, got {direction!r}")
        if test_mode not in ("paper", "eval"):
            raise ValueError(f"test_mode must be paper or eval, got {test_mode!r}")
        self.test_mode = test_mode
        self.generator, self.discriminator = generator, discriminator
        self.adversarial, self.reconstruction = adversarial, reconstruction
        self.direction = direction
        self.directions = (direction,)
        # log name of the reconstruction term: G/l1, G/l2, ...
        self.rec_name = f"G/{type(reconstruction).__name__.lower()}"

    def _pair(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(source, target) of a batch for this model's direction."""
        return (batch["A"], batch["B"]) if self.direction == "AtoB" else (batch["B"], batch["A"])

    def batch_roles(self) -> dict[str, str]:
        source, target = ("A", "B") if self.direction == "AtoB" else ("B", "A")
        return {"input": source, "target": target}

    def _generate(self, source: Tensor) -> Tensor:
        """The generator outside training, in ``test_mode`` (in training: plainly)."""
        if self.training or self.test_mode == "eval":
            return self.generator(source)
        return paper_forward(self.generator, source)

    def _judge(self, source: Tensor, image: Tensor) -> Tensor:
        return self.discriminator(torch.cat([source, image], 1))

    def train_step(self, batch, optimizers, step):
        source, target = self._pair(batch)
        fake = self.generator(source)  # once per step: D sees it detached, G's step backpropagates through it

        d_real, d_fake = self.adversarial.discriminator_terms(self._judge(source, target),
                                                             self._judge(source, fake.detach()))
        optimizers.step("D", 0.5 * (d_real + d_fake))

        # G against the just-updated D, as in the reference implementation (a pairwise loss also sees real scores)
        g_adv = self.adversarial.generator_term(self._judge(source, fake),
                                                real_scores(self.adversarial, lambda: self._judge(source, target)))
        g_rec = self.reconstruction(fake, target)
        optimizers.step("G", self.adversarial.weight * g_adv + self.reconstruction.weight * g_rec)
        return {"D/real": d_real.detach(), "D/fake": d_fake.detach(), "G/adv": g_adv.detach(),
                self.rec_name: g_rec.detach()}

    def sample(self, batch):
        source, target = self._pair(batch)
        return {"input": source, "output": self._generate(source), "target": target}

    def translate(self, images: Tensor, direction: str) -> Tensor:
        if direction != self.direction:
            raise ValueError(f"this pix2pix model was trained {self.direction}; it cannot translate {direction}")
        return self._generate(images)

    def evaluation_pairs(self, batch):
        source, target = self._pair(batch)
        return {self.direction: (self._generate(source), target)}

    def generated_images(self, batch):
        return {self.direction: self._generate(self._pair(batch)[0])}

    def fidelity_sets(self):
        """Outputs against the split's real targets (the pix2pix/CycleGAN papers' FID protocol)."""
        return {self.direction: "B" if self.direction == "AtoB" else "A"}

    def warnings(self) -> list[str]:
        """D must take source and output concatenated; a mismatch would otherwise surface as a conv error."""
        convs = (nn.Conv2d, nn.ConvTranspose2d)
        g = [m for m in self.generator.modules() if isinstance(m, convs)]
        d = next((m for m in self.discriminator.modules() if isinstance(m, convs)), None)
        if not g or d is None or d.in_channels == g[0].in_channels + g[-1].out_channels:
            return []
        return [f"the discriminator takes {d.in_channels} channels but pix2pix feeds it source + output = "
                f"{g[0].in_channels} + {g[-1].out_channels}: set components.discriminator.in_channels"]
