"""A training step's scalars kept on the device until the engine needs them as numbers.

Turning a CUDA tensor into a Python float (``.item()``, ``float(t)``, ``bool(t)``) makes the host wait until the
GPU has finished everything queued before it, so a step that reads its losses cannot queue the next step's work
while the GPU computes. Instead each step's scalars (the losses a model returns, and the total loss of every
update for the ``on_nan: stop`` guard) are stacked into one small tensor on the device, and all the steps since
the last read come back in one transfer when the engine writes something (a metrics row, samples, a
checkpoint, an evaluation) or the run ends. Non-finite values are found then, on the host, in step order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor


@dataclass
class StepScalars:
    """The scalars of one step, as numbers: ``step`` is the step's number (1-based, as logged)."""

    step: int
    seconds: float
    values: dict[str, float]  # what the model returned: averaged into metrics rows
    updates: list[tuple[str, float]] = field(default_factory=list)  # each update's total loss, in order


@dataclass(frozen=True)
class Nonfinite:
    """The first non-finite scalar: in an update (before the step's values existed) or in the step's values."""

    step: int
    name: str
    value: float
    in_update: bool


@dataclass
class _Pending:
    step: int
    seconds: float
    names: list[str]  # the device vector's entries: update totals first, then the model's tensor values
    updates: int
    vector: Tensor | None
    floats: dict[str, float]  # values the model returned as Python numbers
    order: list[str]  # the model's keys in their order


class PendingScalars:
    """Steps' scalars not yet read back from the device."""

    def __init__(self, device: torch.device):
        self.device = device
        self.steps: list[_Pending] = []

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: int, seconds: float, values: Mapping[str, Any],
            updates: Sequence[tuple[str, Tensor]] = ()) -> None:
        """Record a step: one ``stack`` on the device (a copy, so later in-place changes do not alter it)."""
        names, tensors, floats = [], [], {}
        for name, loss in updates:
            names.append(name)
            tensors.append(loss.detach().float().sum())
        for key, value in values.items():
            if isinstance(value, Tensor):
                names.append(key)
                tensors.append(value.detach().to(self.device, torch.float32).reshape(()))
            else:
                floats[key] = float(value)
        vector = torch.stack(tensors) if tensors else None
        self.steps.append(_Pending(step, seconds, names, len(updates), vector, floats, list(values)))

    def read(self) -> list[StepScalars]:
        """Every pending step as numbers, oldest first (one device-to-host transfer), and forget them."""
        pending, self.steps = self.steps, []
        vectors = [p.vector for p in pending if p.vector is not None]
        numbers = torch.cat(vectors).tolist() if vectors else []
        out, at = [], 0
        for p in pending:
            n = len(p.names)
            got = dict(zip(p.names, numbers[at:at + n]))
            at += n
            values = {key: got[key] if key in got else p.floats[key] for key in p.order}
            out.append(StepScalars(p.step, p.seconds, values, [(name, got[name]) for name in p.names[:p.updates]]))
        return out


def first_nonfinite(steps: Sequence[StepScalars], *, values: bool = True) -> Nonfinite | None:
    """The first NaN/inf in step order; within a step the updates come first (they ran before the values were
    returned), then the values (only with ``values``)."""
    for s in steps:
        for name, value in s.updates:
            if not math.isfinite(value):
                return Nonfinite(s.step, name, value, in_update=True)
        if values:
            for name, value in s.values.items():
                if not math.isfinite(value):
                    return Nonfinite(s.step, name, value, in_update=False)
    return None
