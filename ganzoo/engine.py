"""The training engine: one loop for every model plugin, CPU or CUDA.

It owns devices, precision, data, cadence, checkpoints and logs; the model owns its step.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from tqdm import tqdm

from . import __version__, checkpoint
from .build import build_dataset, build_model, build_optional_split, check_batch_keys, parameter_counts
from .data import Batches, fixed_batch
from .device import autocast, autocast_dtype, configure, describe, preserved_rng, seed_everything, select_device, to_device
from .ema import EMA
from .errors import CheckpointError, GanzooError, NonFiniteLoss, TrainingError
from .evaluate import evaluate, results_table
from .model import GANModel
from .optim import OptimizerSet, Scheduler, make_optimizer
from .recipe import dump
from .registry import Registry
from .report import MetricsLog, as_float, plot_losses, save_samples, tensorboard_writer
from .resolve import Resolved
from .rundir import RunDir, manifest, new_run_dir, write_json

Log = Callable[[str], None]


class Interrupted(GanzooError):
    """Training stopped on Ctrl-C or SIGTERM after writing a checkpoint."""

    def __init__(self, step: int, run_dir: RunDir, signum: int):
        super().__init__(f"interrupted at step {step}; checkpoint written to {run_dir.last}",
                         hint=f"resume with: ganzoo run RECIPE --resume {run_dir.root}")
        self.step, self.run_dir, self.signum = step, run_dir, signum


@dataclass
class RunResult:
    run_dir: RunDir
    step: int
    evaluation: dict[str, dict[str, float]] | None = None


@contextlib.contextmanager
def _signals_caught() -> Iterator[dict[str, int]]:
    """Turn the first SIGINT/SIGTERM into a flag the loop checks after each step; a second one aborts."""
    caught: dict[str, int] = {}
    if sys.platform == "win32" or not _in_main_thread():
        yield caught
        return

    def handler(signum, frame):
        if "signum" in caught:
            raise KeyboardInterrupt
        caught["signum"] = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def total_steps(resolved: Resolved, batches: Batches) -> int:
    train = resolved.train
    if train.steps is not None:
        return train.steps
    return max(1, math.ceil(train.epochs * batches.batches_per_epoch))


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new), key=str):
        path = f"{prefix}.{key}" if prefix else str(key)
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, path)
        elif _plain(a) != _plain(b):
            out.append(f"{path}: {a!r} -> {b!r}")
    return out


def _plain(x: Any) -> Any:
    return [_plain(v) for v in x] if isinstance(x, (list, tuple)) else x


def check_resumable(saved: dict, current: dict, source: Path) -> list[str]:
    """Error if the architecture or optimizers differ from the checkpoint's; return the harmless differences."""
    fatal = []
    for section in ("model", "components"):
        fatal += _differences(saved.get(section, {}), current.get(section, {}), section)
    saved_optim = {g: s.get("name") for g, s in saved.get("optim", {}).items()}
    current_optim = {g: s.get("name") for g, s in current.get("optim", {}).items()}
    fatal += _differences(saved_optim, current_optim, "optim")
    if fatal:
        raise CheckpointError(
            f"{source} was written by a different recipe:\n  " + "\n  ".join(fatal),
            hint="resume with the recipe that wrote the checkpoint, or start a new run",
        )
    rest = []
    for section in ("losses", "data", "optim", "train"):
        rest += _differences(saved.get(section, {}), current.get(section, {}), section)
    return rest


