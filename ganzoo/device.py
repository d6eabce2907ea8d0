"""Device, precision, threads and determinism: the only place that knows about CUDA."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import random
from typing import Iterator

import torch

from .errors import TrainingError

_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def select_device(spec: str = "auto") -> torch.device:
    """``auto`` = CUDA when available, else CPU; an unavailable CUDA device is a clear error."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError(f"device {spec!r} requested but CUDA is not available here",
                                hint="use --set train.device=cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise TrainingError(f"device {spec!r} requested but only {torch.cuda.device_count()} GPU(s) are visible")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise TrainingError("device 'mps' requested but MPS is not available here")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matrix products natively (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision setting (None = plain fp32).

    ``auto`` is bf16 on CUDA devices that support it and fp32 elsewhere: fp16 needs loss scaling and
    CPU bf16 is an explicit choice (``precision: bf16``) since it only pays on CPUs with native bf16.
    """
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    dtype = _DTYPES[precision]
    if dtype is torch.float16 and device.type == "cpu":
        raise TrainingError("precision fp16 is for CUDA; on CPU use bf16 or fp32")
    if dtype is torch.bfloat16 and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise TrainingError("this GPU does not support bf16; use precision fp16 or fp32")
    return dtype


def precision_name(dtype: torch.dtype | None) -> str:
    """The recipe's name for an autocast dtype: ``fp32``, ``bf16``, ``fp16``."""
    return next(name for name, d in _DTYPES.items() if d is dtype)


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def no_autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """Leave any autocast region (backward passes, fp32 penalties)."""
    return torch.autocast(device.type, enabled=False)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass


def configure(device: torch.device, *, threads: int | None, deterministic: bool) -> None:
    """Process-wide settings for a run: threads, cuDNN autotuning, deterministic kernels."""
    if threads:
        torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not deterministic
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if deterministic or torch.are_deterministic_algorithms_enabled():  # the call itself is slow: only when needed
        torch.use_deterministic_algorithms(deterministic, warn_only=device.type == "cuda")
    tune_allocator()


def tune_allocator() -> None:
    """Keep freed CPU memory in the process heap instead of returning it to the OS.

    glibc hands allocations above a threshold to mmap and trims freed heap memory; a training step then
    page-faults all its activations and gradients in again every iteration. Raising both thresholds makes
    the heap reuse them. A no-op outside glibc.
    """
    if platform.system() != "Linux":
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 * 1024 * 1024)  # glibc's maximum on 64-bit
        libc.mallopt(m_trim_threshold, 2**30)
    except (OSError, AttributeError):
        pass


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    threads = torch.get_num_threads()
    return f"{platform.processor() or platform.machine()} ({threads} thread{'s' if threads != 1 else ''})"


def use_channels_last(setting: bool | str, device: torch.device) -> bool:
    """``auto``: channels_last on CUDA; on CPU oneDNN gains nothing at GAN batch sizes and fused optimizers copy
    channels_last parameters to contiguous every step (pix2pix fp32, three quiet runs: 0.66-0.71 vs
    0.64-0.67 s/step)."""
    return device.type == "cuda" if setting == "auto" else bool(setting)


def to_device(batch: dict[str, torch.Tensor], device: torch.device, channels_last: bool) -> dict[str, torch.Tensor]:
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor):
            value = value.to(device, non_blocking=True)
            if channels_last and value.dim() == 4:
                value = value.contiguous(memory_format=torch.channels_last)
        out[key] = value
    return out


@contextlib.contextmanager
def preserved_rng(device: torch.device) -> Iterator[None]:
    """Run a block (sampling, evaluation) without disturbing the training random streams."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        state = random.getstate()
        try:
            yield
        finally:
            random.setstate(state)
