"""CycleGAN: ResNet generator, image pool, unpaired datasets, the CycleGAN training scheme."""

from ganzoo import hookimpl, variant

from .folders import UnalignedFolder
from .model import CycleGAN
from .networks import ResnetGenerator
from .synthetic import ShapesStripes


@hookimpl
def register_generators(register):
    register("resnet", ResnetGenerator)
    register("resnet_9blocks", variant(ResnetGenerator, "ResNet generator with 9 residual blocks, for 256 px images",
                                       n_blocks=9))
    register("resnet_6blocks", variant(ResnetGenerator, "ResNet generator with 6 residual blocks, for 128 px images",
                                       n_blocks=6))


@hookimpl
def register_datasets(register):
    register("unaligned_folder", UnalignedFolder)
    register("shapes2stripes", ShapesStripes)


@hookimpl
def register_models(register):
    register("cyclegan", CycleGAN)