class Trainer:
    """A run assembled from a resolved recipe: model, optimizers, data, run directory; ``fit()`` trains it."""

    def __init__(
        self,
        resolved: Resolved,
        registry: Registry,
        *,
        out: Path | None = None,
        resume: Path | None = None,
        progress: bool = True,
        log: Log | None = None,
    ):
        self.resolved, self.registry, self.progress = resolved, registry, progress
        self.log = log or (lambda msg: tqdm.write(msg, file=sys.stderr))
        cfg = self.cfg = resolved.train

        self.device = select_device(cfg.device)
        self.dtype = autocast_dtype(cfg.precision, self.device)
        configure(self.device, threads=cfg.threads, deterministic=cfg.deterministic)
        seed_everything(cfg.seed)

        self.train_data = build_dataset(resolved, "train")
        check_batch_keys(resolved, self.train_data)
        self.test_data = build_optional_split(resolved, "test")
        self.model = build_model(resolved)
        self.counts = parameter_counts(self.model)
        self._prepare_model()

        self.optimizers = {
            group: make_optimizer(spec, self.model.group_parameters(group), self.device)
            for group, spec in resolved.optim.items()
        }
        self.scaler = torch.amp.GradScaler(self.device.type) if self.dtype is torch.float16 else None
        self.opt = OptimizerSet(self.model, self.optimizers, self.device, scaler=self.scaler, on_nan=cfg.on_nan)
        self.ema = EMA(self.model, cfg.ema) if cfg.ema else None

        per_step = cfg.batch_size * self.model.batches_per_step
        self.batches = Batches(self.train_data, per_step, seed=cfg.seed, device=self.device, workers=cfg.workers)
        self.total = total_steps(resolved, self.batches)
        self.scheduler = Scheduler(self.optimizers, cfg.lr_schedule, self.total)
        self.fixed = to_device(
            fixed_batch(self.test_data or self.train_data, cfg.sample_count, cfg.seed), self.device, cfg.channels_last
        )

        self.step = 0
        self.window: dict[str, list[float]] = defaultdict(list)
        self.window_time = 0.0
        self.window_steps = 0
        self.elapsed = 0.0
        self.last_row: dict[str, Any] = {}

        resume_from = checkpoint.find(resume) if resume else None
        if resume_from is not None and out is None:
            out = resume_from.parent.parent if resume_from.parent.name == "checkpoints" else resume_from.parent
        self.run = (RunDir(Path(out)) if out else new_run_dir(resolved.recipe.name)).create()
        self.metrics = MetricsLog(self.run.metrics)
        if resume_from is not None:
            self._restore(checkpoint.load(resume_from, map_location=self.device), resume_from)
        self._write_run_files()
        self.tb = tensorboard_writer(self.run.root / "tb") if cfg.tensorboard else None

    # Set-up ---------------------------------------------------------------------------------------------
    def _prepare_model(self) -> None:
        self.model.to(self.device)
        if self.cfg.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.train()
        if self.cfg.compile:
            for slot in self.model.component_slots:
                getattr(self.model, slot).compile()

    def _write_run_files(self) -> None:
        (self.run.recipe).write_text(dump(self.resolved.to_dict()))
        plugins = [{"name": p.name, "dist": p.dist, "version": p.version} for p in self.registry.plugins]
        info = manifest(device=f"{self.device} {describe(self.device)}", seed=self.cfg.seed, plugins=plugins)
        info |= {
            "precision": str(self.dtype).replace("torch.", "") if self.dtype else "fp32",
            "components": self.resolved.provenance(),
            "parameters": self.counts,
            "total_steps": self.total,
            "resumed_at": self.step or None,
        }
        write_json(self.run.manifest, info)

    def _restore(self, state: dict[str, Any], source: Path) -> None:
        notes = check_resumable(state["recipe"], self.resolved.to_dict(), source)
        try:
            self.model.load_state_dict(state["model"])
            for group, opt in self.optimizers.items():
                opt.load_state_dict(state["optimizers"][group])
            if self.scaler is not None and state.get("scaler"):
                self.scaler.load_state_dict(state["scaler"])
            if self.ema is not None and state.get("ema"):
                self.ema.load_state_dict(state["ema"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"{source} does not fit this model: {str(exc).splitlines()[0]}") from None
        self.step = int(state["step"])
        self.batches.load_state(state["data"])
        self.window = defaultdict(list, {k: list(v) for k, v in state.get("window", {}).items()})
        self.window_steps = int(state.get("window_steps", 0))
        self.elapsed = float(state.get("elapsed", 0.0))
        checkpoint.set_rng_state(state["rng"])
        self.metrics.truncate_after(self.step)
        self.log(f"resumed from {source} at step {self.step}")
        for note in notes:
            self.log(f"  recipe change since the checkpoint: {note}")

    # Checkpoints ------------------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "format": checkpoint.FORMAT_VERSION,
            "ganzoo_version": __version__,
            "recipe": self.resolved.to_dict(),
            "recipe_name": self.resolved.recipe.name,
            "provenance": self.resolved.provenance(),
            "step": self.step,
            "total_steps": self.total,
            "data": self.batches.state(),
            "model": checkpoint.clean_keys(self.model.state_dict()),
            "optimizers": {g: opt.state_dict() for g, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": checkpoint.rng_state(),
            "window": dict(self.window),
            "window_steps": self.window_steps,
            "elapsed": self.elapsed,
            "sample_shapes": {k: list(v.shape[1:]) for k, v in self.fixed.items() if torch.is_tensor(v)},
        }

    def save_checkpoint(self) -> Path:
        path = checkpoint.step_path(self.run.checkpoints, self.step)
        checkpoint.save(self.state(), path)
        tmp = self.run.checkpoints / ".last.pt.link"
        try:
            tmp.unlink(missing_ok=True)
            os.link(path, tmp)
            os.replace(tmp, self.run.last)
        except OSError:
            checkpoint.save(self.state(), self.run.last)
        checkpoint.prune(self.run.checkpoints, self.cfg.keep_checkpoints)
        return path

    # Observation ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _evaluation_mode(self) -> Iterator[None]:
        ema = self.ema.applied() if self.ema is not None else contextlib.nullcontext()
        with preserved_rng(self.device), torch.no_grad(), ema, autocast(self.device, self.dtype):
            self.model.eval()
            try:
                yield
            finally:
                self.model.train()

    def write_samples(self) -> None:
        with self._evaluation_mode():
            samples = self.model.sample(self.fixed)
            scorer = getattr(self.train_data, "evaluate_samples", None)
            quality = scorer(self.model.generate) if scorer and self.model.supports("generate") else {}
        markers = getattr(self.train_data, "modes", None)
        save_samples(samples, self.run.samples / f"step_{self.step:07d}.png",
                     title=f"{self.resolved.recipe.name} — step {self.step}", markers=markers)
        if quality:
            row = {"step": self.step, **{f"quality/{k}": float(v) for k, v in quality.items()}}
            self.metrics.write(row)
            self._tensorboard(row)

    def _flush_window(self) -> None:
        if not self.window_steps:
            return
        row: dict[str, Any] = {"step": self.step, "epoch": self.batches.epoch}
        row |= {k: sum(v) / len(v) for k, v in self.window.items() if v}
        row |= {f"lr/{g}": lr for g, lr in self.scheduler.lrs().items()}
        samples = self.window_steps * self.batches.batch_size
        row["samples_per_s"] = samples / self.window_time if self.window_time > 0 else None
        row["time"] = round(self.elapsed, 3)
        if self.opt.skipped:
            row["skipped"] = self.opt.skipped
        self.metrics.write(row)
        self._tensorboard(row)
        self.window, self.window_time, self.window_steps = defaultdict(list), 0.0, 0
        self.last_row = row

    def _tensorboard(self, row: dict[str, Any]) -> None:
        if self.tb is None:
            return
        try:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])
        except Exception:
            self.tb = None  # TensorBoard never fails a run

    def plot(self) -> None:
        plot_losses(self.metrics.rows(), self.run.losses_png, title=self.resolved.recipe.name)

    def evaluate(self) -> dict[str, dict[str, float]] | None:
        """Score the model on the test split with every registered metric; write ``eval.json``."""
        if self.test_data is None or not self.model.supports("evaluation_pairs"):
            return None
        metrics = {e.name: e.factory() for e in self.registry.entries("metric")}
        if not metrics:
            return None
        ema = self.ema.applied() if self.ema is not None else contextlib.nullcontext()
        with ema:
            results = evaluate(self.model, self.test_data, metrics, device=self.device, dtype=self.dtype,
                               batch_size=max(1, self.cfg.batch_size), seed=self.cfg.seed, progress=self.progress)
        write_json(self.run.eval_json, {"step": self.step, "split": "test", "results": results})
        return results

    # The loop ---------------------------------------------------------------------------------------------
    def describe(self) -> str:
        params = ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in self.counts.items())
        prec = str(self.dtype).replace("torch.", "") if self.dtype else "fp32"
        return (f"{self.resolved.recipe.name}: {self.total} steps, batch {self.cfg.batch_size} on "
                f"{self.device} ({describe(self.device)}), {prec}; {params}\nrun directory: {self.run.root}")

    def fit(self) -> RunResult:
        self.log(self.describe())
        for warning in self.model.warnings():
            self.log(f"warning: {warning}")
        cfg = self.cfg
        bar = tqdm(total=self.total, initial=self.step, unit="step", dynamic_ncols=True,
                   disable=not self.progress, desc=self.resolved.recipe.name)
        try:
            with _signals_caught() as caught:
                while self.step < self.total:
                    self._one_step()
                    bar.update(1)
                    last = self.step == self.total
                    if self.step % cfg.log_every == 0 or last:
                        self._flush_window()
                        bar.set_postfix({k: f"{v:.3g}" for k, v in self.last_row.items()
                                         if "/" in k and not k.startswith("lr/")}, refresh=False)
                    if self.step % cfg.sample_every == 0 or last:
                        self.write_samples()
                    if self.step % cfg.checkpoint_every == 0 or last or caught:
                        self.save_checkpoint()
                        self.plot()
                    if caught:
                        raise Interrupted(self.step, self.run, caught["signum"])
        except NonFiniteLoss as exc:
            self._flush_window()
            self.plot()
            good = f"last good checkpoint: {self.run.last}" if self.run.last.exists() else "no checkpoint was written"
            exc.hint = f"{exc.hint}; {good}"
            raise
        finally:
            bar.close()
            if self.tb is not None:
                self.tb.close()
        results = self.evaluate() if cfg.eval_at_end else None
        if results:
            self.log(results_table(results))
        self.log(f"done: {self.run.root}")
        return RunResult(self.run, self.step, results)

    def _one_step(self) -> None:
        start = time.perf_counter()
        batch = to_device(next(self.batches), self.device, self.cfg.channels_last)
        self.scheduler.set_step(self.step)
        self.opt.step_index = self.step + 1
        with autocast(self.device, self.dtype):
            values = self.model.train_step(batch, self.opt, self.step)
        if self.ema is not None:
            self.ema.update(self.step)
        self.step += 1
        for key, value in values.items():
            value = as_float(value)
            if not math.isfinite(value) and self.cfg.on_nan == "stop":
                raise NonFiniteLoss(self.step, key, value)
            self.window[key].append(value)
        took = time.perf_counter() - start
        self.window_time += took
        self.elapsed += took
        self.window_steps += 1


def train(resolved: Resolved, registry: Registry, **kwargs: Any) -> RunResult:
    """Build a :class:`Trainer` for a resolved recipe and run it to the end."""
    return Trainer(resolved, registry, **kwargs).fit()
