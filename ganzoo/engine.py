"""The training engine: one loop for every model plugin, on CPU, CUDA, or several processes under torchrun.

It owns devices, precision, data, cadence, checkpoints and logs; the model owns its step.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from tqdm import tqdm

from . import __version__, checkpoint, contract, finite, ownership
from . import distributed as dist
from .build import build_dataset, build_model, build_optional_split, check_batch_keys, parameter_counts
from .data import Batches, fixed_batch
from .device import (autocast, autocast_dtype, configure, describe, precision_name, preserved_rng, seed_everything,
                     select_device, to_device, use_channels_last)
from .ema import EMA
from .errors import GanzooError, NonFinite, NonFiniteLoss
from .evaluate import evaluate, results_table
from .fidelity import paired_metrics
from .flow import column_titles, describe_flow, row_labels
from .hints import speed_hints
from .images import describe_skipped
from .optim import OptimizerSet, Scheduler, make_optimizer
from .quality import QualityMonitor
from .recipe import dump
from .registry import Registry
from .progress import ProgressLines, interactive
from .report import MetricsLog, MetricsWindow, Observation, plot_losses, save_samples, tensorboard_writer
from .resolve import Resolved
from .resume import check_resumable, check_training_state, data_position
from .warmstart import init_from
from .rundir import (RunDir, dirs_to_create, discard_if_empty, manifest, new_run_dir, read_json, set_status,
                     with_history, write_json)
from .scalars import Nonfinite, PendingScalars, first_nonfinite

Log = Callable[[str], None]


class Interrupted(GanzooError):
    """Training stopped on Ctrl-C or SIGTERM after writing a checkpoint."""

    def __init__(self, step: int, run_dir: RunDir):
        super().__init__(f"interrupted at step {step}; checkpoint written to {run_dir.last}",
                         hint=f"resume with: {run_dir.resume_command()}")
        self.step, self.run_dir = step, run_dir


@dataclass
class RunResult:
    run_dir: RunDir
    step: int
    evaluation: dict[str, dict[str, float]] | None = None


#: signals this close to the first are the same request: a terminal's Ctrl-C reaches every rank of a torchrun
#: job, and torchrun's agent forwards its own copy a moment later
SIGNAL_BURST_S = 2.0


@contextlib.contextmanager
def _signals_caught(burst: float = SIGNAL_BURST_S) -> Iterator[dict[str, float]]:
    """Turn the first SIGINT/SIGTERM into a flag the loop checks after each step; a later one aborts.

    Signals within ``burst`` seconds of the first count as that one request (see ``SIGNAL_BURST_S``).
    """
    caught: dict[str, float] = {}
    if sys.platform == "win32" or threading.current_thread() is not threading.main_thread():
        yield caught
        return

    def handler(signum, frame):
        now = time.monotonic()
        if "signum" not in caught:
            caught["signum"], caught["at"] = signum, now
        elif now - caught["at"] > burst:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _run_root(checkpoint_file: Path) -> Path:
    return checkpoint_file.parent.parent if checkpoint_file.parent.name == "checkpoints" else checkpoint_file.parent


def _total_steps(resolved: Resolved, batches: Batches) -> int:
    train = resolved.train
    if train.steps is not None:
        return train.steps
    return max(1, math.ceil(train.epochs * batches.batches_per_epoch))


class Trainer:
    """A run assembled from a resolved recipe: model, optimizers, data, run directory; ``fit()`` trains it.

    Under torchrun (see :mod:`ganzoo.distributed`) every rank builds the same Trainer inside a process group;
    components are DDP-wrapped for the training step, data is sharded, and rank 0 alone writes the run directory.
    """

    def __init__(
        self,
        resolved: Resolved,
        registry: Registry,
        *,
        out: Path | None = None,
        resume: Path | None = None,
        overwrite: bool = False,
        progress: bool = True,
        log: Log | None = None,
        env: dist.DistEnv = dist.DistEnv(),
    ):
        self.resolved, self.registry, self.env = resolved, registry, env
        self.main = env.is_main
        self.progress = progress and self.main
        default_log: Log = lambda msg: tqdm.write(msg, file=sys.stderr)  # noqa: E731
        self.log = (log or default_log) if self.main else (lambda msg: None)
        cfg = self.cfg = resolved.train

        self.device = select_device(dist.device_for(env, cfg.device))
        self.channels_last = use_channels_last(cfg.channels_last, self.device)
        self.dtype = autocast_dtype(cfg.precision, self.device)
        self.tuning = configure(self.device, threads=cfg.threads, deterministic=cfg.deterministic, tf32=cfg.tf32)
        seed_everything(cfg.seed)  # identical initial weights on every rank

        self.train_data = build_dataset(resolved, "train")
        check_batch_keys(resolved, self.train_data)
        self.test_data = build_optional_split(resolved, "test")
        self.model = build_model(resolved)
        if cfg.init_from and resume is None:
            self.log(init_from(self.model, cfg.init_from))
        self.counts = parameter_counts(self.model)
        self._prepare_model()
        if env.enabled:
            seed_everything(cfg.seed + 1_000_003 * env.rank)  # per-rank noise, dropout, penalty interpolates

        self.optimizers = {group: make_optimizer(spec, self.model.group_parameters(group), self.device)
                           for group, spec in resolved.optim.items()}
        self.scaler = torch.amp.GradScaler(self.device.type) if self.dtype is torch.float16 else None
        self.opt = OptimizerSet(self.model, self.optimizers, self.device, scaler=self.scaler, on_nan=cfg.on_nan,
                                max_skips=cfg.max_skips)
        self.ema = EMA(self.model, cfg.ema) if cfg.ema else None
        self.quality = (QualityMonitor.from_recipe(resolved, registry, self.model, self.train_data, self.device,
                                                   self.log) if self.main else None)

        per_step = cfg.batch_size * self.model.batches_per_step
        self.batches = Batches(self.train_data, per_step, seed=cfg.seed, device=self.device, workers=cfg.workers,
                               rank=env.rank, world_size=env.world_size,
                               per_step=(self.model.batches_per_step, self.model.batches_per_step_option))
        self.total = _total_steps(resolved, self.batches)
        self.scheduler = Scheduler(self.optimizers, cfg.lr_schedule, self.total)
        sample_source = self.test_data if self.test_data is not None else self.train_data
        self.fixed = to_device(fixed_batch(sample_source, cfg.sample_count, cfg.seed), self.device, self.channels_last)

        self.step = 0
        self.window = MetricsWindow()
        self.pending = PendingScalars(self.device)  # steps' scalars still on the device (read by _settle)
        self._step_end = time.perf_counter()
        self.elapsed = 0.0
        self.last_row: dict[str, Any] = {}
        self.observe = Observation(self.log)  # pictures and TensorBoard never stop a run

        resume_from = checkpoint.find(resume) if resume else None
        if resume_from is not None and out is None:
            out = _run_root(resume_from)
        self.run = RunDir(Path(dist.broadcast(str(out or new_run_dir(resolved.recipe.name).root))))
        self.created = dirs_to_create(self.run.root) if self.main else []
        resuming = resume_from is not None and _run_root(resume_from).resolve() == self.run.root.resolve()
        self.owner = ownership.claim(self.run.root, resuming=resuming, overwrite=overwrite, main=self.main)
        if self.main:
            self.run.create()
        self.metrics = MetricsLog(self.run.metrics)
        if resume_from is not None:
            self._restore(checkpoint.load(resume_from, map_location=self.device), resume_from)
        self.ddp = dist.Wrapper(self.model, list(self.model.component_slots), self.device,
                                cfg.sync_batchnorm) if env.enabled else None
        self.tb = None
        if self.main and self.step < self.total:  # a finished run resumed to fewer steps keeps its files
            self._write_run_files()
            self.tb = tensorboard_writer(self.run.root / "tb") if cfg.tensorboard else None

    # Set-up ---------------------------------------------------------------------------------------------
    def _prepare_model(self) -> None:
        self.model.to(self.device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.model.train()
        if self.cfg.compile:
            for slot in self.model.component_slots:
                getattr(self.model, slot).compile()

    def _write_run_files(self) -> None:
        self.run.recipe.write_text(dump(self.resolved.to_dict()))
        plugins = [{"name": p.name, "dist": p.dist, "version": p.version} for p in self.registry.plugins]
        info = manifest(device=f"{self.device} {describe(self.device)}", seed=self.cfg.seed, plugins=plugins,
                        world_size=self.env.world_size)
        info |= {
            "recipe_name": self.resolved.recipe.name,
            "status": "running",
            "precision": precision_name(self.dtype),
            "components": self.resolved.provenance(),
            "parameters": self.counts,
            "total_steps": self.total,
            "batch_size_per_process": self.cfg.batch_size,
            "resumed_at": self.step or None,
            **self.tuning.manifest(),
        }
        write_json(self.run.manifest, with_history(info, read_json(self.run.manifest), self.step))

    def _restore(self, state: dict[str, Any], source: Path) -> None:
        check_training_state(state, source)
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
            from .errors import CheckpointError

            raise CheckpointError(f"{source} does not fit this model: {str(exc).splitlines()[0]}") from None
        self.step = int(state["step"])
        saved_world = int(state.get("world_size", 1))
        self.batches.load_state(data_position(state["data"], saved_world, self.env.world_size))
        self.window.load_state_dict(state["window"])
        if self.quality is not None:
            self.quality.load_state_dict(state.get("quality"))
        self.elapsed = float(state.get("elapsed", 0.0))
        self.opt.skipped = int(state.get("skipped", 0))
        ranks = state.get("rng_ranks") or [state["rng"]]
        if self.env.rank < len(ranks) and len(ranks) == self.env.world_size:
            checkpoint.set_rng_state(ranks[self.env.rank])
        elif self.env.is_main:
            checkpoint.set_rng_state(state["rng"])
        else:  # more processes than wrote the checkpoint: a fresh stream per rank, reproducible from the step
            seed_everything(self.cfg.seed + 1_000_003 * self.env.rank + self.step)
        if self.main and (note := self.metrics.truncate_after(self.step)):
            self.log(note)
        self.log(f"resumed from {source} at step {self.step}")
        if saved_world != self.env.world_size:
            self.log(f"  checkpoint written by {saved_world} process(es), resumed on {self.env.world_size}")
        for note in notes:
            self.log(f"  recipe change since the checkpoint: {note}")

    # Checkpoints ------------------------------------------------------------------------------------------
    def state(self, rngs: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "format": checkpoint.FORMAT_VERSION,
            "ganzoo_version": __version__,
            "recipe": self.resolved.to_dict(),
            "recipe_name": self.resolved.recipe.name,
            "provenance": self.resolved.provenance(),
            "step": self.step,
            "total_steps": self.total,
            "world_size": self.env.world_size,
            "data": self.batches.state(),
            "model": checkpoint.clean_keys(self.model.state_dict()),
            "optimizers": {g: opt.state_dict() for g, opt in self.optimizers.items()},
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "rng": rngs[0],
            "rng_ranks": rngs if len(rngs) > 1 else None,
            "window": self.window.state_dict(),
            "quality": self.quality.state_dict() if self.quality is not None else None,
            "elapsed": self.elapsed,
            "skipped": self.opt.skipped,
            "sample_shapes": {k: list(v.shape[1:]) for k, v in self.fixed.items() if torch.is_tensor(v)},
        }

    def save_checkpoint(self) -> None:
        """Write ``step_XXXXXXX.pt`` and ``last.pt`` (a hard link to it); every rank's RNG state is gathered."""
        finite.check_checkpointable(self.step, finite.training_state(
            self.model, self.optimizers, self.ema.state_dict() if self.ema else None), self.device)
        rngs = dist.gather(checkpoint.rng_state())
        if not self.main:
            return
        path = checkpoint.step_path(self.run.checkpoints, self.step)
        state = self.state(rngs)
        checkpoint.save(state, path)
        tmp = self.run.checkpoints / ".last.pt.link"
        try:
            tmp.unlink(missing_ok=True)
            os.link(path, tmp)
            os.replace(tmp, self.run.last)
        except OSError:  # no hard links on this file system
            checkpoint.save(state, self.run.last)
        checkpoint.prune(self.run.checkpoints, self.cfg.keep_checkpoints)
        self.plot()

    # Observation (rank 0) ---------------------------------------------------------------------------------
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
        if not self.main:
            return
        with self._evaluation_mode():
            samples = self.model.sample(self.fixed)
            scorer = getattr(self.train_data, "evaluate_samples", None)
            quality = scorer(self.model.generate) if scorer and self.model.supports("generate") else {}
        self.observe.attempt("sample grids", save_samples, samples, self.run.samples / f"step_{self.step:07d}.png",
                             title=f"{self.resolved.recipe.name}  step {self.step}",
                             markers=getattr(self.train_data, "modes", None),
                             captions=column_titles(self.model, self.train_data),
                             row_labels=row_labels(self.model, self.fixed, self.train_data))
        if quality:
            row = {"step": self.step, **{f"quality/{k}": float(v) for k, v in quality.items()}}
            self.metrics.write(row)
            self._tensorboard(row)

    def score_quality(self) -> None:
        """``train.eval_every``: score, log beside the losses, keep ``best.pt`` when ``keep_best`` improved."""
        ema = self.ema.applied() if self.ema is not None else contextlib.nullcontext()
        with ema:
            row = self.quality.run(self.model, self.step, self.dtype, self.progress)
        self.metrics.write({"step": self.step, **row})
        self._tensorboard({"step": self.step, **row})
        self.log(f"eval at step {self.step}: " + ", ".join(f"{k[5:]} {v:.4g}" for k, v in row.items()
                                                              if not k.endswith("_std")))
        if self.quality.improved(self.step):
            checkpoint.save(self.state([checkpoint.rng_state()]), self.run.checkpoints / "best.pt")
            best = self.quality.best
            self.log(f"  best {best['metric']} so far ({best['value']:.4g}): {self.run.checkpoints / 'best.pt'}")

    def _flush_window(self, collective: bool = True) -> None:
        if not self.window.steps:
            return
        means = self.window.means()
        if collective:
            means = dist.mean_over_ranks(means, self.device)
        row: dict[str, Any] = {"step": self.step, "epoch": self.batches.epoch, **means}
        row |= {f"lr/{g}": lr for g, lr in self.scheduler.lrs().items()}
        samples = self.window.steps * self.batches.batch_size * self.env.world_size
        row["samples_per_s"] = samples / self.window.seconds if self.window.seconds > 0 else None
        row["time"] = round(self.elapsed, 3)
        if self.opt.skipped:
            row["skipped"] = self.opt.skipped
        self.window.reset()
        self.last_row = row
        if self.main:
            self.metrics.write(row)
            self._tensorboard(row)

    def _tensorboard(self, row: dict[str, Any]) -> None:
        if self.tb is None:
            return
        try:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])
        except Exception as exc:
            self.observe.report("TensorBoard logs", exc)
            self.tb = None  # TensorBoard never fails a run

    def _keep_history(self, collective: bool) -> None:
        try:
            self._settle(check=False)
            self._flush_window(collective)
            self.plot()
        except Exception as exc:  # never mask the original error
            self.log(f"(could not write the metrics after the failure: {exc})")

    def _last_checkpoint_note(self) -> str:
        return f"last good checkpoint: {self.run.last}" if self.run.last.exists() else "no checkpoint was written"

    def plot(self) -> None:
        if self.main:
            self.observe.attempt("loss curves", plot_losses, self.metrics.rows(), self.run.losses_png,
                                 title=self.resolved.recipe.name)

    def evaluate(self) -> dict[str, dict[str, float]] | None:
        """Score the model on the test split with every paired metric, plus the last ``eval_every`` scores of this
        step; write ``eval.json``."""
        if not self.main:
            return None
        results: dict[str, dict[str, float]] = {}
        record: dict[str, Any] = {"step": self.step}
        metrics = paired_metrics(self.registry)
        if self.test_data is not None and self.model.supports("evaluation_pairs") and metrics:
            ema = self.ema.applied() if self.ema is not None else contextlib.nullcontext()
            with ema:
                results = evaluate(self.model, self.test_data, metrics, device=self.device, dtype=self.dtype,
                                   batch_size=max(8, self.cfg.batch_size), seed=self.cfg.seed,
                                   progress=self.progress, limit=self.cfg.eval_max_items)
            record |= {"split": "test",
                       "items": min(len(self.test_data), self.cfg.eval_max_items or len(self.test_data))}
        last = self.quality.last if self.quality is not None else None
        if last is not None and last["step"] == self.step:
            for name, values in last["results"].items():
                results.setdefault(name, {}).update(values)
            fidelity = self.quality.fidelity
            record |= {"samples": last["samples"], "real_split": self.quality.data_id["split"],
                       "notes": last["notes"], "feature_network": fidelity.extractor.identity() if fidelity else None}
        if not results:
            return None
        self.observe.attempt("eval.json", write_json, self.run.eval_json, record | {"results": results})
        return results

    # The loop ---------------------------------------------------------------------------------------------
    def describe(self) -> str:
        params = ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in self.counts.items())
        procs = f" per process x {self.env.world_size} processes" if self.env.enabled else ""
        lines = [f"{self.resolved.recipe.name}: {self.total} steps, batch {self.cfg.batch_size}{procs} on "
                 f"{self.device} ({describe(self.device)}), {precision_name(self.dtype)}"
                 f"{' (TF32 matmuls)' if self.tuning.tf32 and self.dtype is None else ''}; {params}",
                 f"run directory: {self.run.root}"]
        flow = describe_flow(self.model, self.train_data)
        if flow:
            lines.append(f"data: {flow}")
        skipped = getattr(self.train_data, "skipped", None)
        if skipped:
            lines.append(f"data: {describe_skipped(skipped)}")
        processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1")) if self.env.enabled else 1
        lines += [f"hint: {h}" for h in speed_hints(self.device, self.cfg.precision, processes)]
        return "\n".join(lines)

    def fit(self) -> RunResult:
        try:
            return self._fit()
        finally:
            if self.owner is not None:
                self.owner.release()  # the run directory is free for --resume

    def _fit(self) -> RunResult:
        if self.step >= self.total:
            self.log(f"already at step {self.step} ≥ {self.total}: nothing to train "
                     f"(raise train.steps or train.epochs to train on)")
            return RunResult(self.run, self.step)
        self.log(self.describe())
        for warning in self.model.warnings():
            self.log(f"warning: {warning}")
        cfg = self.cfg
        bar_on = self.progress and interactive()  # else one log line per log_every steps (nohup, CI, --no-progress)
        lines = None if bar_on else ProgressLines(self.total, self.step)
        bar = tqdm(total=self.total, initial=self.step, unit="step", dynamic_ncols=True, disable=not bar_on,
                   desc=self.resolved.recipe.name)
        try:
            with _signals_caught() as caught:
                while self.step < self.total:
                    self._guarded_step()
                    stop = bool(caught)
                    if self.env.enabled:  # every rank must take the same decision at the same step
                        stop = dist.any_rank_host(stop)
                    bar.update(1)
                    last = self.step == self.total
                    log_due = self.step % cfg.log_every == 0 or last
                    samples_due = self.step % cfg.sample_every == 0 or last
                    # every rank settles at the same steps: rank 0 alone has a quality monitor
                    eval_due = bool(cfg.eval_every) and self.step % cfg.eval_every == 0
                    checkpoint_due = self.step % cfg.checkpoint_every == 0 or last or stop
                    if log_due or samples_due or eval_due or checkpoint_due:
                        self._settle()  # before anything is written: the one wait for the device, NaN check
                    if log_due:
                        self._flush_window()
                        bar.set_postfix({k: f"{v:.3g}" for k, v in self.last_row.items()
                                         if "/" in k and not k.startswith("lr/")}, refresh=False)
                        if lines:
                            self.log(lines.line(self.step, self.last_row))
                    if samples_due:
                        self.write_samples()
                    if self.quality is not None and self.quality.due(self.step, last):
                        self.score_quality()
                    if checkpoint_due:
                        self.save_checkpoint()
                    if stop:
                        raise Interrupted(self.step, self.run)
        except Interrupted:  # not a failure: the checkpoint is written and the error says how to resume
            self._ended(f"interrupted at step {self.step}")
            raise
        except NonFinite as exc:  # raised on every rank at the same step
            self._keep_history(collective=True)
            exc.hint = f"{exc.hint}; {self._last_checkpoint_note()}"
            self._ended(f"failed in step {self.step + 1}: {exc}", failed=True)
            raise
        except Exception as exc:
            # A bug or an I/O error mid-step: the weights may be half-updated, so no checkpoint is written now;
            # the metrics and curves so far are kept and the last periodic checkpoint stays the resume point.
            self._keep_history(collective=False)
            self.log(f"training failed at step {self.step}; {self._last_checkpoint_note()}")
            self._ended(f"failed in step {self.step + 1}: {exc}", failed=True)
            raise
        finally:
            bar.close()
            if self.tb is not None:
                self.tb.close()
        results = self.evaluate() if cfg.eval_at_end else None
        if results:
            self.log(results_table(results))
        self.log(f"done: {self.run.root}")
        self._ended("done")
        return RunResult(self.run, self.step, results)

    def _ended(self, status: str, failed: bool = False) -> None:
        """Record how the run ended in the manifest (``done``, ``interrupted at step N``, ``failed in step N: ...``);
        a failed run that left nothing takes its directory away."""
        if not self.main:
            return
        try:
            if failed and self.owner is not None:
                self.owner.release()  # the lock file must not keep an otherwise empty directory alive
            if failed and discard_if_empty(self.run, self.created):
                self.log(f"removed {self.run.root}: the run failed before writing a checkpoint or a sample")
            else:
                set_status(self.run, status.splitlines()[0][:300])
        except OSError as exc:  # never mask the original error
            self.log(f"(could not record the run's status: {exc})")

    def _guarded_step(self) -> None:
        """A step; a failure that follows a NaN not yet read back is reported as that NaN (single process)."""
        try:
            self._one_step()
        except Exception as exc:
            if not self.env.enabled:  # under torchrun one failing rank cannot agree with the others
                try:
                    self._settle()
                except NonFiniteLoss as nan:
                    raise nan from exc
            raise

    def _settle(self, check: bool = True) -> None:
        """Read the steps' scalars back from the device (one transfer; the host waits for the queued steps here)
        into the metrics window. With ``on_nan: stop`` and ``check``, raise :class:`NonFiniteLoss` for the first
        NaN/inf, on every rank at the same step; the window then holds the steps before it, as if training had
        stopped there. Called before every row, sample, evaluation and checkpoint, so a NaN goes unnoticed for
        at most ``log_every - 1`` further steps and nothing computed after it is ever written."""
        steps = self.pending.read()
        caught_up = time.perf_counter() - self._step_end  # the device finishing what the host queued
        self.window.seconds += caught_up if steps else 0.0
        self.elapsed += caught_up if steps else 0.0
        bad = first_nonfinite(steps) if check and self.cfg.on_nan == "stop" else None
        if check and self.cfg.on_nan == "stop" and self.env.enabled:  # agreed on the host, no device involved
            never = 2 * (self.total + 1)
            mine = never if bad is None else 2 * bad.step + (0 if bad.in_update else 1)
            agreed = dist.min_over_ranks_host(mine)
            if agreed != mine:
                bad = Nonfinite(agreed // 2, "(a loss on another rank)", float("nan"), in_update=agreed % 2 == 0)
        for s in steps:
            if bad is not None and (s.step > bad.step or (s.step == bad.step and bad.in_update)):
                break
            self.window.add(s.values, s.seconds)
        if bad is not None:
            self.step = bad.step if not bad.in_update else bad.step - 1
            raise NonFiniteLoss(bad.step, bad.name, bad.value)

    def _one_step(self) -> None:
        """One training step. Nothing here waits for the device: the step's scalars stay there until
        :meth:`_settle` reads them (``on_nan: skip`` is the exception, see ``OptimizerSet.step``)."""
        start = time.perf_counter()
        first = not self.opt.ledger.completed  # a first step's failure names the dataset or the model at fault
        batch = contract.first_batch(self.batches, self.resolved) if first else next(self.batches)
        batch = to_device(batch, self.device, self.channels_last)
        self.scheduler.set_step(self.step)
        self.opt.step_index = self.step + 1
        self.opt.begin()
        with autocast(self.device, self.dtype), self.ddp.active() if self.ddp else contextlib.nullcontext(), \
                contract.blame_model(self.resolved, active=first):
            values = self.model.train_step(batch, self.opt, self.step)
        values = self.opt.end(values)  # the model contract: groups stepped, nothing updated behind their back
        if self.ema is not None:
            self.ema.update(self.step)
        self.step += 1
        self._step_end = time.perf_counter()
        took = self._step_end - start
        self.pending.add(self.step, took, values, self.opt.take_updates())
        self.elapsed += took


def train(resolved: Resolved, registry: Registry, *, out: Path | str | None = None, resume: Path | str | None = None,
          overwrite: bool = False, progress: bool = True, log: Log | None = None) -> RunResult:
    """Train a resolved recipe to the end; under torchrun, inside a process group torn down on any exit.

    ``out``: the run directory (default ``runs/<recipe>/<timestamp>``); ``resume``: a run directory or checkpoint
    to continue; ``overwrite``: start again in an ``out`` that holds a run (deleting it); ``progress``: a progress
    bar on a terminal; ``log``: where run messages go (default stderr). Returns the run directory, the last step
    and the end-of-training scores.
    """
    env = dist.detect()
    device = select_device(dist.device_for(env, resolved.train.device))
    with dist.process_group(env, device):
        return Trainer(resolved, registry, env=env, out=Path(out) if out is not None else None,
                       resume=Path(resume) if resume is not None else None, overwrite=overwrite, progress=progress,
                       log=log).fit()
