"""Exponential moving average of chosen components' weights, swapped in for sampling and evaluation."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

from .config import EMAConfig


class EMA:
    """Averages of each slot's floating-point parameters and buffers (buffers are copied, not averaged)."""

    def __init__(self, model: nn.Module, config: EMAConfig):
        self.model = model
        self.config = config
        self.shadow = {slot: {k: v.detach().clone() for k, v in getattr(model, slot).state_dict().items()}
                       for slot in config.slots}

    def _pairs(self, slot: str):
        live = getattr(self.model, slot).state_dict()
        return [(self.shadow[slot][k], v) for k, v in live.items()]

    @torch.no_grad()
    def update(self, step: int) -> None:
        decay = self.config.decay if step >= self.config.start else 0.0
        for slot in self.config.slots:
            floats_avg, floats_live = [], []
            for avg, live in self._pairs(slot):
                if avg.is_floating_point() and decay > 0.0:
                    floats_avg.append(avg)
                    floats_live.append(live)
                else:
                    avg.copy_(live)
            if floats_avg:
                torch._foreach_lerp_(floats_avg, floats_live, 1.0 - decay)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """Temporarily load the averaged weights into the model."""
        backup = {slot: {k: v.detach().clone() for k, v in getattr(self.model, slot).state_dict().items()}
                  for slot in self.config.slots}
        try:
            for slot in self.config.slots:
                getattr(self.model, slot).load_state_dict(self.shadow[slot])
            yield
        finally:
            for slot in self.config.slots:
                getattr(self.model, slot).load_state_dict(backup[slot])

    def state_dict(self) -> dict[str, dict[str, torch.Tensor]]:
        return self.shadow

    def load_state_dict(self, state: dict[str, dict[str, torch.Tensor]]) -> None:
        for slot in self.config.slots:
            for k, v in state[slot].items():
                self.shadow[slot][k].copy_(v)
