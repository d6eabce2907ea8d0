"""Progress as log lines, for when a progress bar would not show: ``--no-progress``, or stderr not a terminal.

A bar redrawn with ``\\r`` becomes one endless line in a file written by nohup, SLURM or CI; these lines say
the same (step, losses, speed, time left) once per ``log_every`` steps instead.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def interactive(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) is a terminal, where a redrawn progress bar makes sense."""
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def loss_items(row: dict[str, Any]) -> dict[str, float]:
    """The model's scalars in a metrics row (``group/term``), without learning rates and quality scores."""
    return {k: v for k, v in row.items()
            if "/" in k and not k.startswith(("lr/", "quality/")) and isinstance(v, (int, float))}


class ProgressLines:
    """Formats one line per logged step: ``step 50/150 (33%)  D/fake 0.51  G/l1 0.3  0.62 s/step  ETA 1m02s``.

    Speed is wall-clock time between lines (sampling and checkpoints included), so the ETA is honest.
    """

    def __init__(self, total: int, start_step: int = 0, clock=time.monotonic):
        self.total, self.clock = total, clock
        self.last_step, self.last_time = start_step, clock()

    def line(self, step: int, row: dict[str, Any]) -> str:
        now = self.clock()
        steps = step - self.last_step
        per_step = (now - self.last_time) / steps if steps > 0 else None
        self.last_step, self.last_time = step, now
        width = len(str(self.total))
        parts = [f"step {step:>{width}}/{self.total} ({100 * step // max(1, self.total):>3}%)"]
        parts += [f"{k} {v:.4g}" for k, v in loss_items(row).items()]
        if per_step is not None:
            parts.append(f"{per_step:.3g} s/step")
            if step < self.total:
                parts.append(f"ETA {duration(per_step * (self.total - step))}")
        return "  ".join(parts)
