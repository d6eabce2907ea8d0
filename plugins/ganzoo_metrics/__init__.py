"""Built-in metrics for paired image outputs: L1, PSNR, SSIM (on images mapped to [0, 1])."""

from ganzoo import hookimpl

from .image import L1Error, PSNR, SSIM


@hookimpl
def register_metrics(register):
    register("l1", L1Error)
    register("psnr", PSNR)
    register("ssim", SSIM)
