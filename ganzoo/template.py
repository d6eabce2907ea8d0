"""``ganzoo new-plugin NAME``: a pip-installable plugin package that passes its own tests and trains out of the box.

One component per chosen kind (generator, discriminator, dataset, model, loss), a recipe that uses them (built-in
counterparts fill the kinds not chosen), and tests built on the conformance kit. Nothing is ever overwritten.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from .errors import GanzooError

KINDS = ("generator", "discriminator", "dataset", "model", "loss")
DEFAULT_KINDS = ("generator", "discriminator", "dataset", "model")

_NETWORKS = '''
"""{title}: a generator of (N, z_dim) noise and a discriminator, for small square images."""

from __future__ import annotations

from typing import Literal

from torch import Tensor, nn

from ganzoo.layers import Init, init_weights


class Generator(nn.Module):
    """Noise -> image: a linear layer to a 4x4 map, then upsampling convolutions to image_size, Tanh."""

    def __init__(self, *, z_dim: int = 16, width: int = 32, channels: int = 3, image_size: int = 16,
                 init: Init = "normal", init_gain: float = 0.02):
        super().__init__()
        if image_size < 4 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 4, got {{image_size}}")
        self.z_dim = z_dim  # unconditional models read it to draw noise
        self.width = width
        self.stem = nn.Linear(z_dim, width * 16)
        layers: list[nn.Module] = []
        size = 4
        while size < image_size:
            layers += [nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2)]
            size *= 2
        self.body = nn.Sequential(*layers, nn.Conv2d(width, channels, 3, padding=1), nn.Tanh())
        init_weights(self, init, init_gain)

    def forward(self, z: Tensor) -> Tensor:
        return self.body(self.stem(z).view(len(z), self.width, 4, 4))


class Discriminator(nn.Module):
    """Image -> one score per sample: strided convolutions down to 4x4, then a linear layer (raw logits)."""

    def __init__(self, *, width: int = 32, channels: int = 3, image_size: int = 16,
                 activation: Literal["leaky_relu", "relu"] = "leaky_relu", init: Init = "normal",
                 init_gain: float = 0.02):
        super().__init__()
        act = (lambda: nn.LeakyReLU(0.2)) if activation == "leaky_relu" else nn.ReLU
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 3, padding=1), act()]
        size = image_size
        while size > 4:
            layers += [nn.Conv2d(width, width, 4, stride=2, padding=1), act()]
            size //= 2
        self.body = nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * size * size, 1))
        init_weights(self, init, init_gain)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).squeeze(1)
'''

_DATA = '''
"""{title}: a procedural dataset, generated from a seed (nothing to download)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from ganzoo.errors import SplitNotFound


class Blobs(Dataset):
    """Soft coloured blobs on a dark background, one per image, generated from the index and the seed."""

    keys = ("x",)  # what each item holds: ganzoo checks before training that the model gets what it reads

    def __init__(self, *, split: str = "train", size: int = 256, image_size: int = 16, seed: int = 0):
        if split not in ("train", "test"):
            raise SplitNotFound(f"{{split!r}}: this dataset has train and test splits")
        if image_size < 4:
            raise ValueError(f"image_size must be >= 4, got {{image_size}}")
        self.size, self.image_size = size, image_size
        self.seed = seed * 2 + (split == "test")

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        n = self.image_size
        cy, cx, radius = (torch.rand(3, generator=g) * torch.tensor([n, n, n / 4]) + torch.tensor([0, 0, n / 8]))
        colour = torch.rand(3, 1, 1, generator=g) * 2 - 1
        yy, xx = torch.meshgrid(torch.arange(n).float(), torch.arange(n).float(), indexing="ij")
        mask = torch.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * radius ** 2))
        x = -1 + mask * (colour + 1)  # images are (C, H, W) float32 in [-1, 1]
        return {{"x": x.clamp(-1, 1)}}
