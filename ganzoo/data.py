"""The data pipeline: per-sample seeding, an endless resumable batch iterator, the fixed sample batch.

Every item is produced under its own seed, derived from (run seed, epoch, index), so random augmentation
does not depend on worker count or scheduling and a resumed run sees exactly the batches it would have seen.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate, get_worker_info

from . import errors
from .errors import DataError, GanzooError

_MIX = 0x9E3779B97F4A7C15


def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A well-mixed 63-bit seed for one item of one epoch."""
    x = (seed * 1_000_003 + epoch) * _MIX + index
    x ^= x >> 31
    x = (x * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    return (x ^ (x >> 29)) & 0x7FFFFFFFFFFFFFFF


class SeededItems(Dataset):
    """Wraps a dataset so that ``items[(index, seed)]`` draws its randomness from ``seed`` (torch and random)."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        torch_state, py_state = torch.get_rng_state(), random.getstate()
        # Only the CPU generator: torch.manual_seed would also queue a seed for every lazily initialised
        # accelerator, formatting a stack trace each time (~0.7 ms per item).
        torch.default_generator.manual_seed(seed)
        random.seed(seed)
        try:
            return self.dataset[index]
        except GanzooError as exc:
            if get_worker_info() is None:
                raise
            raise _Relayed(exc) from None  # the DataLoader re-raises it in the main process as text
        finally:
            torch.set_rng_state(torch_state)
            random.setstate(py_state)


class _Relayed(Exception):
    """A GanzooError raised in a DataLoader worker, carried to the main process in the text of an exception.

    The DataLoader re-raises a worker's exception as ``type(exc)(worker traceback)``: the original object is lost,
    and a ``DataError`` would reach the user with the worker's traceback as its message. This class's text ends
    with the error as JSON, from which :meth:`original` rebuilds it.
    """

    MARK = "ganzoo-error:"

    def __init__(self, error: GanzooError | str):
        if isinstance(error, GanzooError):
            error = self.MARK + json.dumps({"type": type(error).__name__, "message": error.message,
                                            "where": error.where, "hint": error.hint})
        super().__init__(error)

    def original(self) -> GanzooError:
        text = str(self.args[0]) if self.args else ""
        try:
            fields = json.loads(text.rsplit(self.MARK, 1)[1].strip().splitlines()[0])
        except (IndexError, ValueError):
            return GanzooError(text)
        cls = getattr(errors, fields["type"], GanzooError)
        error = cls.__new__(cls if isinstance(cls, type) and issubclass(cls, GanzooError) else GanzooError)
        GanzooError.__init__(error, fields["message"], where=fields["where"], hint=fields["hint"])
        return error


class EpochSampler(Sampler):
    """Yields ``(index, seed)`` for one epoch: a seeded permutation, sharded across ranks, from an offset."""

    def __init__(self, size: int, seed: int, *, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch, self.offset = 0, 0

    def set_position(self, epoch: int, offset: int) -> None:
        self.epoch, self.offset = epoch, offset

    def __len__(self) -> int:
        return self.size // self.world_size - self.offset

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(sample_seed(self.seed, self.epoch, -1))
            order = torch.randperm(self.size, generator=g).tolist()
        else:
            order = list(range(self.size))
        # strided shards: the ranks' k-th batches together are the single-process k-th batch of world x size
        shard = order[self.rank::self.world_size][: self.size // self.world_size]
        for index in shard[self.offset:]:
            yield index, sample_seed(self.seed, self.epoch, index)


def default_workers(device: torch.device) -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if device.type == "cuda":
        return max(1, min(4, cpus - 1))
    return 1 if cpus > 1 else 0


class Batches:
    """An endless iterator of training batches that knows its position (epoch, batches into the epoch)."""

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        *,
        seed: int,
        device: torch.device,
        workers: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        per_step: tuple[int, str] | None = None,
    ):
        size = len(dataset)
        if size // world_size < batch_size:
            per = f" per process ({world_size} processes)" if world_size > 1 else ""
            what, hint = f"{batch_size}", "lower train.batch_size or add data"
            if per_step and per_step[0] > 1:  # several real batches per step, e.g. n_critic
                k, option = per_step
                what = f"batch_size {batch_size // k} × {option} {k} = {batch_size} per step"
                hint = f"lower train.batch_size or {option}, or add data"
            raise DataError(f"the dataset has {size} samples, fewer than one batch of {what}{per}", hint=hint)
        self.batch_size = batch_size
        self.batches_per_epoch = (size // world_size) // batch_size
        self.sampler = EpochSampler(size, seed, rank=rank, world_size=world_size)
        workers = default_workers(device) if workers is None else workers
        self.loader = DataLoader(
            SeededItems(dataset),
            batch_size=batch_size,
            sampler=self.sampler,
            drop_last=True,
            num_workers=workers,
            pin_memory=device.type == "cuda",
            persistent_workers=workers > 0,
            prefetch_factor=4 if workers > 0 else None,
            worker_init_fn=_seed_worker,
            # its own generator: creating an iterator must not draw from the global RNG (exact resume)
            generator=torch.Generator().manual_seed(seed),
        )
        self.epoch, self.index = 0, 0
        self._it: Iterator | None = None

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "index": self.index}

    def load_state(self, state: dict[str, int]) -> None:
        self.epoch, self.index = int(state["epoch"]), int(state["index"])
        self._it = None

    def __iter__(self) -> "Batches":
        return self

    def __next__(self) -> Any:
        if self.index >= self.batches_per_epoch:
            self.epoch, self.index, self._it = self.epoch + 1, 0, None
        if self._it is None:
            self.sampler.set_position(self.epoch, self.index * self.batch_size)
            self._it = iter(self.loader)
        try:
            batch = next(self._it)
        except _Relayed as exc:
            raise exc.original() from None
        self.index += 1
        return batch


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass


def fixed_batch(dataset: Dataset, count: int, seed: int) -> dict[str, torch.Tensor]:
    """The first ``count`` items (same seeds every time): what sample grids show throughout a run."""
    items = SeededItems(dataset)
    n = min(count, len(dataset))
    return default_collate([items[(i, sample_seed(seed, 0, i))] for i in range(n)])


def dataset_keys(dataset: Dataset) -> tuple[str, ...]:
    """The keys a dataset's items provide: its ``keys`` attribute, or those of its first item."""
    keys = getattr(dataset, "keys", None)
    if isinstance(keys, (tuple, list)):
        return tuple(keys)
    item = dataset[0]
    if not isinstance(item, dict):
        raise DataError(f"dataset items must be dicts of tensors, got {type(item).__name__}")
    return tuple(item)
