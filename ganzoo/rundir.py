"""The run directory: where a run keeps its recipe, manifest, metrics, pictures and checkpoints."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .errors import TrainingError


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.yaml"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def losses_png(self) -> Path:
        return self.root / "losses.png"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def last(self) -> Path:
        return self.checkpoints / "last.pt"

    @property
    def eval_json(self) -> Path:
        return self.root / "eval.json"

    def resume_command(self) -> str:
        """The command that continues this run: its own resolved recipe, so ``--set`` values carry over."""
        return f"ganzoo run {shlex.quote(str(self.recipe))} --resume {shlex.quote(str(self.root))}"

    def create(self) -> "RunDir":
        """Make the directories and prove they are writable, with a clear error if not."""
        try:
            for d in (self.root, self.samples, self.checkpoints):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise TrainingError(f"cannot write the run directory {self.root}: {exc.strerror or exc}",
                                hint="choose another location with --out DIR") from None
        return self


def new_run_dir(recipe_name: str, base: Path = Path("runs")) -> RunDir:
    """``runs/<recipe>/<timestamp>/`` (a suffix is added if two runs start in the same second)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    root = base / recipe_name / stamp
    n = 1
    while root.exists():
        n += 1
        root = base / recipe_name / f"{stamp}-{n}"
    return RunDir(root)


def latest_run(recipe_name: str, base: Path = Path("runs")) -> RunDir | None:
    """The most recent run of a recipe that has a ``last.pt`` (for ``--resume auto``)."""
    parent = base / recipe_name
    if not parent.is_dir():
        return None
    runs = sorted((p for p in parent.iterdir() if (p / "checkpoints" / "last.pt").is_file()),
                  key=lambda p: (p / "checkpoints" / "last.pt").stat().st_mtime)
    return RunDir(runs[-1]) if runs else None


def run_root(checkpoint: Path) -> Path | None:
    """The run directory holding a checkpoint file (``RUN/checkpoints/x.pt``), if it sits in one."""
    parent = Path(checkpoint).parent
    root = parent.parent if parent.name == "checkpoints" else parent
    return root if (root / "recipe.yaml").is_file() else None


def recipe_name(recipe_path: Path) -> str:
    """The name a recipe file gives its runs: its stem, or the original recipe's for a run's ``recipe.yaml``."""
    path = Path(recipe_path)
    if path.name == "recipe.yaml":
        name = read_json(path.parent / "manifest.json").get("recipe_name")
        if isinstance(name, str) and name and "/" not in name and name not in (".", ".."):
            return name
        if path.parent.parent.parent.name == "runs":  # runs/<recipe>/<timestamp>/ of an older ganzoo
            return path.parent.parent.name
    return path.stem


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a file; {} when it is missing or unreadable (manifests are informative, not vital)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


#: what a resume entry of ``manifest.json`` records about the process that resumed
_SESSION_KEYS = ("started", "command", "hostname", "device", "world_size", "ganzoo", "torch", "git_sha")


def with_history(info: dict[str, Any], previous: dict[str, Any], step: int) -> dict[str, Any]:
    """The manifest of a run resumed at ``step``: the current settings, the first start and command, and one
    ``resumes`` entry per resume (the earlier ones kept from ``previous``, the run's last manifest)."""
    if not step:
        return info | {"resumes": []}
    entry = {"step": step} | {k: info[k] for k in _SESSION_KEYS if k in info}
    first = {k: previous[k] for k in ("started", "command") if k in previous}
    history = previous.get("resumes") if isinstance(previous.get("resumes"), list) else []
    return info | first | {"resumed_at": step, "resumes": [*history, entry]}


def set_status(run: RunDir, status: str) -> None:
    """Record how the run ended (``done``, ``interrupted at step N``, ``failed in step N: ...``) in its manifest."""
    info = read_json(run.manifest)
    if info:
        write_json(run.manifest, info | {"status": status})


def dirs_to_create(root: Path) -> list[Path]:
    """``root`` and those of its parents that do not exist yet, deepest first."""
    missing, p = [], Path(root)
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    return missing


#: files and folders the engine writes into a run directory before its first checkpoint
_ENGINE_FILES = ("recipe.yaml", "manifest.json", "metrics.jsonl", "losses.png", ".write-test")
_ENGINE_DIRS = ("samples", "checkpoints", "tb")


def discard_if_empty(run: RunDir, created: list[Path]) -> bool:
    """Remove a failed run's directory when it holds no checkpoint and no samples and this run created it.

    Only the engine's own files are deleted, and folders only when they are then empty, so nothing a user put
    there is lost. ``created`` are the folders the run made (:func:`dirs_to_create`), deepest first.
    """
    if not created or created[0] != run.root or not run.root.is_dir():
        return False
    if any(run.checkpoints.glob("*.pt")) or any(run.samples.glob("*")):
        return False
    for name in _ENGINE_FILES:
        (run.root / name).unlink(missing_ok=True)
    for name in _ENGINE_DIRS:
        folder = run.root / name
        if folder.is_dir():
            for f in folder.iterdir():
                if name == "tb" and f.is_file() and f.name.startswith("events.out.tfevents"):
                    f.unlink()
            with contextlib.suppress(OSError):
                folder.rmdir()
    for folder in created:
        try:
            folder.rmdir()
        except OSError:  # something else lives there: keep it
            break
    return not run.root.exists()


def git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def manifest(*, device: str, seed: int, plugins: list[dict[str, Any]], world_size: int = 1) -> dict[str, Any]:
    return {
        "ganzoo": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "hostname": platform.node(),
        "device": device,
        "world_size": world_size,
        "seed": seed,
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "cwd": os.getcwd(),
        "git_sha": git_sha(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "plugins": plugins,
    }


def write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)
