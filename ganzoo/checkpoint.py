"""Checkpoints: plain dicts of tensors and primitives, loadable with ``weights_only=True``, written atomically."""

from __future__ import annotations

import contextlib
import errno
import os
import pickle
import random
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError

FORMAT_VERSION = 1
_PREFIX = re.compile(r"(^|\.)(module|_orig_mod)\.")
_STEP_FILE = re.compile(r"^step_(\d{7,})\.pt$")


def clean_keys(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Strip DDP's ``module.`` and torch.compile's ``_orig_mod.`` from parameter names."""
    out = {}
    for key, value in state_dict.items():
        while True:
            new = _PREFIX.sub(r"\1", key, count=1)
            if new == key:
                break
            key = new
        out[key] = value
    return out


def rng_state() -> dict[str, Any]:
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {"python": [version, list(internal), gauss], "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np

        kind, keys, pos, has_gauss, cached = np.random.get_state()
        state["numpy"] = [kind, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(cached)]
    except ImportError:
        pass
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    if "numpy" in state:
        import numpy as np

        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, keys.numpy().astype("uint32"), pos, has_gauss, cached))


def save(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` atomically: temp file, fsync, rename. Never leaves a half-written file.

    Whatever interrupts the write (a full disk, which torch's zip writer reports as a ``RuntimeError``, or
    Ctrl-C), the temp file is removed and ``path`` keeps its previous content.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # a partial file would keep the disk full
        if isinstance(exc, (OSError, RuntimeError)):
            raise _write_error(exc, state, path) from None
        raise


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def _write_error(exc: BaseException, state: dict[str, Any], path: Path) -> CheckpointError:
    needed = _nbytes(state)
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    chain, cause = [], exc
    while cause is not None and len(chain) < 10:  # torch wraps the file object's OSError in a RuntimeError
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    full = any(isinstance(e, OSError) and e.errno in _DISK_FULL for e in chain) or (free is not None and free < needed)
    hint = "free space or choose another --out; the previous checkpoint is intact"
    if full:
        left = f", {_mb(free)} free" if free is not None else ""
        return CheckpointError(f"disk full at {path.parent}: {path.name} needs {_mb(needed)}{left}", hint=hint)
    if isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return CheckpointError(f"cannot write checkpoint {path}: {reason[:200]}", hint=hint)


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:.0f} MB"


def _nbytes(x: Any) -> int:
    """Bytes of the tensors in a nested state: about what its checkpoint file takes."""
    if torch.is_tensor(x):
        return x.numel() * x.element_size()
    if isinstance(x, dict):
        return sum(_nbytes(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return sum(_nbytes(v) for v in x)
    return 0


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a ganzoo checkpoint with ``weights_only=True``; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of files it then refuses
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        # torch's message advises weights_only=False, i.e. running the file's code: not advice to pass on
        raise CheckpointError(f"cannot read checkpoint {path}: it holds Python objects other than tensors and "
                              f"plain data, so it is not a ganzoo checkpoint and is not loaded",
                              hint="ganzoo loads checkpoints with weights_only=True and never runs code from a file"
                              ) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file (text, truncated zip, ...) is one clear error
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path}: corrupt, truncated or not a ganzoo checkpoint "
                              f"({type(exc).__name__}: {first[:200]})") from None
    if not isinstance(state, dict) or state.get("format") is None or "model" not in state:
        raise CheckpointError(f"{path} is not a ganzoo checkpoint (no format version or model state)")
    if state["format"] > FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format {state['format']}; this ganzoo reads up to "
                              f"{FORMAT_VERSION}", hint="upgrade ganzoo")
    return state


def step_path(directory: Path, step: int) -> Path:
    return Path(directory) / f"step_{step:07d}.pt"


def prune(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` ``step_*.pt`` files (``last.pt`` is never touched)."""
    steps = sorted((int(m.group(1)), p) for p in Path(directory).iterdir() if (m := _STEP_FILE.match(p.name)))
    for _, p in steps[: max(0, len(steps) - keep)]:
        p.unlink(missing_ok=True)


def find(target: Path) -> Path:
    """A checkpoint file from a file, a run directory, or a checkpoints directory."""
    target = Path(target)
    for candidate in (target, target / "checkpoints" / "last.pt", target / "last.pt"):
        if candidate.is_file():
            return candidate
    if not target.exists():
        raise CheckpointError(f"no such file or directory: {target}")
    raise CheckpointError(f"no checkpoint in {target} (looked for checkpoints/last.pt)")
