"""Built-in loss terms: adversarial objectives, penalties and reconstruction distances."""

from ganzoo import hookimpl

from .adversarial import Hinge, LSGAN, RaHinge, RaLSGAN, RaVanilla, Vanilla, Wasserstein
from .penalties import GradientPenalty, R1
from .reconstruction import L1, L2


@hookimpl
def register_losses(register):
    register("vanilla", Vanilla)
    register("lsgan", LSGAN)
    register("hinge", Hinge)
    register("wasserstein", Wasserstein)
    register("ra_vanilla", RaVanilla)
    register("ra_lsgan", RaLSGAN)
    register("ra_hinge", RaHinge)
    register("gradient_penalty", GradientPenalty)
    register("r1", R1)
    register("l1", L1)
    register("l2", L2)
