"""Speed hints printed in a run's header: settings that cost a user much time and are one ``--set`` away."""

from __future__ import annotations

import os

import torch

from .device import cpu_has_native_bf16

#: how far the 1-minute load may exceed the cores left for this run before the header warns (start-up noise)
LOAD_SLACK = 0.75


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):  # not on this platform
        return None


def thread_hint(threads: int, processes: int = 1, load: float | None = None, cores: int | None = None) -> str | None:
    """A hint when other work leaves fewer free cores than this run's threads: oversubscribed OpenMP threads
    spin while they wait for each other (measured 2-9x slower than one thread on a shared 2-core machine)."""
    load = _load_average() if load is None else load
    cores = cores or os.cpu_count() or 1
    if load is None or threads <= 1:
        return None
    wanted = threads * processes
    if load < cores - wanted + LOAD_SLACK:
        return None
    fit = max(1, int(cores - load + 0.25) // processes)
    each = " per process" if processes > 1 else ""
    return (f"the machine is busy (1-minute load {load:.1f} on {cores} cores) and this run uses {threads} threads"
            f"{each}: oversubscribed threads can make training several times slower; "
            f"try --set train.threads={min(fit, threads - 1)}")


def precision_hint(precision: str, device: torch.device, native_bf16: bool | None = None) -> str | None:
    """On CPUs with AVX-512 BF16 / AMX, bf16 is the one large speed lever; ``auto`` stays fp32 there (see README)."""
    if precision != "auto" or device.type != "cpu":
        return None
    native = cpu_has_native_bf16() if native_bf16 is None else native_bf16
    if not native:
        return None
    return ("this CPU computes bf16 natively (AVX-512 BF16 / AMX): --set train.precision=bf16 trained 1.5-1.8x "
            "faster at fp32's quality in the README's benchmarks")


def speed_hints(device: torch.device, precision: str, processes: int = 1) -> list[str]:
    """The hints that apply to this run, for the run header."""
    hints = [precision_hint(precision, device)]
    if device.type == "cpu":
        hints.append(thread_hint(torch.get_num_threads(), processes))
    return [h for h in hints if h]
