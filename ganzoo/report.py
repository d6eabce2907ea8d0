"""What a run shows: ``metrics.jsonl``, the loss-curve figure, and sample pictures."""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
from torch import Tensor

#: metrics.jsonl fields written by the engine rather than the model (not plotted as losses).
ENGINE_FIELDS = ("step", "epoch", "time", "samples_per_s", "skipped")
#: loss series with at most this many points are drawn with markers (one point draws no line at all)
SHORT_SERIES = 20


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


class MetricsLog:
    """Append-only ``metrics.jsonl``; on resume, rows after the resumed step are dropped.

    A line that does not parse (the half-written last row of a run killed mid-append) is dropped, never fatal.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def truncate_after(self, step: int) -> str | None:
        """Keep the rows up to ``step``; returns a note when unreadable lines were dropped."""
        if not self.path.exists():
            return None
        parsed, bad = self._parse()
        self.path.write_text("".join(line + "\n" for line, row in parsed if row.get("step", 0) <= step))
        if not bad:
            return None
        total = len(parsed) + len(bad)
        what = ("a half-written last line" if bad == [total] else
                f"{len(bad)} unreadable line(s) (line {', '.join(map(str, bad[:5]))}{', ...' if len(bad) > 5 else ''})")
        return f"dropped {what} of {self.path}"

    def read_lines(self) -> list[str]:
        return [line for line in self.path.read_text().splitlines() if line.strip()]

    def _parse(self) -> tuple[list[tuple[str, dict[str, Any]]], list[int]]:
        """(line, row) for every readable row, and the 1-based numbers of the lines that are not."""
        parsed, bad = [], []
        for number, line in enumerate(self.read_lines(), 1):
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if isinstance(row, dict):
                parsed.append((line, row))
            else:
                bad.append(number)
        return parsed, bad

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(row, allow_nan=True) + "\n")

    def rows(self) -> list[dict[str, Any]]:
        return [row for _, row in self._parse()[0]] if self.path.exists() else []


class Observation:
    """Runs the writers of what a run shows besides its checkpoints (sample grids, loss curves, TensorBoard).

    They never stop training: a failure (a full disk, ...) is reported once per kind of output, and the run goes
    on without it. Checkpoints are not written through here: a checkpoint that cannot be written stops the run.
    """

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.failed: set[str] = set()

    def attempt(self, what: str, write: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        try:
            write(*args, **kwargs)
            return True
        except Exception as exc:  # noqa: BLE001 - observation output must not end a run
            self.report(what, exc)
            return False

    def report(self, what: str, exc: BaseException) -> None:
        if what in self.failed:
            return
        self.failed.add(what)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip().split("\n")[0]
        self.log(f"warning: cannot write {what} ({reason or type(exc).__name__}); training goes on")


@contextlib.contextmanager
def _atomically(path: Path) -> Iterator[Path]:
    """A temp path (same suffix) renamed onto ``path`` when the block succeeds, removed when it fails."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _panel_of(key: str) -> str:
    """Losses by group (``D/...``, ``G/...``); evaluation scores one panel per metric (FID and KID differ in scale)."""
    if key.startswith("eval/"):
        return "/".join(key.split("/")[:2])
    return key.split("/", 1)[0] if "/" in key else "loss"


