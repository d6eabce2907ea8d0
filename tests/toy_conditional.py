"""A tiny class-conditional model plugin: labelled 8 px images, a generator and a discriminator that take labels,
and a training scheme that follows ganzoo's conditional convention and validates num_classes across components."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from ganzoo import GANModel, Problem, hookimpl
from ganzoo.losses import AdversarialLoss, real_scores


class Labelled(Dataset):
    """Images whose brightness encodes their class (class k: mean level -1 + 2k/(n-1)), with noise."""

    keys = ("x", "label")

    def __init__(self, *, split: str = "train", size: int = 12, num_classes: int = 3, image_size: int = 8):
        self.size, self.num_classes, self.image_size = size, num_classes, image_size
        self.class_names = [f"level{k}" for k in range(num_classes)]

    @classmethod
    def info(cls, *, num_classes: int = 3, **params) -> dict:
        """What ganzoo may know before building it (``Resolved.dataset_info``): classes and their names."""
        return {"num_classes": num_classes, "class_names": [f"level{k}" for k in range(num_classes)]}

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        label = i % self.num_classes
        level = -1 + 2 * label / max(1, self.num_classes - 1)
        n = self.image_size
        x = (torch.full((3, n, n), level) + 0.1 * torch.randn(3, n, n)).clamp(-1, 1)
        return {"x": x, "label": torch.tensor(label)}


class CondGenerator(nn.Module):
    """Noise and a class embedding -> an 8 px image."""

    def __init__(self, *, z_dim: int = 4, num_classes: int = 3):
        super().__init__()
        self.z_dim, self.num_classes = z_dim, num_classes
        self.embed = nn.Embedding(num_classes, z_dim)
        self.net = nn.Sequential(nn.Linear(2 * z_dim, 3 * 8 * 8), nn.Tanh())

    def forward(self, z: Tensor, labels: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.embed(labels)], 1)).view(-1, 3, 8, 8)


class CondDiscriminator(nn.Module):
    """A projection discriminator: a linear score plus the image's projection onto its class embedding."""

    def __init__(self, *, num_classes: int = 3, width: int = 8):
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, width), nn.LeakyReLU(0.2))
        self.score = nn.Linear(width, 1)
        self.embed = nn.Embedding(num_classes, width)

    def forward(self, x: Tensor, labels: Tensor) -> Tensor:
        h = self.features(x)
        return self.score(h).squeeze(1) + (self.embed(labels) * h).sum(1)


class CondGAN(GANModel):
    """Class-conditional GAN: G(z, y), D(x, y); generate(n, labels=...) draws samples of chosen classes."""

    component_slots = {"generator": "generator", "discriminator": "discriminator"}
    loss_slots = {"adversarial": AdversarialLoss}
    batch_keys = ("x", "label")
    optimizer_groups = {"G": ("generator",), "D": ("discriminator",)}
    loss_capabilities = ("pairwise",)
    conditional = True

    def __init__(self, generator: nn.Module, discriminator: nn.Module, adversarial: AdversarialLoss):
        super().__init__()
        self.generator, self.discriminator, self.adversarial = generator, discriminator, adversarial
        self.num_classes = generator.num_classes

    @classmethod
    def validate(cls, recipe) -> list[Problem]:
        classes = recipe.dataset_info.get("num_classes")
        return [Problem(f"components.{slot}.num_classes", f"the {slot} has {spec.params['num_classes']} classes, "
                        f"but dataset {recipe.data.name!r} has {classes}", hint=f"set it to {classes}")
                for slot, spec in recipe.components.items()
                if classes is not None and spec.params.get("num_classes") != classes]

    def generate(self, n: int, *, labels: Tensor | None = None, **conditions) -> Tensor:
        if labels is None:
            labels = torch.randint(self.num_classes, (n,), device=self.device)
        return self.generator(torch.randn(n, self.generator.z_dim, device=self.device), labels)

    def train_step(self, batch, optimizers, step):
        real, labels = batch["x"], batch["label"]
        fake = self.generate(len(real), labels=labels)
        d_real, d_fake = self.adversarial.discriminator_terms(self.discriminator(real, labels),
                                                              self.discriminator(fake.detach(), labels))
        optimizers.step("D", d_real + d_fake)
        g = self.adversarial.generator_term(self.discriminator(fake, labels),
                                            real_scores(self.adversarial, lambda: self.discriminator(real, labels)))
        optimizers.step("G", g)
        return {"D/real": d_real.detach(), "D/fake": d_fake.detach(), "G/adv": g.detach()}

    def sample(self, batch):
        g = torch.Generator().manual_seed(0)
        z = torch.randn(len(batch["x"]), self.generator.z_dim, generator=g).to(self.device)
        return {"real": batch["x"], "fake": self.generator(z, batch["label"])}


@hookimpl
def register_generators(register):
    register("cond_gen", CondGenerator)


@hookimpl
def register_discriminators(register):
    register("cond_disc", CondDiscriminator)


@hookimpl
def register_datasets(register):
    register("labelled", Labelled)


@hookimpl
def register_models(register):
    register("cond_gan", CondGAN)
