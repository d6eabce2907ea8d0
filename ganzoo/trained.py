"""Load a trained model back from a checkpoint: the architecture comes from the checkpoint, never re-typed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import torch

from . import checkpoint
from .build import build_model
from .device import autocast_dtype
from .errors import CheckpointError, GanzooError
from .model import GANModel
from .recipe import apply_override, recipe_from_dict
from .registry import Registry
from .resolve import Resolved, resolve


@dataclass
class Trained:
    path: Path  # the checkpoint file
    state: dict[str, Any]
    resolved: Resolved
    model: GANModel

    @property
    def run_dir(self) -> Path | None:
        """The run directory holding this checkpoint, if it sits in one."""
        parent = self.path.parent
        root = parent.parent if parent.name == "checkpoints" else parent
        return root if (root / "recipe.yaml").exists() else None

    def shape(self, key: str | None = None) -> list[int] | None:
        shapes = self.state.get("sample_shapes") or {}
        if key in shapes:
            return shapes[key]
        return next((s for s in shapes.values() if len(s) == 3), None)


def load_trained(
    target: Path, registry: Registry, device: torch.device, overrides: Iterable[str] = (), use_ema: bool = True
) -> Trained:
    """Rebuild the model a checkpoint was trained with and load its weights (EMA weights where averaged)."""
    path = checkpoint.find(target)
    state = checkpoint.load(path, map_location="cpu")
    recipe = recipe_from_dict(state["recipe"], source=f"{path} (stored recipe)", name=state.get("recipe_name", "run"))
    for assignment in overrides:
        apply_override(recipe, assignment)
    resolved = resolve(recipe, registry)
    model = build_model(resolved)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored recipe: {str(exc).splitlines()[0]}") from None
    if use_ema and state.get("ema"):
        for slot, weights in state["ema"].items():
            getattr(model, slot).load_state_dict(weights)
    model.to(device).eval()
    return Trained(path, state, resolved, model)


def trained_dtype(trained: Trained, device: torch.device) -> torch.dtype | None:
    """Inference precision: the run's own setting where it applies on this device, else fp32."""
    try:
        return autocast_dtype(trained.resolved.train.precision, device)
    except GanzooError:
        return None
