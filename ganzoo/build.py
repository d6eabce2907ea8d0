"""Build what a resolved recipe describes: components, losses, the model, dataset splits; check contracts."""

from __future__ import annotations

import itertools
import os
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from .contract import refuse_own_optimizers
from .data import dataset_keys
from .device import preserved_rng
from .errors import GanzooError, RecipeError, SplitNotFound
from .model import GANModel
from .resolve import Resolved, Spec


def _build(resolved: Resolved, path: str, spec: Spec, **extra: Any) -> Any:
    try:
        return spec.build(**extra)
    except RecipeError as exc:
        if exc.where is None:  # a plugin's own recipe error: point at the component's line like ganzoo's own
            exc.where = resolved.recipe.where(path)
        raise
    except GanzooError:
        raise
    except ValueError as exc:  # factories reject inconsistent parameter combinations with ValueError
        raise resolved.recipe.error(path, f"{spec.name}: {exc}") from None
    except (RuntimeError, OverflowError, MemoryError) as exc:  # sizes torch cannot make: negative, absurd
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise resolved.recipe.error(path, f"{spec.name} cannot be built: {first[:300]}",
                                    hint="check its sizes (channels, layers, image size)") from None


def physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_fits(resolved: Resolved, path: str, spec: Spec) -> None:
    """Build the component on the meta device (no memory, no initialisation) and refuse it when its weights
    alone exceed this machine's memory: allocating them could end in the kernel's OOM killer, not an error."""
    memory = physical_memory()
    if memory is None:
        return
    try:
        with preserved_rng(torch.device("cpu")), torch.device("meta"):
            module = spec.build()
    except Exception:  # noqa: BLE001 - the real build reports whatever this is
        return
    if not isinstance(module, nn.Module):
        return
    nbytes = sum(t.numel() * t.element_size() for t in itertools.chain(module.parameters(), module.buffers()))
    if nbytes > memory:
        raise resolved.recipe.error(path, f"{spec.name} needs {nbytes / 2**30:,.0f} GiB for its weights alone, more "
                                    f"than this machine's {memory / 2**30:,.0f} GiB of memory",
                                    hint="check its sizes (channels, layers, image size)")


def build_model(resolved: Resolved) -> GANModel:
    """Instantiate every component and loss, then the model that holds them."""
    for slot, spec in resolved.components.items():
        _check_fits(resolved, f"components.{slot}", spec)
    parts = {slot: _build(resolved, f"components.{slot}", spec) for slot, spec in resolved.components.items()}
    for slot, module in parts.items():
        if not isinstance(module, nn.Module):
            raise RecipeError(f"{resolved.components[slot].name} did not build a torch.nn.Module "
                              f"(got {type(module).__name__})", where=resolved.recipe.where(f"components.{slot}"))
    parts |= {slot: _build(resolved, f"losses.{slot}", spec) for slot, spec in resolved.losses.items()}
    model = _build(resolved, "model", resolved.model, **parts)
    refuse_own_optimizers(model, resolved.model.name)
    return model


def build_dataset(resolved: Resolved, split: str = "train") -> Dataset:
    return _build(resolved, "data", resolved.data, split=split)


def build_optional_split(resolved: Resolved, split: str) -> Dataset | None:
    """A split the dataset may not have (``test``): None when it has not."""
    try:
        return build_dataset(resolved, split)
    except SplitNotFound:
        return None


def check_batch_keys(resolved: Resolved, dataset: Dataset) -> None:
    """The dataset must provide every key the model reads."""
    wanted = resolved.model_class.batch_keys
    have = dataset_keys(dataset)
    missing = [k for k in wanted if k not in have]
    if missing:
        raise resolved.recipe.error(
            "data.name",
            f"dataset {resolved.data.name!r} provides {list(have)}, but model {resolved.model.name!r} "
            f"reads {list(wanted)} (missing {missing})",
            hint="choose a dataset of the model's kind (see `ganzoo list dataset`)",
        )


def parameter_counts(model: GANModel) -> dict[str, int]:
    return {slot: sum(p.numel() for p in getattr(model, slot).parameters()) for slot in model.component_slots}
