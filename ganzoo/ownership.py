"""Who owns a run directory: one run at a time (a lock file), and no new run on top of an old one.

A run directory that already holds a run is refused unless the run is being resumed, or the user says
``--overwrite`` (which removes the old run's files first, so rows and checkpoints never mix). While a run
owns a directory, ``.ganzoo.lock`` holds its pid, host and start time; a second run is refused naming the
owner. A lock whose process is gone (same host) is stale and taken over; the lock is removed on exit.
Under torchrun only rank 0 takes the lock; the other ranks learn the outcome from it.
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from . import distributed as dist
from .errors import TrainingError

LOCK_NAME = ".ganzoo.lock"
#: what a run writes into its directory: the markers of an existing run, and what --overwrite removes
RUN_FILES = ("recipe.yaml", "manifest.json", "metrics.jsonl", "losses.png", "eval.json")
RUN_DIRS = ("checkpoints", "samples", "tb")


def holds_run(root: Path) -> bool:
    """Whether ``root`` already holds (part of) a run: its recipe, manifest, metrics or a checkpoint."""
    root = Path(root)
    if any((root / name).exists() for name in RUN_FILES[:3]):
        return True
    checkpoints = root / "checkpoints"
    return checkpoints.is_dir() and any(p.suffix == ".pt" for p in checkpoints.iterdir())


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux), to tell a live owner from a reused pid; None elsewhere."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    now = _process_start(pid)
    return started is None or now is None or now == started


def _parse(text: str) -> dict | None:
    """The owner written in a lock file; None while it is empty (being written)."""
    if not text.strip():
        return None
    try:
        owner = json.loads(text)
    except ValueError:
        return {}
    return owner if isinstance(owner, dict) else {}


def _describe(owner: dict) -> str:
    since = f" since {owner['started']}" if owner.get("started") else ""
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}{since}"


class RunLock:
    """The lock file of one run directory, held by this process until :meth:`release` (or exit)."""

    def __init__(self, root: Path):
        self.path = Path(root) / LOCK_NAME
        self.held = False
        self.took_over: dict | None = None  # the stale owner replaced, if any

    def acquire(self) -> "RunLock":
        me = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": _process_start(os.getpid()),
              "started": dt.datetime.now().isoformat(timespec="seconds"),
              "command": " ".join(["ganzoo", *sys.argv[1:]])}
        for attempt in range(5):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                text = self._read()
                if text is None:  # removed this instant: try again
                    continue
                owner = _parse(text)
                if owner is None and attempt < 4:  # being written this instant: look again
                    time.sleep(0.05 * (attempt + 1))
                    continue
                owner = owner or {}  # still empty: a crash right after creating it; its owner is unknown
                if self._stale(owner, me):
                    # remove it only if it still is the stale owner's: another run may have taken over meanwhile
                    if self._read() == text:
                        self.took_over = owner
                        self.path.unlink(missing_ok=True)
                    continue
                raise TrainingError(f"{self.path.parent} is in use by another run ({_describe(owner)})",
                                    hint=f"that run: {owner.get('command', '?')}; wait for it to finish or choose "
                                    f"another --out; if that process is gone, delete {self.path}")
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            atexit.register(self.release)
            return self
        raise TrainingError(f"cannot take the lock {self.path}", hint=f"if no run uses {self.path.parent}, delete it")

    def _read(self) -> str | None:
        try:
            return self.path.read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            return ""

    @staticmethod
    def _stale(owner: dict, me: dict) -> bool:
        """A lock is stale when its owner ran on this host and its process is gone (or is this process)."""
        if owner.get("host") != me["host"] or not isinstance(owner.get("pid"), int):
            return False  # another machine (shared file system): it cannot be checked from here
        return owner["pid"] == me["pid"] or not _alive(owner["pid"], owner.get("proc_start"))

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        atexit.unregister(self.release)
        try:
            if json.loads(self.path.read_text()).get("pid") == os.getpid():
                self.path.unlink()
        except (OSError, ValueError):
            pass


def clear_run(root: Path) -> None:
    """Remove a previous run's files from ``root`` (``--overwrite``); other files are left alone."""
    for name in RUN_FILES:
        (root / name).unlink(missing_ok=True)
    for name in RUN_DIRS:
        if (root / name).is_dir():
            shutil.rmtree(root / name)


def claim(root: Path, *, resuming: bool, overwrite: bool, main: bool = True) -> RunLock | None:
    """Take ``root`` for a run (rank 0), or raise naming why not; every rank gets the same outcome.

    ``resuming``: the run continues the one in ``root``. ``overwrite``: an old run there is removed first.
    """
    lock, error = None, None
    if main:
        try:
            if resuming and overwrite:
                raise TrainingError("--overwrite would delete the run that --resume continues",
                                    hint="drop --overwrite to resume, or drop --resume to start again from scratch")
            root.mkdir(parents=True, exist_ok=True)
            lock = RunLock(root).acquire()  # first, so that a run in progress is named as such
            if not resuming and holds_run(root):
                if not overwrite:
                    raise TrainingError(
                        f"{root} already holds a run", hint=f"continue it with --resume {root}, start it again "
                        "with --overwrite (its checkpoints and metrics are deleted), or choose another --out")
                clear_run(root)
        except TrainingError as exc:
            error = exc
        except OSError:
            pass  # an unwritable directory: RunDir.create says so with a clear error
    error = dist.broadcast(None if error is None else (error.message, error.hint))
    if error is not None:
        if lock is not None:
            lock.release()
        raise TrainingError(error[0], hint=error[1])
    return lock
