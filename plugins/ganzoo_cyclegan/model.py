"""The CycleGAN training scheme (Zhu et al. 2017): two generators, two discriminators, cycle and identity losses."""

from __future__ import annotations

from torch import Tensor, nn

from ganzoo import GANModel
from ganzoo.losses import AdversarialLoss, ReconstructionLoss, real_scores

from .junyanz import CycleGANReference
from .pool import ImagePool


class CycleGAN(GANModel):
    """CycleGAN: G_AB, G_BA, D_A (judges domain A), D_B; adversarial + cycle + identity losses, fake-image pools.

    Generator step: adversarial(D_B(G_AB(A))) + adversarial(D_A(G_BA(B))) + cycle weight x (|G_BA(G_AB(A)) - A|
    + |G_AB(G_BA(B)) - B|) + identity weight x (|G_BA(A) - A| + |G_AB(B) - B|); an identity weight of 0 skips
    those passes. Discriminator step: each D on real images vs fakes drawn from its ``pool_size`` history pool,
    halved.
    """

    component_slots = {"G_AB": "generator", "G_BA": "generator", "D_A": "discriminator", "D_B": "discriminator"}
    loss_slots = {"adversarial": AdversarialLoss, "cycle": ReconstructionLoss, "identity": ReconstructionLoss}
    batch_keys = ("A", "B")
    optimizer_groups = {"G": ("G_AB", "G_BA"), "D": ("D_A", "D_B")}
    directions = ("AtoB", "BtoA")
    loss_capabilities = ("pairwise",)  # relativistic losses: the G step passes real scores
    junyanz = CycleGANReference()  # ganzoo import/export: the reference implementation's names

    def __init__(
        self,
        G_AB: nn.Module,
        G_BA: nn.Module,
        D_A: nn.Module,
        D_B: nn.Module,
        adversarial: AdversarialLoss,
        cycle: ReconstructionLoss,
        identity: ReconstructionLoss,
        *,
        pool_size: int = 50,
    ):
        super().__init__()
        self.G_AB, self.G_BA, self.D_A, self.D_B = G_AB, G_BA, D_A, D_B
        self.adversarial, self.cycle, self.identity = adversarial, cycle, identity
        if identity.weight > 0:
            for name, g in (("G_AB", G_AB), ("G_BA", G_BA)):
                c_in, c_out = getattr(g, "in_channels", None), getattr(g, "out_channels", None)
                if c_in is not None and c_out is not None and c_in != c_out:
                    raise ValueError(f"the identity loss feeds each generator images of its output domain, but "
                                     f"{name} maps {c_in} to {c_out} channels; set losses.identity.weight: 0")
        _check_discriminator("D_A", D_A, "A", getattr(G_AB, "in_channels", None))
        _check_discriminator("D_B", D_B, "B", getattr(G_AB, "out_channels", None))
        self.pool_A, self.pool_B = ImagePool(pool_size), ImagePool(pool_size)

    def train_step(self, batch, optimizers, step):
        real_A, real_B = batch["A"], batch["B"]
        fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        rec_A, rec_B = self.G_BA(fake_B), self.G_AB(fake_A)

        # Generators. optimizers.step("G", ...) backpropagates into G only: D weights get no gradients here.
        adv = self.adversarial
        terms = {
            "G/adv_AB": adv.generator_term(self.D_B(fake_B), real_scores(adv, lambda: self.D_B(real_B))),
            "G/adv_BA": adv.generator_term(self.D_A(fake_A), real_scores(adv, lambda: self.D_A(real_A))),
            "G/cycle_A": self.cycle(rec_A, real_A),
            "G/cycle_B": self.cycle(rec_B, real_B),
        }
        g_loss = (self.adversarial.weight * (terms["G/adv_AB"] + terms["G/adv_BA"])
                  + self.cycle.weight * (terms["G/cycle_A"] + terms["G/cycle_B"]))
        if self.identity.weight > 0:
            terms["G/idt_A"] = self.identity(self.G_BA(real_A), real_A)
            terms["G/idt_B"] = self.identity(self.G_AB(real_B), real_B)
            g_loss = g_loss + self.identity.weight * (terms["G/idt_A"] + terms["G/idt_B"])
        optimizers.step("G", g_loss)

        # Discriminators, on real images vs pooled (possibly older) fakes.
        pooled_A, pooled_B = self.pool_A.query(fake_A), self.pool_B.query(fake_B)
        terms["D_A/real"], terms["D_A/fake"] = adv.discriminator_terms(self.D_A(real_A), self.D_A(pooled_A))
        terms["D_B/real"], terms["D_B/fake"] = adv.discriminator_terms(self.D_B(real_B), self.D_B(pooled_B))
        d_loss = 0.5 * (terms["D_A/real"] + terms["D_A/fake"] + terms["D_B/real"] + terms["D_B/fake"])
        optimizers.step("D", d_loss)
        return {k: v.detach() for k, v in terms.items()}

    def sample(self, batch):
        real_A, real_B = batch["A"], batch["B"]
        fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        columns = {"real A": real_A, "fake B": fake_B, "rec A": self.G_BA(fake_B)}
        if "A_true_B" in batch:
            columns["true B"] = batch["A_true_B"]
        columns |= {"real B": real_B, "fake A": fake_A, "rec B": self.G_AB(fake_A)}
        if "B_true_A" in batch:
            columns["true A"] = batch["B_true_A"]
        return columns

    def translate(self, images: Tensor, direction: str) -> Tensor:
        if direction not in self.directions:
            raise ValueError(f"direction must be one of {self.directions}, got {direction!r}")
        return (self.G_AB if direction == "AtoB" else self.G_BA)(images)

    def evaluation_pairs(self, batch):
        """Cycle reconstructions always; translations against ground truth where the batch carries it."""
        real_A, real_B = batch["A"], batch["B"]
        fake_B, fake_A = self.G_AB(real_A), self.G_BA(real_B)
        pairs = {"cycle_A": (self.G_BA(fake_B), real_A), "cycle_B": (self.G_AB(fake_A), real_B)}
        if "A_true_B" in batch:
            pairs["AtoB"] = (fake_B, batch["A_true_B"])
        if "B_true_A" in batch:
            pairs["BtoA"] = (fake_A, batch["B_true_A"])
        return pairs

    def generated_images(self, batch):
        return {"AtoB": self.G_AB(batch["A"]), "BtoA": self.G_BA(batch["B"])}

    def warnings(self) -> list[str]:
        """The paper's identity weight is relative (0.5 x the cycle weight): say so when the two drifted apart, as
        when ``losses.cycle.weight`` changed and ``losses.identity.weight`` did not."""
        identity, cycle = self.identity.weight, self.cycle.weight
        if identity <= 0 or cycle <= 0 or identity == 0.5 * cycle:
            return []
        return [f"losses.identity.weight {identity:g} is {identity / cycle:g} x losses.cycle.weight {cycle:g}; the "
                f"paper's identity weight is relative (0.5 x the cycle weight): set losses.identity.weight: "
                f"{0.5 * cycle:g} to keep its balance, or 0 to drop the identity term"]

    def fidelity_sets(self):
        """Translations of the test split against the split's real images of the target domain (CUT's protocol)."""
        return {"AtoB": "B", "BtoA": "A"}


def _check_discriminator(slot: str, d: nn.Module, domain: str, channels: int | None) -> None:
    """A D that expects other than one image of its domain (e.g. pix2pix's 6-channel PatchGAN) fails at build time."""
    first = next((m for m in d.modules() if isinstance(m, nn.Conv2d)), None)
    if channels is not None and first is not None and first.in_channels != channels:
        raise ValueError(f"{slot} takes {first.in_channels} input channels, but it judges domain {domain} images of "
                         f"{channels} channels (CycleGAN's discriminators are unconditional); "
                         f"set components.{slot}.in_channels: {channels}")
