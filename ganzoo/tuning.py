"""Per-device speed settings: TF32, cuDNN autotuning, and how the DataLoader feeds the device.

Each choice is a function of a few facts about the device (:class:`DeviceFacts`: its type and, for CUDA, its
compute capability), so what a GPU run would get is testable on a CPU. A CPU run sets none of the CUDA flags.

- **TF32** (``train.tf32``): fp32 matrix products and convolutions on the tensor cores with a 10-bit mantissa
  and fp32 accumulation (NVIDIA Ampere, compute capability 8.0, and later). ``auto`` turns it on where the
  GPU has it; ``false`` keeps full fp32 (for numerical comparisons); ``true`` insists and is an error elsewhere.
  It only concerns fp32 work: under bf16/fp16 autocast the products are already low precision.
- **cuDNN autotuning** (``cudnn.benchmark``): a training batch always has the same shape (``drop_last``), so the
  fastest convolution algorithm is measured once per layer and reused; off with ``deterministic: true``, whose
  kernels must not depend on timing.
- **Input pipeline**: on CUDA the DataLoader pins batches in page-locked memory, so ``to_device``'s
  ``non_blocking`` copy is queued without the host waiting; with worker processes, they persist across epochs and
  each keeps 4 batches ready. Unchanged on CPU (no pinning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .errors import TrainingError

#: compute capability from which NVIDIA GPUs have TF32 tensor cores (Ampere)
TF32_CAPABILITY = (8, 0)
#: batches each DataLoader worker keeps ready
PREFETCH_PER_WORKER = 4


@dataclass(frozen=True)
class DeviceFacts:
    """What the settings depend on: the device type (``cpu``, ``cuda``, ``mps``) and a CUDA compute capability."""

    type: str
    capability: tuple[int, int] | None = None

    @classmethod
    def of(cls, device: torch.device) -> "DeviceFacts":
        if device.type == "cuda":
            return cls("cuda", tuple(torch.cuda.get_device_capability(device)))
        return cls(device.type)

    @property
    def has_tf32(self) -> bool:
        return self.type == "cuda" and self.capability is not None and tuple(self.capability) >= TF32_CAPABILITY


@dataclass(frozen=True)
class Tuning:
    """The settings a run uses (recorded in ``manifest.json``)."""

    tf32: bool
    cudnn_benchmark: bool

    def manifest(self) -> dict[str, Any]:
        return {"tf32": self.tf32, "cudnn_benchmark": self.cudnn_benchmark}


def choose(facts: DeviceFacts, *, tf32: bool | str = "auto", deterministic: bool = False) -> Tuning:
    """The settings for a device; ``tf32: true`` on a device without TF32 is an error."""
    if tf32 is True and not facts.has_tf32:
        what = f"a GPU of compute capability {facts.capability[0]}.{facts.capability[1]}" if facts.capability \
            else f"{facts.type}"
        raise TrainingError(f"train.tf32: true needs an NVIDIA GPU with TF32 (compute capability 8.0 or later); "
                            f"this run is on {what}", hint="use train.tf32: auto (on wherever the GPU has it)")
    use_tf32 = facts.has_tf32 if tf32 == "auto" else bool(tf32)
    return Tuning(tf32=use_tf32, cudnn_benchmark=facts.type == "cuda" and not deterministic)


def apply(tuning: Tuning, facts: DeviceFacts) -> None:
    """Set the process-wide flags (CUDA only: a CPU run changes nothing)."""
    if facts.type != "cuda":
        return
    torch.backends.cuda.matmul.allow_tf32 = tuning.tf32
    torch.backends.cudnn.allow_tf32 = tuning.tf32
    torch.backends.cudnn.benchmark = tuning.cudnn_benchmark


def loader_options(device_type: str, workers: int) -> dict[str, Any]:
    """The DataLoader's pinning, persistence and prefetch for a device type and a number of worker processes."""
    return {
        "pin_memory": device_type == "cuda",
        "persistent_workers": workers > 0,
        "prefetch_factor": PREFETCH_PER_WORKER if workers > 0 else None,
    }
