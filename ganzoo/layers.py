"""Small building blocks shared by network plugins: normalisation layers by name, weight initialisation."""

from __future__ import annotations

from typing import Literal

from torch import nn

Norm = Literal["batch", "instance", "layer", "none"]
Init = Literal["normal", "xavier", "kaiming", "orthogonal"]


def norm_layer(kind: Norm, channels: int) -> nn.Module:
    """A 2-D normalisation layer by name.

    ``instance`` has no affine parameters and no running statistics (as in pix2pix/CycleGAN); ``layer``
    normalises each sample over (C, H, W) with per-channel affine parameters (GroupNorm with one group), which
    keeps samples independent, as the WGAN-GP gradient penalty requires.
    """
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}: batch, instance, layer or none")


def uses_bias(kind: Norm) -> bool:
    """A convolution followed by batch norm needs no bias (the norm's shift replaces it)."""
    return kind != "batch"


def init_weights(module: nn.Module, scheme: Init = "normal", gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights by ``scheme`` (biases to 0) and batch/group-norm scales; returns ``module``.

    ``normal`` is N(0, gain) for weights and N(1, gain) for norm scales: the pix2pix/CycleGAN/DCGAN papers'
    choice with gain 0.02. ``xavier`` and ``orthogonal`` read ``gain`` as their scaling factor (about 1) and
    ``kaiming`` ignores it, so with them norm scales get N(1, 0.02), not N(1, gain) (with gain 1 that would
    flip the sign of about 16% of the channels).

    Call it before ``torch.nn.utils.spectral_norm`` (or ``parametrizations.spectral_norm``): afterwards the
    module's ``weight`` is computed from ``weight_orig`` and is not the tensor to initialise.
    """
    norm_std = gain if scheme == "normal" else 0.02

    def apply(m: nn.Module) -> None:
        name = type(m).__name__
        weight = getattr(m, "weight", None)
        if weight is not None and ("Conv" in name or "Linear" in name):
            if scheme == "normal":
                nn.init.normal_(weight, 0.0, gain)
            elif scheme == "xavier":
                nn.init.xavier_normal_(weight, gain=gain)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(weight, a=0, mode="fan_in")
            elif scheme == "orthogonal":
                nn.init.orthogonal_(weight, gain=gain)
            else:
                raise ValueError(f"unknown init {scheme!r}: normal, xavier, kaiming or orthogonal")
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif weight is not None and ("BatchNorm" in name or "GroupNorm" in name) and m.affine:
            nn.init.normal_(weight, 1.0, norm_std)
            nn.init.zeros_(m.bias)

    module.apply(apply)
    return module
