"""Data parallelism on PyTorch's own stack: torchrun's environment, a process group, DDP-wrapped components.

A single-process run never touches ``torch.distributed``: :func:`detect` returns ``world_size == 1`` and
every helper here is then a no-op.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.distributed as dist
from torch import nn

from .errors import TrainingError

TIMEOUT_ENV = "GANZOO_DIST_TIMEOUT"  # seconds a collective may wait for a missing rank (default 600)

#: a gloo group for agreeing on host-side facts (a signal arrived, a loss read back was NaN) without involving
#: the GPUs: an NCCL collective on a flag would make every rank wait for its device. None: use the default group
#: (gloo already, on CPU ranks).
_host_group: Any = None


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect() -> DistEnv:
    """The torchrun launch this process belongs to (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``), if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistEnv()
    return DistEnv(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world)


def device_for(env: DistEnv, spec: str) -> str:
    """Pin each rank to its own GPU: ``auto``/``cuda`` become ``cuda:LOCAL_RANK`` under torchrun."""
    if not env.enabled:
        return spec
    if spec == "cuda" or (spec == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise TrainingError(f"rank {env.rank} asks for CUDA but has no GPU",
                                hint="use --set train.device=cpu for CPU ranks (gloo)")
        if env.local_rank >= torch.cuda.device_count():
            raise TrainingError(f"rank {env.rank} (local rank {env.local_rank}) has no GPU: only "
                                f"{torch.cuda.device_count()} visible; lower --nproc_per_node")
        return f"cuda:{env.local_rank}"
    return spec


@contextlib.contextmanager
def process_group(env: DistEnv, device: torch.device) -> Iterator[None]:
    """Initialise the process group (NCCL on CUDA, gloo on CPU) and always tear it down."""
    if not env.enabled:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    timeout = dt.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, "600")))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timeout,
                            device_id=device if device.type == "cuda" else None)
    global _host_group
    try:
        _host_group = dist.new_group(backend="gloo") if device.type == "cuda" else None
        yield
    finally:
        _host_group = None
        dist.destroy_process_group()


class Wrapper:
    """Each trainable component of a model wrapped in DistributedDataParallel.

    The model keeps its plain modules (checkpoints, sampling and evaluation see those); ``active()`` swaps the
    DDP wrappers into the slots for the duration of a training step, so any model plugin's ``train_step`` gets
    gradients averaged across ranks without knowing it runs distributed.
    """

    def __init__(self, model: nn.Module, slots: list[str], device: torch.device, sync_batchnorm: bool):
        self.model = model
        self.wrapped: dict[str, nn.Module] = {}
        for slot in slots:
            module = getattr(model, slot)
            if not any(p.requires_grad for p in module.parameters()):
                continue
            if sync_batchnorm:
                if device.type != "cuda":
                    raise TrainingError("train.sync_batchnorm needs CUDA ranks (NCCL); on CPU batch norm stays "
                                        "per process", hint="--set train.sync_batchnorm=false")
                module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
                setattr(model, slot, module)
            ids = [device.index] if device.type == "cuda" else None
            self.wrapped[slot] = nn.parallel.DistributedDataParallel(module, device_ids=ids)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        plain = {slot: getattr(self.model, slot) for slot in self.wrapped}
        for slot, ddp in self.wrapped.items():
            setattr(self.model, slot, ddp)
        try:
            yield
        finally:
            for slot, module in plain.items():
                setattr(self.model, slot, module)


def all_true(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` holds on every rank (a no-op outside a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    t = torch.tensor([1 if flag else 0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def any_rank(flag: bool, device: torch.device) -> bool:
    return not all_true(not flag, device)


def min_over_ranks_host(value: int) -> int:
    """The smallest of every rank's ``value``, agreed on the host (gloo): no rank waits for its GPU."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN, group=_host_group)
    return int(t[0])


def any_rank_host(flag: bool) -> bool:
    """Whether ``flag`` holds on any rank, agreed on the host (see :func:`min_over_ranks_host`)."""
    return min_over_ranks_host(0 if flag else 1) == 0


def mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    if not (dist.is_available() and dist.is_initialized()) or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    t /= dist.get_world_size()
    return dict(zip(keys, t.tolist()))


def gather(obj: Any) -> list[Any]:
    """``obj`` from every rank, in rank order (``[obj]`` outside a process group)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast(obj: Any) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not (dist.is_available() and dist.is_initialized()):
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
