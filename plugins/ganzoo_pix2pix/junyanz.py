"""pix2pix and its networks as the reference implementation (junyanz/pytorch-CycleGAN-and-pix2pix) names them.

Its ``--netG``/``--netD``/``--norm``/... options <-> our components, used by ``ganzoo import`` / ``ganzoo export``
through :mod:`ganzoo.junyanz`; the layer tables live on the networks (``junyanz_table``). CycleGAN's adapter
reuses the network vocabulary: the reference has one ``networks.py`` for both models.
"""

from __future__ import annotations

from typing import Any, Mapping

GENERATORS = {"unet_128": ("unet", 7), "unet_256": ("unet", 8),
              "resnet_6blocks": ("resnet", 6), "resnet_9blocks": ("resnet", 9)}
NORMS = ("batch", "instance", "none")
GAN_MODES = {"vanilla": "vanilla", "lsgan": "lsgan"}
PREPROCESS = ("resize_and_crop", "crop", "resize", "none")


def _choice(opt: Mapping[str, Any], key: str, choices: Any) -> Any:
    value = opt[key]
    if value not in choices:
        raise ValueError(f"--{key} {value}: ganzoo has {', '.join(choices)}")
    return value


def generator_spec(opt: Mapping[str, Any], in_channels: int, out_channels: int) -> dict[str, Any]:
    """``--netG unet_256 --ngf 64 --norm batch`` ... as a generator component."""
    net = _choice(opt, "netG", GENERATORS)
    spec = {"name": net, "in_channels": in_channels, "out_channels": out_channels, "ngf": opt["ngf"],
            "norm": _choice(opt, "norm", NORMS), "dropout": 0.0 if opt["no_dropout"] else 0.5,
            "init": opt["init_type"], "init_gain": opt["init_gain"]}
    if GENERATORS[net][0] == "unet":
        spec["dropout_layout"] = "reference"  # where the reference puts dropout (same weights, other levels)
    return spec


def discriminator_spec(opt: Mapping[str, Any], in_channels: int) -> dict[str, Any]:
    """``--netD basic|n_layers|pixel --ndf --n_layers_D`` as a discriminator component."""
    net = _choice(opt, "netD", ("basic", "n_layers", "pixel"))
    spec: dict[str, Any] = {"name": "pixel" if net == "pixel" else "patchgan", "in_channels": in_channels,
                            "ndf": opt["ndf"], "norm": _choice(opt, "norm", NORMS), "init": opt["init_type"],
                            "init_gain": opt["init_gain"]}
    if net != "pixel":
        spec["n_layers"] = 3 if net == "basic" else opt["n_layers_D"]
    return spec


def generator_options(spec: Mapping[str, Any], notes: list[str]) -> dict[str, Any]:
    """The reverse of :func:`generator_spec`; ``ValueError`` for what the reference cannot build."""
    name = spec["name"]
    family = "unet" if name.startswith("unet") else "resnet" if name.startswith("resnet") else name
    depth = spec.get("num_downs") if family == "unet" else spec.get("n_blocks")
    net = name if name in GENERATORS else next((k for k, v in GENERATORS.items() if v == (family, depth)), None)
    if net is None:
        raise ValueError(f"generator {name!r} ({depth}): the reference has only {', '.join(GENERATORS)}")
    if spec.get("norm") not in NORMS:
        raise ValueError(f"norm {spec.get('norm')!r}: the reference has batch, instance and none")
    dropout = float(spec.get("dropout", 0.0))
    if dropout not in (0.0, 0.5):
        raise ValueError(f"dropout {dropout}: the reference's is 0.5 or none (--no_dropout)")
    if dropout and family == "unet" and spec.get("dropout_layout", "paper") != "reference":
        notes.append("the U-Net was trained with dropout at the paper's levels; the reference applies it one level "
                     "further out: same weights, other noise in the paper's test mode")
    return {"netG": net, "ngf": spec["ngf"], "norm": spec["norm"], "no_dropout": not dropout,
            "input_nc": spec["in_channels"], "output_nc": spec["out_channels"],
            "init_type": spec.get("init", "normal"), "init_gain": spec.get("init_gain", 0.02)}


