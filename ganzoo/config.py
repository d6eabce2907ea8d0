"""The recipe's ``train:`` section, typed. Its dataclass fields are the schema recipes are checked against."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class EMAConfig:
    """Exponential moving average of some components' weights; sampling and eval use the averaged copy."""

    slots: list[str] = field(default_factory=lambda: ["generator"])
    decay: float = 0.999
    start: int = 0  # first step at which the average is updated (before: copied)


@dataclass
class TrainConfig:
    """How to train: length, batch, device and precision, cadence of logs/samples/checkpoints."""

    steps: int | None = None  # training steps (one call of the model's train_step each)
    epochs: float | None = None  # alternatively, passes over the training split
    batch_size: int = 1  # per process
    seed: int = 0
    deterministic: bool = False  # bit-reproducible CPU runs (slower kernels)

    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool | Literal["auto"] = "auto"  # auto: on CUDA (tensor cores), off on CPU (measured slower)
    compile: bool = False  # torch.compile each component
    threads: int | None = None  # CPU intra-op threads (default: torch's choice)
    workers: int | None = None  # DataLoader worker processes (default: 1 on CPU, up to 4 on CUDA)

    lr_schedule: str | dict = "constant"  # constant | linear_decay | step | cosine, or {name: ..., params}
    ema: EMAConfig | None = None

    log_every: int = 25
    sample_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3  # step_*.pt files kept besides last.pt
    sample_count: int = 8  # images in the fixed sample batch
    eval_at_end: bool = True  # run `ganzoo eval` on the test split when the dataset has one
    eval_max_items: int | None = None  # end-of-run paired eval on the first N test items (None: the whole split)
    eval_every: int | None = None  # score eval_metrics every N steps and at the end (None: off)
    eval_metrics: list[str] = field(default_factory=lambda: ["fid", "kid"])  # any registered metrics
    eval_samples: int = 1000  # generated (and real) images per periodic evaluation
    keep_best: str | None = None  # keep checkpoints/best.pt by this metric output (fid, kid, precision, l1, ...)
    on_nan: Literal["stop", "skip"] = "stop"
    max_skips: int = 50  # on_nan: skip fails the run when more updates than this were skipped
    tensorboard: bool = True  # also log to TensorBoard when it is installed
    sync_batchnorm: bool = False  # distributed runs: convert batch norms to SyncBatchNorm
    init_from: str | None = None  # start from this checkpoint's weights (fine-tuning); optimizers start fresh
