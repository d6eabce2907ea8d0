"""Build what a resolved recipe describes: components, losses, the model, dataset splits; check contracts."""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.utils.data import Dataset

from .data import dataset_keys
from .errors import GanzooError, RecipeError, SplitNotFound
from .model import GANModel
from .resolve import Resolved, Spec


def _build(resolved: Resolved, path: str, spec: Spec, **extra: Any) -> Any:
    try:
        return spec.build(**extra)
    except GanzooError:
        raise
    except ValueError as exc:  # factories reject inconsistent parameter combinations with ValueError
        raise resolved.recipe.error(path, f"{spec.name}: {exc}") from None


def build_model(resolved: Resolved) -> GANModel:
    """Instantiate every component and loss, then the model that holds them."""
    parts = {slot: _build(resolved, f"components.{slot}", spec) for slot, spec in resolved.components.items()}
    for slot, module in parts.items():
        if not isinstance(module, nn.Module):
            raise RecipeError(f"{resolved.components[slot].name} did not build a torch.nn.Module "
                              f"(got {type(module).__name__})", where=resolved.recipe.where(f"components.{slot}"))
    parts |= {slot: _build(resolved, f"losses.{slot}", spec) for slot, spec in resolved.losses.items()}
    return _build(resolved, "model", resolved.model, **parts)


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
