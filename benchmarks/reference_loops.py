"""Plain eager PyTorch training steps, written the way users train these models today: the speed baselines.

- pix2pix and CycleGAN mirror the widely used pytorch-CycleGAN-and-pix2pix code: its networks (U-Net of
  nested skip blocks, ResNet with 9 residual blocks, n_layers=3 PatchGAN; batch norm for pix2pix, instance
  norm without affine for CycleGAN; N(0, 0.02) init) and its ``optimize_parameters``: G forward once,
  ``set_requires_grad`` on the discriminators, D backward on ``fake.detach()`` and real halved, G backward,
  default Adam(2e-4, (0.5, 0.999)), NCHW fp32, ``cudnn.benchmark`` on CUDA.
- WGAN-GP mirrors the notes the project started from (their ``gen_block`` generator and ``crit_block``
  critic with batch norm) and the course loop they come from: 5 critic steps per generator step, each with
  fresh noise and (as WGAN-GP prescribes) a fresh real batch, the gradient penalty via ``autograd.grad`` with
  ``create_graph``, ``.item()`` on every loss, then one generator step.

The networks are defined here, not taken from ganzoo's plugins, so that these loops measure what users run
today whatever ganzoo's networks become; the harness prints both parameter counts to show they match.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from typing import Callable, Iterator

import torch
from torch import Tensor, nn

Batches = Iterator[dict[str, Tensor]]


@dataclass
class PlainLoop:
    """One workload's reference training step, ready to call."""

    step: Callable[[], None]
    samples_per_step: int  # real samples consumed by one step
    parameters: dict[str, int]  # network name -> parameter count


