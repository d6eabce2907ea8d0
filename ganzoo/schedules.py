"""Learning-rate schedules: each returns ``factor(step, total)``, the multiplier of the recipe's base lr."""

from __future__ import annotations

import math
from typing import Callable

Schedule = Callable[[int, int], float]


def constant() -> Schedule:
    """The base learning rate throughout."""
    return lambda step, total: 1.0


def linear_decay(*, hold: float = 0.5) -> Schedule:
    """Constant for the first ``hold`` fraction of training, then linear to 0 (pix2pix, CycleGAN)."""
    if not 0.0 <= hold <= 1.0:
        raise ValueError(f"hold must be a fraction in [0, 1], got {hold}")

    def factor(step: int, total: int) -> float:
        start = hold * total
        return 1.0 if step < start else max(0.0, 1.0 - (step - start) / max(1.0, total - start))

    return factor


def step(*, every: int, gamma: float = 0.1) -> Schedule:
    """Multiply by ``gamma`` every ``every`` steps."""
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    return lambda s, total: gamma ** (s // every)


def cosine(*, warmup: int = 0, final: float = 0.0) -> Schedule:
    """Linear warm-up for ``warmup`` steps, then cosine from 1 to ``final``."""

    def factor(s: int, total: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        t = (s - warmup) / max(1, total - warmup)
        return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

    return factor


SCHEDULES: dict[str, Callable[..., Schedule]] = {
    "constant": constant,
    "linear_decay": linear_decay,
    "step": step,
    "cosine": cosine,
}
