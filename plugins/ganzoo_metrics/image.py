"""Per-sample image metrics. Inputs are batches in [-1, 1]; they are scored in [0, 1] (data range 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _unit(x: Tensor) -> Tensor:
    return (x.float().clamp(-1, 1) + 1) / 2


class L1Error:
    """Mean absolute error per sample, in [0, 1] pixel units (lower is better)."""

    higher_is_better = False

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        return (_unit(output) - _unit(target)).abs().flatten(1).mean(1)


class PSNR:
    """Peak signal-to-noise ratio per sample in dB, data range 1 (capped at 100 dB for identical images)."""

    higher_is_better = True

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        mse = (_unit(output) - _unit(target)).square().flatten(1).mean(1)
        return 10 * torch.log10(1.0 / mse.clamp_min(1e-10))


class SSIM:
    """Structural similarity per sample (Wang et al. 2004): Gaussian window 11, sigma 1.5, averaged over channels."""

    higher_is_better = True

    def __init__(self, *, window: int = 11, sigma: float = 1.5):
        self.window, self.sigma = window, sigma

    def _kernel(self, size: int, device: torch.device) -> Tensor:
        coords = torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2
        g = torch.exp(-(coords**2) / (2 * self.sigma**2))
        return g / g.sum()

    def __call__(self, output: Tensor, target: Tensor) -> Tensor:
        x, y = _unit(output), _unit(target)
        c = x.shape[1]
        size = min(self.window, x.shape[-1], x.shape[-2])
        size -= (size + 1) % 2  # odd
        g = self._kernel(size, x.device)
        kh = g.view(1, 1, size, 1).repeat(c, 1, 1, 1)
        kw = g.view(1, 1, 1, size).repeat(c, 1, 1, 1)

        def blur(t: Tensor) -> Tensor:
            return F.conv2d(F.conv2d(t, kh, groups=c), kw, groups=c)

        mu_x, mu_y = blur(x), blur(y)
        var_x = blur(x * x) - mu_x**2
        var_y = blur(y * y) - mu_y**2
        cov = blur(x * y) - mu_x * mu_y
        c1, c2 = 0.01**2, 0.03**2
        ssim = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
        return ssim.flatten(1).mean(1)
