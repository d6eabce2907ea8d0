"""Built-in metrics: L1, PSNR, SSIM on paired outputs; FID, KID, Inception Score, precision/recall on
distributions of images (Inception features)."""

from ganzoo import hookimpl

from .distribution import FID, KID, InceptionScore, PrecisionRecall
from .image import L1Error, PSNR, SSIM


@hookimpl
def register_metrics(register):
    register("l1", L1Error)
    register("psnr", PSNR)
    register("ssim", SSIM)
    register("fid", FID)
    register("kid", KID)
    register("inception_score", InceptionScore)
    register("precision_recall", PrecisionRecall)
