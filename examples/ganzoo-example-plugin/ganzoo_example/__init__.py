"""ganzoo-example-plugin: registers one generator and one dataset through ganzoo's hooks."""

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