'''

_MODEL = '''
"""{title}: a training scheme (an unconditional GAN)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganzoo import GANModel
from ganzoo.losses import AdversarialLoss, real_scores


class SimpleGAN(GANModel):
    """One discriminator update, then one generator update, per step; any adversarial loss (pairwise too)."""

    component_slots = {{"generator": "generator", "critic": "discriminator"}}  # slot -> component kind
    loss_slots = {{"adversarial": AdversarialLoss}}  # slot -> loss role
    batch_keys = ("x",)  # what train_step reads from a batch
    optimizer_groups = {{"G": ("generator",), "D": ("critic",)}}  # the recipe's optim: names these
    loss_capabilities = ("pairwise",)  # the G step passes real scores: relativistic losses work

    def __init__(self, generator: nn.Module, critic: nn.Module, adversarial: AdversarialLoss):
        super().__init__()
        if not isinstance(getattr(generator, "z_dim", None), int):
            raise ValueError("the generator needs an integer z_dim attribute (a generator of noise)")
        self.generator, self.critic, self.adversarial = generator, critic, adversarial

    def generate(self, n: int) -> Tensor:
        return self.generator(torch.randn(n, self.generator.z_dim, device=self.device))

    def train_step(self, batch, optimizers, step):
        real = batch["x"]
        fake = self.generate(len(real))
        d_real, d_fake = self.adversarial.discriminator_terms(self.critic(real), self.critic(fake.detach()))
        optimizers.step("D", self.adversarial.weight * (d_real + d_fake))  # zero, backward, step: all in one
        g = self.adversarial.generator_term(self.critic(fake),
                                            real_scores(self.adversarial, lambda: self.critic(real)))
        optimizers.step("G", self.adversarial.weight * g)
        return {{"D/real": d_real.detach(), "D/fake": d_fake.detach(), "G/adv": g.detach()}}  # scalars, group/term

    def sample(self, batch):
        g = torch.Generator().manual_seed(0)  # the same noise at every sample step
        z = torch.randn(len(batch["x"]), self.generator.z_dim, generator=g).to(self.device)
        return {{"real": batch["x"], "fake": self.generator(z)}}

    def generated_images(self, batch):
        return {{"samples": self.generate(len(batch["x"]))}}

    def fidelity_sets(self):
        return {{"samples": "x"}}
'''

_LOSSES = '''
"""{title}: a loss term."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from ganzoo.losses import AdversarialLoss, fp32


class Softplus(AdversarialLoss):
    """Non-saturating GAN loss written with softplus: D minimises softplus(-D(real)) + softplus(D(fake))."""

    def __init__(self, *, weight: float = 1.0, margin: float = 0.0):
        super().__init__(weight=weight)
        self.margin = margin

    def real(self, scores: Tensor) -> Tensor:
        return F.softplus(self.margin - fp32(scores)).mean()

    def fake(self, scores: Tensor) -> Tensor:
        return F.softplus(self.margin + fp32(scores)).mean()

    def generator(self, scores: Tensor) -> Tensor:
        return F.softplus(-fp32(scores)).mean()
