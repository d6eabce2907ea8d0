"""``train.init_from: CKPT``: a new run starts from another checkpoint's weights (an imported reference model, a
finished run), while optimizers, learning-rate schedule, step and random streams start fresh (fine-tuning)."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from . import checkpoint
from .errors import CheckpointError
from .keymap import shape_text


def init_from(model: nn.Module, target: str | Path) -> str:
    """Load the weights of the checkpoint at ``target`` (file or run directory) into ``model``; return a log line."""
    path = checkpoint.find(Path(target))
    state = checkpoint.load(path, map_location="cpu")
    theirs, ours = state["model"], model.state_dict()
    where = f"train.init_from {path}"
    hint = "the checkpoint's recipe must build the same components (compare `ganzoo run --dry-run` of both)"
    for key, value in ours.items():
        if key not in theirs:
            raise CheckpointError(f"{where}: no weights for {key} {shape_text(value.shape)}", hint=hint)
        if theirs[key].shape != value.shape:
            raise CheckpointError(f"{where}: {key} has shape {shape_text(theirs[key].shape)}, this recipe's {shape_text(value.shape)}",
                                  hint=hint)
    unknown = sorted(set(theirs) - set(ours))
    if unknown:
        raise CheckpointError(f"{where}: {unknown[0]} {shape_text(theirs[unknown[0]].shape)} is not in this recipe's model"
                              f"{f' (and {len(unknown) - 1} more)' if len(unknown) > 1 else ''}", hint=hint)
    model.load_state_dict(theirs)
    origin = "imported" if state.get("imported") else f"step {state.get('step')}"
    return f"weights from {path} ({origin}); optimizers, schedule and step start fresh"
