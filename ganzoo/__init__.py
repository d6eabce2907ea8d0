"""ganzoo: a plugin-based GAN zoo for PyTorch.

Public API: the :data:`hookimpl` marker and :func:`variant` for plugin authors, :class:`GANModel` and the loss
roles for training schemes, and :func:`build_registry`, :func:`load_recipe`, :func:`resolve`, :func:`train`
to run recipes from Python; :func:`load_trained` rebuilds a model from a checkpoint and :func:`save_samples`
writes a grid of named image columns (or a scatter of 2-D points). ``ganzoo.testing`` is the conformance kit.

    import ganzoo
    registry = ganzoo.build_registry()
    resolved = ganzoo.resolve(ganzoo.load_recipe("recipes/dcgan.yaml", ["train.steps=10"]), registry)
    result = ganzoo.train(resolved, registry, out="runs/mine")   # -> RunResult(run_dir, step, evaluation)
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from .hookspecs import hookimpl

__version__ = "0.1.0"


def variant(factory: Callable, doc: str, **params: Any) -> functools.partial:
    """A named variant of a component: ``factory`` with some parameters preset, and its own one-line doc.

    ``register("unet_256", variant(UNet, "U-Net with 8 downsamplings, for 256 px images", num_downs=8))``
    """
    p = functools.partial(factory, **params)
    p.__doc__ = doc
    return p


def __getattr__(name: str) -> Any:
    # Heavy modules (torch) load on first use so `ganzoo --help` and `ganzoo list` start fast.
    lazy = {
        "GANModel": ("model", "GANModel"),
        "Problem": ("model", "Problem"),
        "AdversarialLoss": ("losses", "AdversarialLoss"),
        "ReconstructionLoss": ("losses", "ReconstructionLoss"),
        "Penalty": ("losses", "Penalty"),
        "Loss": ("losses", "Loss"),
        "build_registry": ("registry", "build_registry"),
        "load_recipe": ("recipe", "load_recipe"),
        "resolve": ("resolve", "resolve"),
        "train": ("engine", "train"),
        "load_trained": ("trained", "load_trained"),
        "save_samples": ("report", "save_samples"),
    }
    if name in lazy:
        import importlib

        module, attr = lazy[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")


__all__ = ["hookimpl", "variant", "GANModel", "Problem", "AdversarialLoss", "ReconstructionLoss", "Penalty", "Loss",
           "build_registry", "load_recipe", "resolve", "train", "load_trained", "save_samples", "__version__"]
