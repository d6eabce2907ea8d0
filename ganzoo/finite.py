"""Non-finite values in weights, optimizer state and gradients, found with one fused reduction.

A checkpoint is only "good" when every weight and optimizer moment in it is finite; the check runs once per
checkpoint, never per step. ``on_nan: skip`` also screens each update's gradients (see ``OptimizerSet``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Iterable, Iterator, Mapping

import torch
from torch import Tensor, nn

from . import distributed as dist
from .errors import NonFiniteWeights


def nonfinite(named: Iterable[tuple[str, Tensor]]) -> list[str]:
    """Names of the tensors holding a NaN or an infinity.

    One fused 2-norm per device and dtype screens them all (a NaN or an infinity makes the norm non-finite);
    only when the screen fires, which a finite norm too large for the dtype can also do, are the tensors of that
    group checked one by one.
    """
    groups: dict[tuple, list[tuple[str, Tensor]]] = defaultdict(list)
    for name, t in named:
        if torch.is_tensor(t) and t.is_floating_point() and t.numel():
            groups[(t.device, t.dtype)].append((name, t.detach()))
    bad = []
    for items in groups.values():
        norms = torch._foreach_norm([t for _, t in items])
        if bool(torch.stack(norms).isfinite().all()):
            continue
        bad += [name for (name, t), norm in zip(items, norms) if not bool(norm.isfinite()) and
                not bool(t.isfinite().all())]
    return bad


def all_finite(tensors: Iterable[Tensor]) -> bool:
    return not nonfinite((str(i), t) for i, t in enumerate(tensors))


def training_state(model: nn.Module, optimizers: Mapping[str, torch.optim.Optimizer],
                   averages: Mapping[str, Mapping[str, Tensor]] | None = None) -> Iterator[tuple[str, Tensor]]:
    """Every tensor a checkpoint holds that training produced: weights, buffers, optimizer state, averages."""
    yield from model.state_dict().items()
    names = {id(p): n for n, p in model.named_parameters()}
    for group, opt in optimizers.items():
        for param, state in opt.state.items():
            for key, value in state.items():
                yield f"{group} optimizer's {key} of {names.get(id(param), '?')}", value
    for slot, weights in (averages or {}).items():
        yield from ((f"EMA of {slot}.{k}", v) for k, v in weights.items())


def check_checkpointable(step: int, state: Iterable[tuple[str, Tensor]], device: torch.device) -> None:
    """Raise :class:`NonFiniteWeights` (on every rank alike) unless everything in ``state`` is finite."""
    bad = nonfinite(state)
    if dist.any_rank(bool(bad), device):
        raise NonFiniteWeights(step, bad or ["(on another rank)"])