def plot_losses(rows: Iterable[dict[str, Any]], path: Path, title: str = "") -> None:
    """One panel per loss group (the part of a key before ``/``), learning rates in their own panel."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for key, value in row.items():
            if key in ENGINE_FIELDS or not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            series[_panel_of(key)][key].append((row["step"], float(value)))
    if not series:
        return
    plt = _pyplot()
    panels = sorted(series, key=lambda p: (p == "lr", p))
    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.6 * len(panels)), sharex=True, squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        for key, points in sorted(series[panel].items()):
            steps, values = zip(*points)
            # a line needs two points: short series (a few logged steps) get markers too
            marker = {"marker": "o", "markersize": 3} if len(points) <= SHORT_SERIES else {}
            ax.plot(steps, values, label=key, linewidth=1.2, **marker)
        ax.set_ylabel(panel)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel("step")
    if title:
        axes[0, 0].set_title(title)
    fig.tight_layout()
    try:
        with _atomically(path) as tmp:
            fig.savefig(tmp, dpi=90)
    finally:
        plt.close(fig)


def _to_image(t: Tensor):
    """(C, H, W) in [-1, 1] -> (H, W, C) or (H, W) float array in [0, 1] for imshow."""
    t = ((t.detach().float().cpu().clamp(-1, 1) + 1) / 2).contiguous()
    if t.shape[0] == 1:
        return t[0].numpy()
    if t.shape[0] > 3:
        t = t[:3]
    return t.permute(1, 2, 0).numpy()


def save_samples(samples: dict[str, Tensor], path: Path, title: str = "", markers: Tensor | None = None,
                 captions: dict[str, tuple[str, ...]] | None = None, row_labels: list[str] | None = None) -> None:
    """A picture of named samples: an image grid (rows = examples, columns = names) or a 2-D scatter.

    ``captions`` gives columns longer titles (``input: right half (B)``), longest first: the first that fits
    the column's width is used, else the name. ``row_labels`` titles each row (e.g. its class).
    """
    first = next(iter(samples.values()))
    if first.dim() == 2:
        _save_scatter(samples, path, title, markers)
    else:
        _save_image_grid(samples, path, title, captions or {}, row_labels)


def save_labelled_rows(rows: list[tuple[str, Tensor]], path: Path, title: str = "") -> None:
    """One row of images per label (``ganzoo sample --per-class``): each row titled, e.g. ``3: dress``."""
    from PIL import Image, ImageDraw

    h, w = rows[0][1].shape[-2:]
    scale = max(1, 64 // max(h, w))
    cell_h, cell_w, pad = h * scale, w * scale, 4
    label_w = 8 + 6 * max(len(label) for label, _ in rows)
    header = 16 if title else pad
    cols = max(len(images) for _, images in rows)
    canvas = Image.new("RGB", (label_w + cols * (cell_w + pad) + pad, header + len(rows) * (cell_h + pad)), "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, 2), title, fill="black")
    for r, (label, images) in enumerate(rows):
        y = header + r * (cell_h + pad)
        draw.text((pad, y + cell_h // 2 - 5), label, fill="black")
        for c, image in enumerate(images):
            canvas.paste(_cell(image, scale), (label_w + c * (cell_w + pad), y))
    with _atomically(path) as tmp:
        canvas.save(tmp)


def _cell(image: Tensor, scale: int):
    from PIL import Image

    img = Image.fromarray((_to_image(image) * 255).round().astype("uint8")).convert("RGB")
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def _save_scatter(samples: dict[str, Tensor], path: Path, title: str, markers: Tensor | None) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    for name, pts in samples.items():
        pts = pts.detach().float().cpu()
        ax.scatter(pts[:, 0], pts[:, 1], s=4, alpha=0.5, label=name)
    if markers is not None:
        m = markers.detach().float().cpu()
        ax.scatter(m[:, 0], m[:, 1], marker="x", c="k", s=40, label="modes")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    try:
        with _atomically(path) as tmp:
            fig.savefig(tmp, dpi=100)
    finally:
        plt.close(fig)


def _column_title(name: str, captions: tuple[str, ...], chars: int) -> str:
    return next((c for c in captions if len(c) <= chars), name[:chars])


def _save_image_grid(samples: dict[str, Tensor], path: Path, title: str,
                     captions: dict[str, tuple[str, ...]], row_labels: list[str] | None = None) -> None:
    """Rows = examples, columns = names, a header line with the names; tiny images are enlarged (nearest)."""
    from PIL import Image, ImageDraw

    names = list(samples)
    rows = min(t.shape[0] for t in samples.values())
    h, w = next(iter(samples.values())).shape[-2:]
    scale = max(1, 96 // max(h, w))
    cell_h, cell_w, pad, header = h * scale, w * scale, 4, 14 + (14 if title else 0)
    left = 8 + 6 * max(len(label) for label in row_labels[:rows]) if row_labels else 0
    canvas = Image.new("RGB", (left + len(names) * (cell_w + pad) + pad, header + rows * (cell_h + pad) + pad),
                       "white")
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((pad, 2), title, fill="black")
    for r, label in enumerate((row_labels or [])[:rows]):
        draw.text((pad, header + pad + r * (cell_h + pad) + cell_h // 2 - 5), label, fill="black")
    for c, name in enumerate(names):
        x = left + pad + c * (cell_w + pad)
        draw.text((x, header - 13), _column_title(name, captions.get(name, ()), max(4, cell_w // 6)), fill="black")
        for r in range(rows):
            arr = (_to_image(samples[name][r]) * 255).round().astype("uint8")
            img = Image.fromarray(arr).convert("RGB")
            if scale > 1:
                img = img.resize((cell_w, cell_h), Image.NEAREST)
            canvas.paste(img, (x, header + pad + r * (cell_h + pad)))
    with _atomically(path) as tmp:
        canvas.save(tmp)


def save_images(images: Tensor, paths: Iterable[Path]) -> None:
    """Write each image of a batch in [-1, 1] to its own file."""
    from PIL import Image

    for img, path in zip(images, paths):
        arr = (_to_image(img) * 255).round().astype("uint8")
        Image.fromarray(arr).save(path)


def save_grid(images: Tensor, path: Path, nrow: int | None = None) -> None:
    """A single image grid of a batch in [-1, 1] (``ganzoo sample --out grid.png``)."""
    from torchvision.utils import save_image

    nrow = nrow or max(1, int(math.ceil(math.sqrt(images.shape[0]))))
    save_image((images.detach().float().cpu().clamp(-1, 1) + 1) / 2, path, nrow=nrow, padding=2)


def format_table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[f"{c:.4f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def tensorboard_writer(log_dir: Path):
    """A TensorBoard SummaryWriter when tensorboard is installed, else None; never raises."""
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter(log_dir=str(log_dir))
    except Exception:
        return None


def as_float(value: Any) -> float:
    return float(value.detach().float()) if isinstance(value, torch.Tensor) else float(value)


class MetricsWindow:
    """Scalars of the steps since the last log row, averaged into the next row; its state survives a resume."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {}
        self.seconds = 0.0
        self.steps = 0

    def add(self, values: dict[str, float], seconds: float) -> None:
        for key, value in values.items():
            self.values.setdefault(key, []).append(value)
        self.seconds += seconds
        self.steps += 1

    def means(self) -> dict[str, float]:
        return {k: sum(v) / len(v) for k, v in self.values.items() if v}

    def reset(self) -> None:
        self.values, self.seconds, self.steps = {}, 0.0, 0

    def state_dict(self) -> dict[str, Any]:
        return {"values": self.values, "seconds": self.seconds, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.values = {k: list(v) for k, v in state["values"].items()}
        self.seconds, self.steps = float(state["seconds"]), int(state["steps"])
