"""What may change between a checkpoint and the recipe that resumes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import CheckpointError
from .rundir import RunDir, run_root


def differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``path: old -> new`` for every leaf that differs between two nested dicts."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}.{key}" if prefix else str(key)
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += differences(a, b, path)
        elif _plain(a) != _plain(b):
            out.append(f"{path}: {a!r} -> {b!r}")
    return out


def _plain(x: Any) -> Any:
    return [_plain(v) for v in x] if isinstance(x, (list, tuple)) else x


def check_training_state(state: dict, source: Path) -> None:
    """An imported checkpoint holds weights only (no optimizers, data position or random streams)."""
    if state.get("imported") and "optimizers" not in state:
        raise CheckpointError(f"{source} was imported ({state['imported'].get('from', 'another implementation')}): "
                              f"it holds weights, not a run to resume",
                              hint=f"start a run from its weights: --set train.init_from={source}")


def check_resumable(saved: dict, current: dict, source: Path) -> list[str]:
    """Error if the architecture or the optimizers differ from the checkpoint's; return the harmless changes."""
    fatal = []
    for section in ("model", "components"):
        fatal += differences(saved.get(section, {}), current.get(section, {}), section)
    saved_optim = {g: s.get("name") for g, s in saved.get("optim", {}).items()}
    current_optim = {g: s.get("name") for g, s in current.get("optim", {}).items()}
    fatal += differences(saved_optim, current_optim, "optim")
    if fatal:
        root = run_root(source)
        how = f"resume with the run's own recipe: {RunDir(root).resume_command()}" if root else \
            "resume with the recipe that wrote the checkpoint"
        raise CheckpointError(f"{source} was written by a different recipe:\n  " + "\n  ".join(fatal),
                              hint=f"{how}; or start a new run")
    rest = []
    for section in ("losses", "data", "optim", "train"):
        rest += differences(saved.get(section, {}), current.get(section, {}), section)
    return rest


def data_position(saved: dict[str, int], saved_world: int, world: int) -> dict[str, int]:
    """The data position in per-process batches, converted when the number of processes changed."""
    if saved_world == world:
        return saved
    consumed = saved["index"] * saved_world  # global batches of the per-process batch size
    return {"epoch": saved["epoch"], "index": consumed // world}
