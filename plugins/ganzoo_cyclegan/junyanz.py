"""CycleGAN as the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) names it: ``--model cycle_gan``,
``latest_net_G_A.pth`` ... Its ``netD_A`` judges domain B (our ``D_B``) and its ``netG_A`` is our ``G_AB``;
``--direction BtoA`` swaps the domains of its dataset, so there ``netG_A`` is our ``G_BA``."""

from __future__ import annotations

from typing import Any, Mapping

from ganzoo_pix2pix.junyanz import (GAN_MODES, data_spec, describe, discriminator_options, discriminator_spec,
                                    generator_options, generator_spec, same_norm)

#: our slot -> the reference's file letter, per --direction
FILES = {"AtoB": {"G_AB": "G_A", "G_BA": "G_B", "D_A": "D_B", "D_B": "D_A"},
         "BtoA": {"G_AB": "G_B", "G_BA": "G_A", "D_A": "D_A", "D_B": "D_B"}}


class CycleGANReference:
    name = "cycle_gan"
    defaults = {"netG": "resnet_9blocks", "norm": "instance", "no_dropout": True, "dataset_mode": "unaligned",
                "gan_mode": "lsgan", "pool_size": 50, "lambda_A": 10.0, "lambda_B": 10.0, "lambda_identity": 0.5}

    def files(self, opt: Mapping[str, Any]) -> dict[str, str]:
        if opt["direction"] not in FILES:
            raise ValueError(f"--direction {opt['direction']}: AtoB or BtoA")
        return FILES[opt["direction"]]

    def components(self, opt: Mapping[str, Any]) -> dict[str, Any]:
        a, b = opt["input_nc"], opt["output_nc"]  # channels of the reference's domains A and B
        spec = {"G_A": generator_spec(opt, a, b), "G_B": generator_spec(opt, b, a),
                "D_A": discriminator_spec(opt, b), "D_B": discriminator_spec(opt, a)}  # netD_A judges B
        return {slot: spec[letter] for slot, letter in self.files(opt).items()}

    def describe(self, slot: str, opt: Mapping[str, Any]) -> str:
        return f"{'netG' if slot.startswith('G') else 'netD'} {describe(self.components(opt)[slot])}"

    def recipe(self, opt: Mapping[str, Any]) -> dict[str, Any]:
        notes: list[str] = []
        cycle = float(opt["lambda_A"])
        if float(opt["lambda_B"]) != cycle:
            notes.append(f"--lambda_B {opt['lambda_B']} differs from --lambda_A {cycle}: ganzoo has one cycle "
                         f"weight, {cycle}")
        return {
            "model": {"name": "cyclegan", "pool_size": opt["pool_size"]},
            "components": self.components(opt),
            "losses": {"adversarial": {"name": GAN_MODES.get(opt["gan_mode"], opt["gan_mode"])},
                       "cycle": {"name": "l1", "weight": cycle},
                       # the reference's identity weight is relative: lambda_identity x lambda_A
                       "identity": {"name": "l1", "weight": float(opt["lambda_identity"]) * cycle}},
            "data": data_spec(opt, "unaligned_folder", notes),
            "notes": notes,
        }

    def options(self, recipe: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        notes: list[str] = []
        c = recipe["components"]
        same_norm(*c.values())
        g = generator_options(c["G_AB"], notes)
        if {k: v for k, v in generator_options(c["G_BA"], notes).items() if not k.endswith("_nc")} != \
                {k: v for k, v in g.items() if not k.endswith("_nc")}:
            raise ValueError("G_AB and G_BA differ: the reference builds both generators from one --netG/--ngf")
        if discriminator_options(c["D_A"]) != discriminator_options(c["D_B"]):
            raise ValueError("D_A and D_B differ: the reference builds both from one --netD/--ndf")
        losses = recipe["losses"]
        cycle = float(losses["cycle"]["weight"])
        return {"model": "cycle_gan", **g, **discriminator_options(c["D_A"]), "direction": "AtoB",
                "gan_mode": losses["adversarial"]["name"], "lambda_A": cycle, "lambda_B": cycle,
                "lambda_identity": float(losses["identity"]["weight"]) / cycle if cycle else 0.0,
                "pool_size": recipe["model"].get("pool_size", 50), "dataset_mode": "unaligned"}, notes