def count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def init_normal(net: nn.Module, gain: float = 0.02, norm_mean: float = 1.0) -> nn.Module:
    """The reference init: N(0, gain) conv weights, zero biases; batch-norm scales N(norm_mean, gain)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, norm_mean, gain)
            nn.init.zeros_(m.bias)
    return net


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad = flag


BATCH_NORM = functools.partial(nn.BatchNorm2d, affine=True)
INSTANCE_NORM = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)


def _bias(norm: Callable[[int], nn.Module]) -> bool:
    return norm is INSTANCE_NORM  # batch norm has its own shift: the conv before it goes without bias


# pix2pix / CycleGAN networks -------------------------------------------------------------------------------
class UnetSkipBlock(nn.Module):
    """One U-Net level around ``submodule``: [LeakyReLU, conv down, norm] sub [ReLU, deconv up, norm, dropout].

    Returns ``cat([x, up])`` except at the outermost level; the in-place LeakyReLU activates ``x`` before it
    is concatenated, as in the reference.
    """

    def __init__(self, outer: int, inner: int, *, input_nc: int | None = None, submodule: nn.Module | None = None,
                 outermost: bool = False, innermost: bool = False, norm=BATCH_NORM, dropout: bool = False):
        super().__init__()
        self.outermost = outermost
        bias = _bias(norm)
        down_conv = nn.Conv2d(input_nc or outer, inner, 4, 2, 1, bias=bias)
        if outermost:
            layers = [down_conv, submodule, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), down_conv,
                      nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), norm(outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down_conv, norm(inner), submodule,
                      nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias), norm(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def unet(input_nc: int = 3, output_nc: int = 3, num_downs: int = 8, ngf: int = 64, norm=BATCH_NORM,
         dropout: bool = True) -> nn.Module:
    """unet_256 for num_downs 8: built from the innermost block outwards."""
    block = UnetSkipBlock(ngf * 8, ngf * 8, innermost=True, norm=norm)
    for _ in range(num_downs - 5):
        block = UnetSkipBlock(ngf * 8, ngf * 8, submodule=block, norm=norm, dropout=dropout)
    for mult in (4, 2, 1):
        block = UnetSkipBlock(ngf * mult, ngf * mult * 2, submodule=block, norm=norm)
    return UnetSkipBlock(output_nc, ngf, input_nc=input_nc, submodule=block, outermost=True, norm=norm)


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, norm, bias: bool):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=bias), norm(dim),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv_block(x)


def resnet_generator(input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                     norm=INSTANCE_NORM) -> nn.Module:
    """resnet_9blocks: 7x7 conv, two stride-2 convs, residual blocks, two stride-2 deconvs, 7x7 conv, Tanh."""
    bias = _bias(norm)
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), norm(ngf), nn.ReLU(True)]
    for mult in (1, 2):
        layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, 2, 1, bias=bias), norm(ngf * mult * 2), nn.ReLU(True)]
    layers += [ResnetBlock(ngf * 4, norm, bias) for _ in range(n_blocks)]
    for mult in (4, 2):
        layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, 2, 1, output_padding=1, bias=bias),
                   norm(ngf * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patchgan(input_nc: int, ndf: int = 64, n_layers: int = 3, norm=BATCH_NORM) -> nn.Module:
    """The n_layers=3 PatchGAN: 70x70 receptive field, a map of logits."""
    bias = _bias(norm)
    layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    width = ndf
    for n in range(1, n_layers + 1):
        wider = ndf * min(2**n, 8)
        layers += [nn.Conv2d(width, wider, 4, 2 if n < n_layers else 1, 1, bias=bias), norm(wider),
                   nn.LeakyReLU(0.2, True)]
        width = wider
    layers.append(nn.Conv2d(width, 1, 4, 1, 1))
    return nn.Sequential(*layers)


class GANLoss(nn.Module):
    """The reference's GAN loss: the criterion against a constant target of the prediction's shape."""

    def __init__(self, mode: str):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(1.0))
        self.register_buffer("fake_label", torch.tensor(0.0))
        self.loss = nn.MSELoss() if mode == "lsgan" else nn.BCEWithLogitsLoss()

    def forward(self, prediction: Tensor, target_is_real: bool) -> Tensor:
        target = self.real_label if target_is_real else self.fake_label
        return self.loss(prediction, target.expand_as(prediction))


class ImagePool:
    """History of generated images: once full, each query returns a stored image half of the time."""

    def __init__(self, size: int = 50):
        self.size, self.images = size, []

    def query(self, images: Tensor) -> Tensor:
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def _adam(params) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


def pix2pix(batches: Batches, device: torch.device) -> PlainLoop:
    """pix2pix: unet_256 (batch norm, dropout) + 70x70 PatchGAN on (A, B) pairs, vanilla GAN + 100 x L1."""
    net_g = init_normal(unet()).to(device)
    net_d = init_normal(patchgan(6)).to(device)
    criterion_gan, criterion_l1 = GANLoss("vanilla").to(device), nn.L1Loss()
    opt_g, opt_d = _adam(net_g.parameters()), _adam(net_d.parameters())

    def step() -> None:
        batch = next(batches)
        real_a, real_b = batch["A"].to(device), batch["B"].to(device)
        fake_b = net_g(real_a)
        set_requires_grad([net_d], True)
        opt_d.zero_grad()
        loss_d_fake = criterion_gan(net_d(torch.cat((real_a, fake_b), 1).detach()), False)
        loss_d_real = criterion_gan(net_d(torch.cat((real_a, real_b), 1)), True)
        ((loss_d_fake + loss_d_real) * 0.5).backward()
        opt_d.step()
        set_requires_grad([net_d], False)
        opt_g.zero_grad()
        loss_g_gan = criterion_gan(net_d(torch.cat((real_a, fake_b), 1)), True)
        loss_g_l1 = criterion_l1(fake_b, real_b) * 100.0
        (loss_g_gan + loss_g_l1).backward()
        opt_g.step()

    return PlainLoop(step, len(next(batches)["A"]), {"unet_256": count(net_g), "patchgan": count(net_d)})


def cyclegan(batches: Batches, device: torch.device) -> PlainLoop:
    """CycleGAN: two resnet_9blocks and two PatchGANs (instance norm), LSGAN, cycle x10, identity 0.5 x 10."""
    g_a, g_b = (init_normal(resnet_generator()).to(device) for _ in range(2))
    d_a, d_b = (init_normal(patchgan(3, norm=INSTANCE_NORM)).to(device) for _ in range(2))
    criterion_gan, criterion_l1 = GANLoss("lsgan").to(device), nn.L1Loss()
    opt_g = _adam(itertools.chain(g_a.parameters(), g_b.parameters()))
    opt_d = _adam(itertools.chain(d_a.parameters(), d_b.parameters()))
    pool_a, pool_b = ImagePool(50), ImagePool(50)
    lambda_a = lambda_b = 10.0
    lambda_idt = 0.5

    def backward_d(net_d: nn.Module, real: Tensor, fake: Tensor) -> None:
        loss_real = criterion_gan(net_d(real), True)
        loss_fake = criterion_gan(net_d(fake.detach()), False)
        ((loss_real + loss_fake) * 0.5).backward()

    def step() -> None:
        batch = next(batches)
        real_a, real_b = batch["A"].to(device), batch["B"].to(device)
        fake_b = g_a(real_a)
        rec_a = g_b(fake_b)
        fake_a = g_b(real_b)
        rec_b = g_a(fake_a)
        set_requires_grad([d_a, d_b], False)
        opt_g.zero_grad()
        loss_idt_a = criterion_l1(g_a(real_b), real_b) * lambda_b * lambda_idt
        loss_idt_b = criterion_l1(g_b(real_a), real_a) * lambda_a * lambda_idt
        loss_g_a = criterion_gan(d_a(fake_b), True)
        loss_g_b = criterion_gan(d_b(fake_a), True)
        loss_cycle_a = criterion_l1(rec_a, real_a) * lambda_a
        loss_cycle_b = criterion_l1(rec_b, real_b) * lambda_b
        (loss_g_a + loss_g_b + loss_cycle_a + loss_cycle_b + loss_idt_a + loss_idt_b).backward()
        opt_g.step()
        set_requires_grad([d_a, d_b], True)
        opt_d.zero_grad()
        backward_d(d_a, real_b, pool_b.query(fake_b))
        backward_d(d_b, real_a, pool_a.query(fake_a))
        opt_d.step()

    params = {"G_A (resnet_9blocks)": count(g_a), "G_B": count(g_b), "D_A (patchgan)": count(d_a), "D_B": count(d_b)}
    return PlainLoop(step, len(next(batches)["A"]), params)


# WGAN-GP, from the notes -----------------------------------------------------------------------------------
def gen_block(in_channels: int, out_channels: int, padding: int = 1, final_layer: bool = False) -> nn.Sequential:
    if final_layer:
        return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, 2, padding), nn.Tanh())
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, 2, padding),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class NotesGenerator(nn.Module):
    """(N, z_dim) noise -> 64x64 images: 1 -> 4 -> 8 -> 16 -> 32 -> 64 px."""

    def __init__(self, z_dim: int = 10, im_chan: int = 3, hidden_dim: int = 32):
        super().__init__()
        self.z_dim = z_dim
        h = hidden_dim
        self.gen = nn.Sequential(gen_block(z_dim, h * 8, padding=0), gen_block(h * 8, h * 4), gen_block(h * 4, h * 2),
                                 gen_block(h * 2, h), gen_block(h, im_chan, final_layer=True))

    def forward(self, noise: Tensor) -> Tensor:
        return self.gen(noise.view(len(noise), self.z_dim, 1, 1))


def crit_block(in_channels: int, out_channels: int, final_layer: bool = False) -> nn.Sequential:
    if final_layer:
        return nn.Sequential(nn.Conv2d(in_channels, out_channels, 4, 2, 1))
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 4, 2, 1), nn.BatchNorm2d(out_channels),
                         nn.LeakyReLU(0.2, inplace=True))


class NotesCritic(nn.Module):
    """64x64 images -> a 2x2 map of scores per image, flattened."""

    def __init__(self, im_chan: int = 3, hidden_dim: int = 16):
        super().__init__()
        h = hidden_dim
        self.crit = nn.Sequential(crit_block(im_chan, h), crit_block(h, h * 2), crit_block(h * 2, h * 4),
                                  crit_block(h * 4, h * 8), crit_block(h * 8, 1, final_layer=True))

    def forward(self, image: Tensor) -> Tensor:
        pred = self.crit(image)
        return pred.view(len(pred), -1)


def get_gradient(crit: nn.Module, real: Tensor, fake: Tensor, epsilon: Tensor) -> Tensor:
    mixed_images = real * epsilon + fake * (1 - epsilon)
    mixed_scores = crit(mixed_images)
    return torch.autograd.grad(inputs=mixed_images, outputs=mixed_scores, grad_outputs=torch.ones_like(mixed_scores),
                               create_graph=True, retain_graph=True)[0]


def gradient_penalty(gradient: Tensor) -> Tensor:
    norm = gradient.view(len(gradient), -1).norm(2, dim=1)
    return torch.mean((norm - 1) ** 2)


def wgan_gp(batches: Batches, device: torch.device, *, z_dim: int = 10, crit_repeats: int = 5,
            c_lambda: float = 10.0) -> PlainLoop:
    """The notes' WGAN-GP: generator (z_dim 10, hidden 32) and critic (hidden 16) at 64x64, 5 critic steps."""
    gen = init_normal(NotesGenerator(z_dim), norm_mean=0.0).to(device)
    crit = init_normal(NotesCritic(), norm_mean=0.0).to(device)
    gen_opt, crit_opt = _adam(gen.parameters()), _adam(crit.parameters())

    def step() -> None:
        mean_critic_loss = 0.0
        for _ in range(crit_repeats):
            real = next(batches)["x"].to(device)
            n = len(real)
            crit_opt.zero_grad()
            fake = gen(torch.randn(n, z_dim, device=device))
            crit_fake_pred = crit(fake.detach())
            crit_real_pred = crit(real)
            epsilon = torch.rand(n, 1, 1, 1, device=device, requires_grad=True)
            gp = gradient_penalty(get_gradient(crit, real, fake.detach(), epsilon))
            crit_loss = torch.mean(crit_fake_pred) - torch.mean(crit_real_pred) + c_lambda * gp
            mean_critic_loss += crit_loss.item() / crit_repeats
            crit_loss.backward(retain_graph=True)
            crit_opt.step()
        gen_opt.zero_grad()
        gen_loss = -torch.mean(crit(gen(torch.randn(n, z_dim, device=device))))
        gen_loss.backward()
        gen_opt.step()
        gen_loss.item()

    return PlainLoop(step, crit_repeats * len(next(batches)["x"]), {"generator": count(gen), "critic": count(crit)})


LOOPS: dict[str, Callable[[Batches, torch.device], PlainLoop]] = {
    "pix2pix": pix2pix, "cyclegan": cyclegan, "wgan_gp": wgan_gp,
}


def build(name: str, batches: Batches, device: torch.device) -> PlainLoop:
    """The plain loop of a built-in workload; on CUDA the image-translation code turns on cudnn.benchmark."""
    if device.type == "cuda" and name in ("pix2pix", "cyclegan"):
        torch.backends.cudnn.benchmark = True
    return LOOPS[name](batches, device)