def discriminator_options(spec: Mapping[str, Any]) -> dict[str, Any]:
    if spec["name"] == "pixel":
        return {"netD": "pixel", "ndf": spec["ndf"], "n_layers_D": 3}
    if spec["name"] != "patchgan":
        raise ValueError(f"discriminator {spec['name']!r}: the reference has the PatchGAN and the pixel discriminator")
    n = spec["n_layers"]
    return {"netD": "basic" if n == 3 else "n_layers", "ndf": spec["ndf"], "n_layers_D": n}


def same_norm(*specs: Mapping[str, Any]) -> str:
    norms = {s.get("norm") for s in specs}
    if len(norms) > 1:
        raise ValueError(f"norms {', '.join(sorted(map(str, norms)))}: the reference uses one --norm for all networks")
    return norms.pop()


def data_spec(opt: Mapping[str, Any], name: str, notes: list[str]) -> dict[str, Any]:
    root = opt["dataroot"] or f"datasets/{opt['name']}"
    notes.append(f"data.root: {root} (the reference's dataroot; `ganzoo eval --data root=DIR` points elsewhere)")
    preprocess = opt["preprocess"]
    if preprocess not in PREPROCESS:
        notes.append(f"--preprocess {preprocess} has no ganzoo counterpart: resize_and_crop instead")
        preprocess = "resize_and_crop"
    return {"name": name, "root": str(root), "load_size": opt["load_size"], "crop_size": opt["crop_size"],
            "preprocess": preprocess, "flip": not opt["no_flip"]}


def describe(spec: Mapping[str, Any]) -> str:
    keys = ("name", "ngf", "ndf", "n_layers", "norm", "dropout", "in_channels", "out_channels")
    return spec["name"] + " with " + ", ".join(f"{k} {spec[k]}" for k in keys[1:] if k in spec)


class Pix2PixReference:
    """pix2pix in the reference: ``--model pix2pix``, ``latest_net_G.pth`` / ``latest_net_D.pth``."""

    name = "pix2pix"
    defaults = {"netG": "unet_256", "norm": "batch", "dataset_mode": "aligned", "gan_mode": "vanilla",
                "pool_size": 0, "lambda_L1": 100.0, "no_dropout": False}

    def files(self, opt: Mapping[str, Any]) -> dict[str, str]:
        return {"generator": "G", "discriminator": "D"}

    def components(self, opt: Mapping[str, Any]) -> dict[str, Any]:
        return {"generator": generator_spec(opt, opt["input_nc"], opt["output_nc"]),
                "discriminator": discriminator_spec(opt, opt["input_nc"] + opt["output_nc"])}

    def describe(self, slot: str, opt: Mapping[str, Any]) -> str:
        spec = self.components(opt)[slot]
        return f"{'netG' if slot == 'generator' else 'netD'} {describe(spec)}"

    def recipe(self, opt: Mapping[str, Any]) -> dict[str, Any]:
        notes: list[str] = []
        return {
            # the reference's default test run is the paper's (train-mode) inference; its --eval is ours
            "model": {"name": "pix2pix", "direction": _choice(opt, "direction", ("AtoB", "BtoA")),
                      "test_mode": "eval" if opt["eval"] else "paper"},
            "components": self.components(opt),
            "losses": {"adversarial": {"name": _choice(opt, "gan_mode", GAN_MODES)},
                       "reconstruction": {"name": "l1", "weight": float(opt["lambda_L1"])}},
            "data": data_spec(opt, "aligned_folder" if opt["dataset_mode"] == "aligned" else "paired_folders", notes),
            "notes": notes,
        }

    def options(self, recipe: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        notes: list[str] = []
        g, d = recipe["components"]["generator"], recipe["components"]["discriminator"]
        same_norm(g, d)
        losses = recipe["losses"]
        if losses["reconstruction"]["name"] != "l1" or losses["adversarial"]["name"] not in GAN_MODES:
            raise ValueError("the reference's pix2pix trains with vanilla or lsgan + L1")
        model = recipe["model"]
        return {"model": "pix2pix", **generator_options(g, notes), **discriminator_options(d),
                "direction": model["direction"], "gan_mode": losses["adversarial"]["name"],
                "lambda_L1": losses["reconstruction"]["weight"], "pool_size": 0, "dataset_mode": "aligned",
                "eval": model.get("test_mode", "eval") == "eval"}, notes
