"""ganzoo-example-plugin: registers a generator, a dataset and a recipe through ganzoo's hooks."""

from pathlib import Path

from ganzoo import hookimpl, variant

from .data import StripesPairs
from .networks import TinyTranslator


@hookimpl
def register_generators(register):
    register("tiny_translator", TinyTranslator)
    register("tiny_translator_wide", variant(TinyTranslator, "TinyTranslator with 32 feature channels", width=32))


@hookimpl
def register_datasets(register):
    register("stripes_pairs", StripesPairs)


@hookimpl
def register_recipes(register):
    # shipped inside the package (package data), so `ganzoo run example_pix2pix` works from an installed wheel
    register("example_pix2pix", Path(__file__).parent / "recipes" / "example_pix2pix.yaml")
