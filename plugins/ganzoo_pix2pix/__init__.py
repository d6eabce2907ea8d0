"""pix2pix: U-Net generator, PatchGAN discriminator, paired datasets, the pix2pix training scheme."""

from ganzoo import hookimpl, variant

from .facades import FacadesSynthetic
from .folders import AlignedFolder, PairedFolders
from .model import Pix2Pix
from .patchgan import PatchGAN, PixelGAN
from .unet import UNet


@hookimpl
def register_generators(register):
    register("unet", UNet)
    register("unet_256", variant(UNet, "pix2pix U-Net with 8 downsamplings, for 256 px images", num_downs=8))
    register("unet_128", variant(UNet, "pix2pix U-Net with 7 downsamplings, for 128 px images", num_downs=7))


@hookimpl
def register_discriminators(register):
    register("patchgan", PatchGAN)
    register("pixel", PixelGAN)


@hookimpl
def register_datasets(register):
    register("facades_synthetic", FacadesSynthetic)
    register("aligned_folder", AlignedFolder)
    register("paired_folders", PairedFolders)


@hookimpl
def register_models(register):
    register("pix2pix", Pix2Pix)
