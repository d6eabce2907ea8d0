"""The run directory: where a run keeps its recipe, manifest, metrics, pictures and checkpoints."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
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
