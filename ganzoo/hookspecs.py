"""The plugin contract: one hook per component kind.

A plugin is a module (or object) listed under the ``ganzoo`` entry-point group that implements some of
these hooks, marked with :data:`ganzoo.hookimpl`. Each hook receives a ``register(name, factory)``
callback; call it once per component. The factory is called with the recipe's parameters as keyword
arguments, so its signature (keyword parameters with defaults and type annotations) is the component's
schema: ``ganzoo`` validates recipes against it and ``ganzoo list KIND NAME`` documents it.

These hook names are ganzoo's public plugin API and stay stable.
"""

from __future__ import annotations

from typing import Callable

import pluggy

PROJECT = "ganzoo"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: ``register(name, factory)``: add one component under ``name``.
Register = Callable[..., None]


@hookspec
def register_generators(register: Register) -> None:
    """Register generator networks.

    ``factory(**params) -> torch.nn.Module``. A generator maps its input (an image for translation models,
    a latent vector for unconditional ones) to an output in [-1, 1] (images) or to data space (2-D points).
    Named variants are partials: ``register("unet_256", ganzoo.variant(UNet, "U-Net for 256 px", num_downs=8))``.
    """


@hookspec
def register_discriminators(register: Register) -> None:
    """Register discriminators and critics.

    ``factory(**params) -> torch.nn.Module`` returning raw scores (logits), one map or one value per sample;
    the adversarial loss decides how to read them.
    """


@hookspec
def register_losses(register: Register) -> None:
    """Register loss terms.

    ``factory(**params)`` returns an instance of one of the loss roles in :mod:`ganzoo.losses`
    (:class:`~ganzoo.losses.AdversarialLoss`, :class:`~ganzoo.losses.ReconstructionLoss`,
    :class:`~ganzoo.losses.Penalty`); a model's loss slot names the role it accepts. Every loss takes a
    ``weight: float`` parameter, which the model multiplies in.
    """


@hookspec
def register_datasets(register: Register) -> None:
    """Register datasets.

    ``factory(*, split: str = "train", **params) -> torch.utils.data.Dataset`` whose items are dicts of
    tensors (images in [-1, 1], CHW). The dataset declares the keys it yields in a ``keys`` attribute
    (e.g. ``("A", "B")``). Raise :class:`ganzoo.errors.SplitNotFound` for a split it does not have, and
    :class:`ganzoo.errors.DataError` for unreadable input, with the path and the layout expected.
    """


@hookspec
def register_models(register: Register) -> None:
    """Register training schemes (pix2pix, CycleGAN, WGAN-GP, ...).

    ``factory`` is a :class:`ganzoo.GANModel` subclass. It declares its component slots, loss slots,
    batch keys and optimizer groups, and implements ``train_step`` and ``sample``; see
    :class:`ganzoo.GANModel`. Its keyword-only constructor parameters are the recipe's ``model:`` options.
    """


@hookspec
def register_metrics(register: Register) -> None:
    """Register evaluation metrics: paired (per sample) or distribution (on Inception features).

    Paired: ``factory(**params)`` returns a callable ``metric(output, target) -> Tensor`` giving one value per
    sample for image batches in [-1, 1]. Its ``higher_is_better`` attribute (default True) orders tables.
    ``ganzoo eval`` averages each metric over a model's ``evaluation_pairs`` on the test split.

    Distribution: the instance declares ``features`` (``"pool"``: TF Inception's 2048-d pool3, or
    ``"logits"``), ``outputs`` (output name -> higher is better, None for unranked values such as a std) and
    ``min_samples``; ``metric(generated, real) -> dict[str, float]`` compares two feature matrices (``real`` is
    None when ``needs_real = False``). It raises ``ValueError`` when it cannot be computed and warns
    (``warnings.warn``) where a value is biased; ganzoo reports both. Used by ``ganzoo eval --metrics`` and
    ``train.eval_metrics`` on a model's ``generated_images``.
    """


@hookspec
def register_recipes(register: Register) -> None:
    """Register recipes shipped inside the package: ``register(name, path)`` with the path of a YAML recipe
    (e.g. ``pathlib.Path(__file__).parent / "recipes" / "mine.yaml"``; list it as package data so wheels carry
    it). ``ganzoo run NAME`` (or ``ganzoo run DIST:NAME``) runs it once the package is installed, and
    ``ganzoo list recipe`` shows it with its provider. The recipe's first comment line is its summary.
    """


#: Component kinds, in display order, and the hook that registers each.
KINDS: dict[str, str] = {
    "generator": "register_generators",
    "discriminator": "register_discriminators",
    "loss": "register_losses",
    "dataset": "register_datasets",
    "model": "register_models",
    "metric": "register_metrics",
}

#: The hook that registers recipes (not a component kind: a recipe names components, it is not one).
RECIPE_HOOK = "register_recipes"
#: Every hook a plugin may implement.
HOOKS: tuple[str, ...] = (*KINDS.values(), RECIPE_HOOK)
