"""Rename another framework's state dict into one of our modules' and back, by a table of module-path rows.

A table is data: one ``Row(ours, theirs, their_bias)`` per module (or subtree) of our network, saying where the
same layer lives in the other framework's module tree. Keys under ``ours`` map to the same keys under ``theirs``.
The two rules besides renaming are generic too:

- a bias we have and they do not (``their_bias=False``) is zero on import, and must be zero on export;
- instance norms without statistics have no tensors here; their old ``running_mean`` / ``running_var`` /
  ``num_batches_tracked`` in a foreign file are dropped (they never affected the output).

Everything else that does not line up (a missing or unknown key, a shape) is a :class:`Mismatch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import torch
from torch import Tensor, nn

#: buffers an InstanceNorm had when it tracked running statistics; ours never do
STALE_NORM_BUFFERS = ("running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class Row:
    """Our module path ``ours`` is their ``theirs``; ``their_bias=False``: they have no bias there."""

    ours: str
    theirs: str
    their_bias: bool = True


@dataclass
class Mismatch(Exception):
    """A key that does not line up: ``kind`` is ``shape``, ``missing`` (they lack it) or ``unknown`` (we do)."""

    kind: str
    key: str  # their key
    expected: tuple[int, ...] | None = None  # the shape we need
    found: tuple[int, ...] | None = None  # the shape they have


@dataclass
class Imported:
    state: dict[str, Tensor]
    zero_filled: list[str]  # our bias keys they do not have
    dropped: list[str]  # their stale instance-norm buffers


def shape_text(shape: Iterable[int]) -> str:
    """A tensor shape as error messages print it: ``(64, 3, 4, 4)``, ``(64)``."""
    return "(" + ", ".join(map(str, shape)) + ")"


def _split(key: str) -> tuple[str, str]:
    module, _, name = key.rpartition(".")
    return module, name


def _row_for(path: str, rows: Iterable[Row], side: str) -> tuple[Row, str] | None:
    """The row whose ``side`` path is ``path`` or its longest ancestor, and the rest of ``path`` below it."""
    best: tuple[Row, str] | None = None
    for row in rows:
        prefix = getattr(row, side)
        if path == prefix or not prefix or path.startswith(prefix + "."):
            rest = path[len(prefix):].lstrip(".") if prefix else path
            if best is None or len(prefix) > len(getattr(best[0], side)):
                best = (row, rest)
    return best


def _join(*parts: str) -> str:
    return ".".join(p for p in parts if p)


def their_key(our_key: str, table: Iterable[Row]) -> tuple[str, Row]:
    module, name = _split(our_key)
    found = _row_for(module, table, "ours")
    if found is None:
        raise KeyError(f"no row of the table covers {our_key!r}")  # a table bug, caught by the network's tests
    row, rest = found
    return _join(row.theirs, rest, name), row


def to_ours(theirs: Mapping[str, Tensor], module: nn.Module, table: Iterable[Row]) -> Imported:
    """Their state dict as ``module``'s, renamed by ``table``; raises :class:`Mismatch` at the first misfit."""
    table = list(table)
    ours = module.state_dict()
    state: dict[str, Tensor] = {}
    zero_filled: list[str] = []
    used: set[str] = set()
    for key, like in ours.items():
        theirs_key, row = their_key(key, table)
        if theirs_key in theirs:
            value = theirs[theirs_key]
            if tuple(value.shape) != tuple(like.shape):
                raise Mismatch("shape", theirs_key, tuple(like.shape), tuple(value.shape))
            state[key] = value.detach().clone().to(like.dtype)
            used.add(theirs_key)
        elif _split(key)[1] == "bias" and not row.their_bias:
            state[key] = torch.zeros_like(like)
            zero_filled.append(key)
        else:
            raise Mismatch("missing", theirs_key, tuple(like.shape))
    modules = dict(module.named_modules())
    dropped = []
    for key, value in theirs.items():
        if key in used:
            continue
        path, name = _split(key)
        found = _row_for(path, table, "theirs")
        our_module = modules.get(_join(found[0].ours, found[1])) if found else None
        if name in STALE_NORM_BUFFERS and isinstance(our_module, nn.InstanceNorm2d) and \
                not our_module.track_running_stats:
            dropped.append(key)
            continue
        raise Mismatch("unknown", key, None, tuple(value.shape))
    return Imported(state, zero_filled, dropped)


def to_theirs(ours: Mapping[str, Tensor], table: Iterable[Row]) -> dict[str, Tensor]:
    """Our state dict in their names; a bias they lack must be zero (else :class:`Mismatch` ``nonzero_bias``)."""
    table = list(table)
    out: dict[str, Tensor] = {}
    for key, value in ours.items():
        theirs_key, row = their_key(key, table)
        if _split(key)[1] == "bias" and not row.their_bias:
            if bool(value.detach().ne(0).any()):
                raise Mismatch("nonzero_bias", key, None, tuple(value.shape))
            continue
        out[theirs_key] = value.detach().clone()
    return out
