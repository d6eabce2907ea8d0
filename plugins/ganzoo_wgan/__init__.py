"""WGAN-GP and DCGAN: DCGAN-style generator and critic, InfoGAN networks for 28 px, MLPs for 2-D data, image and toy datasets."""

from ganzoo import hookimpl

from .fashion_mnist import FashionMNIST
from .folder import ImageFolder
from .infogan import InfoGANDiscriminator, InfoGANGenerator
from .mlp import MLPDiscriminator, MLPGenerator
from .models import DCGAN, WGANGP
from .networks import Critic, DCGANGenerator
from .shapes import Shapes
from .toy2d import Toy2D


@hookimpl
def register_generators(register):
    register("dcgan", DCGANGenerator)
    register("mlp", MLPGenerator)
    register("infogan", InfoGANGenerator)


@hookimpl
def register_discriminators(register):
    register("critic", Critic)
    register("mlp", MLPDiscriminator)
    register("infogan", InfoGANDiscriminator)


@hookimpl
def register_datasets(register):
    register("toy2d", Toy2D)
    register("shapes", Shapes)
    register("image_folder", ImageFolder)
    register("fashion_mnist", FashionMNIST)


@hookimpl
def register_models(register):
    register("wgan_gp", WGANGP)
    register("dcgan", DCGAN)