'''


def _identifier(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def new_plugin(name: str, where: Path, kinds: tuple[str, ...] = DEFAULT_KINDS) -> Path:
    """Write the package ``where/NAME``; returns its folder. Refuses an existing folder."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise GanzooError(f"plugin name {name!r}: lower-case letters, digits, '-' and '_', starting with a letter",
                          hint="e.g. ganzoo new-plugin ganzoo-blobs")
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise GanzooError(f"--kinds {','.join(kinds)}: choose from {', '.join(KINDS)}")
    root = Path(where) / name
    if root.exists():
        raise GanzooError(f"{root} already exists", hint="choose another name or --dir; nothing was written")
    package = _identifier(name)
    short = package.removeprefix("ganzoo_") or package
    title = f"{name} (a ganzoo plugin)"
    has = set(kinds)
    names = {"generator": f"{short}_generator", "discriminator": f"{short}_discriminator",
             "dataset": f"{short}_images", "model": f"{short}_gan", "loss": f"{short}_softplus"}
    files: dict[str, str] = {}
    imports, hooks = [], []
    if has & {"generator", "discriminator"}:
        files[f"{package}/networks.py"] = _NETWORKS.format(title=title)
        imports.append("from .networks import " + ", ".join(
            n for k, n in (("discriminator", "Discriminator"), ("generator", "Generator")) if k in has))
    if "dataset" in has:
        files[f"{package}/data.py"] = _DATA.format(title=title)
        imports.append("from .data import Blobs")
    if "model" in has:
        files[f"{package}/model.py"] = _MODEL.format(title=title)
        imports.append("from .model import SimpleGAN")
    if "loss" in has:
        files[f"{package}/losses.py"] = _LOSSES.format(title=title)
        imports.append("from .losses import Softplus")
    for kind, cls in (("generator", "Generator"), ("discriminator", "Discriminator"), ("dataset", "Blobs"),
                      ("model", "SimpleGAN"), ("loss", "Softplus")):
        if kind in has:
            hook = {"dataset": "register_datasets", "loss": "register_losses"}.get(kind, f"register_{kind}s")
            hooks.append(f'@hookimpl\ndef {hook}(register):\n    register("{names[kind]}", {cls})\n')
    hooks.append(f'@hookimpl\ndef register_recipes(register):\n    register("{short}", Path(__file__).parent / '
                 f'"recipes" / "{short}.yaml")\n')
    files[f"{package}/__init__.py"] = (f'"""{title}: its components, registered through ganzoo\'s hooks."""\n\n'
                                       "from pathlib import Path\n\nfrom ganzoo import hookimpl\n\n"
                                       + "\n".join(imports) + "\n\n\n" + "\n\n".join(hooks))
    generator = (f"{{name: {names['generator']}, z_dim: 16, width: 16, image_size: 16}}" if "generator" in has
                 else "{name: dcgan, z_dim: 16, hidden_dim: 8, image_size: 16}")
    critic = (f"{{name: {names['discriminator']}, width: 16, image_size: 16}}" if "discriminator" in has
              else "{name: critic, hidden_dim: 8, image_size: 16, norm: none}")
    data = (f"{{name: {names['dataset']}, size: 256, image_size: 16}}" if "dataset" in has
            else "{name: shapes, size: 256, image_size: 16}")
    files[f"{package}/recipes/{short}.yaml"] = textwrap.dedent(f"""\
        # {name}: its components trained together on 16 px images (a minute on a CPU)
        model: {{name: {names['model'] if 'model' in has else 'dcgan'}}}
        components:
          generator: {generator}
          critic: {critic}
        losses:
          adversarial: {{name: {names['loss'] if 'loss' in has else 'vanilla'}}}
        data: {data}
        optim:
          G: {{name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}}
          D: {{name: Adam, lr: 2.0e-4, betas: [0.5, 0.999]}}
        train: {{steps: 200, batch_size: 16, log_every: 20, sample_every: 100, checkpoint_every: 100}}
        """)
    datasets = f'    datasets={{"{names["dataset"]}": {{"size": 4, "image_size": 16}}}},\n' if "dataset" in has else ""
    files["tests/test_conformance.py"] = (
        '"""ganzoo\'s conformance kit: hooks and signatures, the dataset\'s items, a real 2-step run of the '
        'recipe."""\n\n'
        f"from pathlib import Path\n\nimport {package}\nfrom ganzoo.testing import conformance_tests\n\n"
        f'RECIPE = Path({package}.__file__).parent / "recipes" / "{short}.yaml"\n\n'
        f"test_conformance = conformance_tests(\n    {package},\n{datasets}"
        f'    recipes={{RECIPE: ["train.batch_size=4", "train.sample_count=4"]}},\n)\n')
    files["pyproject.toml"] = textwrap.dedent(f'''\
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "0.1.0"
        description = "{title}"
        requires-python = ">=3.10"
        dependencies = ["ganzoo"]

        [project.optional-dependencies]
        test = ["pytest>=7.4"]

        # what makes ganzoo find the components: an entry point in the `ganzoo` group
        [project.entry-points.ganzoo]
        {short} = "{package}"

        [tool.setuptools.packages.find]
        include = ["{package}*"]

        [tool.setuptools.package-data]
        {package} = ["recipes/*.yaml"]
        ''')
    files["README.md"] = textwrap.dedent(f"""\
        # {name}

        A ganzoo plugin ({', '.join(kinds)}), made by `ganzoo new-plugin`.

        ```bash
        pip install -e '.[test]'
        pytest                      # the conformance kit: hooks, signatures, dataset items, a 2-step run
        ganzoo plugins              # {name} 0.1.0 ... provides: ...
        ganzoo run {short}          # the recipe this package ships ({package}/recipes/{short}.yaml)
        ```

        Edit the components in `{package}/`; CONTRIBUTING.md in ganzoo explains each hook and the model contract.
        """)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return root
