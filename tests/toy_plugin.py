"""A tiny model plugin that drives the engine in tests (8 px images, a few hundred parameters)."""

from __future__ import annotations

import os
from typing import Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from ganzoo import GANModel, hookimpl
from ganzoo.errors import SplitNotFound
from ganzoo.losses import AdversarialLoss, ReconstructionLoss


class ToyGenerator(nn.Module):
    """Two 3x3 convolutions, Tanh."""

    def __init__(self, *, channels: int = 3, width: int = 4, norm: Literal["batch", "none"] = "none",
                 dropout: float = 0.2):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width) if norm == "batch" else nn.Identity(),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, x):
        return self.net(x)


class ToyDiscriminator(nn.Module):
    """One strided convolution, a score map."""

    def __init__(self, *, channels: int = 6, width: int = 4):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(width, 1, 3, 1, 1))

    def forward(self, x):
        return self.net(x)


class ToyPairs(Dataset):
    """Random paired images (B = flipped, brightened A) with a random-flip augmentation."""

    keys = ("A", "B")

    def __init__(self, *, split: str = "train", size: int = 16, image_size: int = 8, has_test: bool = True):
        if split == "test" and not has_test:
            raise SplitNotFound("no test split")
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        self.a = torch.rand(size, 3, image_size, image_size, generator=g) * 2 - 1
        self.train = split == "train"

    def __len__(self):
        return len(self.a)

    def __getitem__(self, i):
        a = self.a[i]
        b = (a.flip(-2) * 0.5 + 0.3).clamp(-1, 1)
        if self.train and torch.rand(()) < 0.5:
            a, b = a.flip(-1), b.flip(-1)
        return {"A": a, "B": b}


class ToyGAN(GANModel):
    """A pix2pix-shaped toy: conditional D on (A, B), G with adversarial + reconstruction loss."""

    component_slots = {"generator": "generator", "discriminator": "discriminator"}
    loss_slots = {"adversarial": AdversarialLoss, "reconstruction": ReconstructionLoss}
    batch_keys = ("A", "B")
    optimizer_groups = {"G": ("generator",), "D": ("discriminator",)}
    directions = ("AtoB",)

    def __init__(self, generator, discriminator, adversarial, reconstruction, *, nan_at: int = 0,
                 d_steps: int = 1, fail_on_rank: int = -1, nan_grad_at: int = 0, nan_from: int = 0):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator
        self.adversarial, self.reconstruction = adversarial, reconstruction
        self.nan_at = nan_at
        self.batches_per_step = d_steps
        self.fail_on_rank = fail_on_rank
        self.nan_grad_at = nan_grad_at  # this step's G loss is finite but its gradients are NaN
        self.nan_from = nan_from  # every G loss from this step on is NaN (a diverged run)

    def train_step(self, batch, optimizers, step):
        if self.fail_on_rank >= 0 and int(os.environ.get("RANK", "0")) == self.fail_on_rank and step == 1:
            raise RuntimeError(f"simulated failure on rank {self.fail_on_rank}")
        a_all, b_all = batch["A"], batch["B"]
        d_losses = []
        for a, b in zip(a_all.chunk(self.batches_per_step), b_all.chunk(self.batches_per_step)):
            fake = self.generator(a)
            d = 0.5 * (self.adversarial.real(self.discriminator(torch.cat([a, b], 1)))
                       + self.adversarial.fake(self.discriminator(torch.cat([a, fake.detach()], 1))))
            optimizers.step("D", d)
            d_losses.append(d.detach())
        g_adv = self.adversarial.generator(self.discriminator(torch.cat([a, fake], 1)))
        g_rec = self.reconstruction(fake, b)
        g = g_adv + self.reconstruction.weight * g_rec
        if (self.nan_at and step + 1 == self.nan_at) or (self.nan_from and step + 1 >= self.nan_from):
            g = g * float("nan")
        if self.nan_grad_at and step + 1 == self.nan_grad_at:
            # sqrt'(0) is infinite: the term adds 0 to the loss and NaN to every gradient of the generator
            g = g + torch.sqrt(sum(p.sum() for p in self.generator.parameters()) * 0)
        optimizers.step("G", g)
        return {"D/loss": torch.stack(d_losses).mean(), "G/adv": g_adv.detach(), "G/rec": g_rec.detach()}

    def sample(self, batch):
        return {"input": batch["A"], "output": self.generator(batch["A"]), "target": batch["B"]}

    def translate(self, images, direction):
        return self.generator(images)

    def evaluation_pairs(self, batch):
        return {"AtoB": (self.generator(batch["A"]), batch["B"])}


@hookimpl
def register_generators(register):
    register("toy_gen", ToyGenerator)


@hookimpl
def register_discriminators(register):
    register("toy_disc", ToyDiscriminator)


@hookimpl
def register_datasets(register):
    register("toy_pairs", ToyPairs)


@hookimpl
def register_models(register):
    register("toy_gan", ToyGAN)
