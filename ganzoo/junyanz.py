"""The reference implementation's world (junyanz/pytorch-CycleGAN-and-pix2pix): its checkpoint files and
``train_opt.txt``, turned into a ganzoo checkpoint and back.

This module knows the reference's *format* and nothing about ganzoo's plugins. The plugins supply the rest:

- each network has ``junyanz_table()``: its layers and their names in the reference (:mod:`ganzoo.keymap`);
- each model class that has a reference counterpart has a ``junyanz`` attribute (an adapter) with ``name`` (the
  reference's ``--model``), ``defaults`` (its option defaults there), ``files(opt)`` (slot -> file letter,
  e.g. ``{"G_AB": "G_A"}``), ``recipe(opt)`` (the ``model``/``components``/``losses``/``data`` sections) and
  ``options(recipe)`` (the reverse, for ``train_opt.txt``; raises ``ValueError`` for what the reference lacks).

Files are read with ``torch.load(weights_only=True)``: nothing in them is executed.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from . import __version__, checkpoint
from .build import build_model
from .errors import GanzooError
from .keymap import Mismatch, shape_text, to_ours, to_theirs
from .recipe import recipe_from_dict
from .registry import Registry
from .resolve import resolve

#: reference option defaults shared by its models (models override some, see each adapter's ``defaults``)
BASE_DEFAULTS: dict[str, Any] = {
    "input_nc": 3, "output_nc": 3, "ngf": 64, "ndf": 64, "netD": "basic", "netG": "resnet_9blocks",
    "n_layers_D": 3, "norm": "instance", "init_type": "normal", "init_gain": 0.02, "no_dropout": False,
    "direction": "AtoB", "dataset_mode": "unaligned", "dataroot": None, "load_size": 286, "crop_size": 256,
    "preprocess": "resize_and_crop", "no_flip": False, "batch_size": 1, "beta1": 0.5, "lr": 0.0002,
    "n_epochs": 100, "n_epochs_decay": 100, "lr_policy": "linear", "gan_mode": "lsgan", "pool_size": 50,
    "eval": False, "name": "experiment_name",
}
_FILE = re.compile(r"^(?:.*_)?net_(G|D|G_A|G_B|D_A|D_B)\.pth$")
_OPT_LINE = re.compile(r"^\s*([A-Za-z_][\w]*):\s*(.*?)\s*(?:\[default:.*\])?\s*$")


@dataclass
class Imported:
    checkpoint: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _typed(value: str) -> Any:
    if value in ("True", "False"):
        return value == "True"
    if value in ("None", ""):
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def read_train_opt(path: Path) -> dict[str, Any]:
    """The options of a reference ``train_opt.txt`` (``key: value  [default: ...]`` lines), typed."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise GanzooError(f"cannot read {path}: {exc.strerror or exc}") from None
    options = {m.group(1): _typed(m.group(2)) for line in text.splitlines() if (m := _OPT_LINE.match(line))}
    if "netG" not in options and "model" not in options:
        raise GanzooError(f"{path} is not a reference train_opt.txt (no netG or model line)",
                          hint="give the train_opt.txt the reference wrote next to its checkpoints")
    return options


def format_train_opt(options: Mapping[str, Any]) -> str:
    """``train_opt.txt`` in the reference's layout."""
    lines = ["----------------- Options ---------------"]
    lines += [f"{k:>25}: {'' if v is None else v}" for k, v in sorted(options.items(), key=lambda kv: kv[0].lower())]
    return "\n".join(lines + ["----------------- End -------------------", ""])


def read_state(path: Path) -> dict[str, Tensor]:
    """A reference state dict (``latest_net_G.pth``), loaded with ``weights_only=True``; one clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise GanzooError(f"no such file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "unsupported global" not in str(exc).lower():  # not pickled objects at all (text, HTML, ...)
            raise GanzooError(f"cannot read {path}: corrupt, truncated or not a PyTorch file") from None
        raise GanzooError(f"{path} holds Python objects other than tensors: not a reference state dict, not loaded",
                          hint="ganzoo reads checkpoints with weights_only=True and never runs code from a file"
                          ) from None
    except Exception as exc:  # noqa: BLE001 - a truncated zip, a text file, ...: one clear line
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise GanzooError(f"cannot read {path}: corrupt, truncated or not a PyTorch file "
                          f"({type(exc).__name__}: {first[:160]})") from None
    if isinstance(state, dict) and "format" in state and "model" in state:
        raise GanzooError(f"{path} is a ganzoo checkpoint already",
                          hint="use it directly, or `ganzoo export` it to the reference's format")
    if not isinstance(state, dict) or not state or not all(torch.is_tensor(v) for v in state.values()):
        raise GanzooError(f"{path} is not a state dict of tensors (a reference latest_net_*.pth file)")
    return checkpoint.clean_keys(dict(state))


def reference_files(path: Path) -> dict[str, Path]:
    """File letter (``G``, ``D``, ``G_A``, ...) -> file, from a file or a reference checkpoint directory."""
    path = Path(path)
    if path.is_dir():
        found = {m.group(1): p for p in sorted(path.glob("latest_net_*.pth")) if (m := _FILE.match(p.name))}
        if not found:
            raise GanzooError(f"no latest_net_*.pth in {path}",
                              hint="give the reference's checkpoint directory (checkpoints/<name>/) or one file")
        return found
    if not path.is_file():
        raise GanzooError(f"no such file or directory: {path}")
    m = _FILE.match(path.name)
    return {m.group(1) if m else "G": path}  # a downloaded pretrained generator may carry any name


def sniff(state: Mapping[str, Tensor]) -> dict[str, Any]:
    """The reference options a state dict looks like it was built with (for hints): netG/netD, widths, norm."""
    keys = list(state)
    weights = [k for k in keys if k.endswith(".weight") and state[k].dim() == 4]
    if not weights:
        return {}
    first, last = state[weights[0]], state[weights[-1]]
    norm = "batch" if any(k.endswith("running_mean") and k[:-12] + "weight" in state for k in keys) else None
    out: dict[str, Any] = {"norm": norm} if norm else {}
    if keys[0].startswith("model.model."):
        levels = max(k.count("model") for k in keys) - 1
        out |= {"netG": f"unet_{2 ** levels}" if levels in (7, 8) else f"a U-Net of {levels} levels",
                "ngf": first.shape[0], "input_nc": first.shape[1], "output_nc": last.shape[1]}
    elif any(".conv_block." in k for k in keys):
        blocks = len({k.split(".")[1] for k in keys if ".conv_block." in k})
        out |= {"netG": f"resnet_{blocks}blocks", "ngf": first.shape[0], "input_nc": first.shape[1],
                "output_nc": last.shape[0]}
    elif last.shape[0] == 1:  # one logit per patch or pixel: a discriminator
        convs = len(weights)
        out |= {"netD": "pixel" if first.shape[-1] == 1 else ("basic" if convs == 5 else "n_layers"),
                "ndf": first.shape[0], "D_input_nc": first.shape[1]}
        if out["netD"] == "n_layers":
            out["n_layers_D"] = convs - 2
    return out


def _mismatch_error(exc: Mismatch, path: Path, what: str, opt: Mapping[str, Any],
                    state: Mapping[str, Tensor]) -> GanzooError:
    looks = sniff(state)
    if "netD" in looks and what.startswith("netG"):
        return GanzooError(f"{path}: a discriminator file (its last conv has 1 output channel, netD {looks['netD']}) "
                           f"given as the generator", hint="give the generator file (latest_net_G.pth), or name the "
                           "discriminator latest_net_D.pth")
    if "netG" in looks and what.startswith("netD"):
        return GanzooError(f"{path}: a generator file ({looks['netG']}) given as the discriminator",
                           hint="give the discriminator file (latest_net_D.pth)")
    wrong = [f"--{k} {v}" for k, v in looks.items() if k in opt and str(opt[k]) != str(v)]
    guess = f" ({' '.join(wrong)}?)" if wrong else ""
    if exc.kind == "shape":
        message = f"{exc.key} has shape {shape_text(exc.found)}, {what} expects {shape_text(exc.expected)}"
    elif exc.kind == "missing":
        message = f"{exc.key} {shape_text(exc.expected)} is missing, {what} needs it"
    else:
        message = f"unknown key {exc.key} {shape_text(exc.found)} for {what}"
    return GanzooError(f"{path}: {message}{guess}",
                       hint="the architecture options (--netG/--netD, --ngf/--ndf, --norm, --no-dropout, --input-nc, "
                            "--output-nc) must be those the file was trained with; --train-opt reads them from the "
                            "reference's train_opt.txt")


def _adapter(model_cls: type) -> Any:
    adapter = getattr(model_cls, "junyanz", None)
    if adapter is None:
        raise GanzooError(f"model {model_cls.__name__} has no counterpart in the reference implementation")
    return adapter


def find_model(registry: Registry, reference_model: str) -> tuple[str, type]:
    """The registered model whose adapter names the reference's ``--model`` (``pix2pix``, ``cycle_gan``)."""
    known = {}
    for entry in registry.entries("model"):
        adapter = getattr(entry.factory, "junyanz", None)
        if adapter is not None:
            known[adapter.name] = (entry.name, entry.factory)
            known.setdefault(entry.name, (entry.name, entry.factory))
    if reference_model not in known:
        raise GanzooError(f"reference model {reference_model!r} has no ganzoo counterpart",
                          hint=f"models that import: {', '.join(sorted(known))}")
    return known[reference_model]


def _train_section(opt: Mapping[str, Any]) -> dict[str, Any]:
    total = opt["n_epochs"] + opt["n_epochs_decay"]
    schedule: Any = "constant"
    if opt["lr_policy"] == "linear" and opt["n_epochs_decay"] > 0:
        schedule = {"name": "linear_decay", "hold": opt["n_epochs"] / total}
    # fp32: the reference trained and tested in fp32 (bf16 moves CycleGAN outputs by up to 0.037)
    return {"epochs": total, "batch_size": opt["batch_size"], "lr_schedule": schedule, "precision": "fp32"}


def import_reference(path: Path, registry: Registry, *, train_opt: Path | None = None, model: str | None = None,
                     flags: Mapping[str, Any] | None = None) -> Imported:
    """A ganzoo checkpoint from reference checkpoint file(s): weights mapped by the networks' tables, the recipe
    translated from ``train_opt.txt`` (or its defaults) and ``flags``. Slots without a file keep fresh weights."""
    files = reference_files(path)
    notes: list[str] = []
    if train_opt is None and Path(path).is_dir() and (Path(path) / "train_opt.txt").is_file():
        train_opt = Path(path) / "train_opt.txt"
        notes.append(f"options from {train_opt}")
    given = read_train_opt(train_opt) if train_opt else {}
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    reference_model = model or given.get("model") or ("cycle_gan" if {"G_A", "G_B"} & set(files) else "pix2pix")
    name, model_cls = find_model(registry, reference_model)
    adapter = _adapter(model_cls)
    opt = {**BASE_DEFAULTS, **adapter.defaults, **given, **flags}
    try:
        sections = adapter.recipe(opt)
    except ValueError as exc:
        raise GanzooError(f"cannot import: {exc}", hint="check the options (--train-opt or the flags)") from None
    notes += sections.pop("notes", [])
    sections["optim"] = {g: {"name": "Adam", "lr": opt["lr"], "betas": [opt["beta1"], 0.999]}
                         for g in model_cls.optimizer_groups}
    sections["train"] = _train_section(opt)
    recipe = recipe_from_dict(sections, source=f"{path} (imported options)", name=name)
    resolved = resolve(recipe, registry)
    torch.manual_seed(0)  # slots without a file start from the recipe's initialisation, reproducibly
    built = build_model(resolved)
    imported: dict[str, Any] = {"from": "junyanz/pytorch-CycleGAN-and-pix2pix", "options": dict(opt), "files": {}}
    slots = adapter.files(opt)
    for slot, letter in slots.items():
        file = files.get(letter)
        if file is None:
            notes.append(f"{slot}: no latest_net_{letter}.pth, initialised fresh")
            continue
        state = read_state(file)
        net = getattr(built, slot)
        what = adapter.describe(slot, opt)
        try:
            done = to_ours(state, net, net.junyanz_table())
        except Mismatch as exc:
            raise _mismatch_error(exc, file, what, opt, state) from None
        net.load_state_dict(done.state)
        imported["files"][slot] = {"file": str(file), "letter": letter, "sha256": _sha256(file)}
        extra = [f"{len(done.zero_filled)} bias(es) the reference lacks zero-filled"] if done.zero_filled else []
        extra += [f"{len(done.dropped)} stale instance-norm buffer(s) dropped"] if done.dropped else []
        notes.append(f"{slot} <- {file.name} ({len(state)} tensors{'; ' if extra else ''}{'; '.join(extra)})")
    unused = sorted(set(files) - set(slots.values()))
    if not imported["files"]:
        raise GanzooError(f"none of {', '.join(p.name for p in files.values())} is a {name} network file",
                          hint=f"{name} reads {', '.join(f'latest_net_{v}.pth' for v in slots.values())}")
    notes += [f"ignored {files[u].name} ({name} has no such network)" for u in unused]
    source, target = ("A", "B") if opt["direction"] == "AtoB" else ("B", "A")
    crop = opt["crop_size"]
    state = {
        "format": checkpoint.FORMAT_VERSION,
        "ganzoo_version": __version__,
        "recipe": resolved.to_dict(),
        "recipe_name": name,
        "provenance": resolved.provenance(),
        "step": 0,
        "model": checkpoint.clean_keys(built.state_dict()),
        "sample_shapes": {source: [opt["input_nc"], crop, crop], target: [opt["output_nc"], crop, crop]},
        "imported": imported,
    }
    return Imported(state, notes)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def export_reference(trained_model: Any, recipe: dict[str, Any], model_cls: type, out: Path,
                     overwrite: bool = False) -> tuple[list[Path], list[str]]:
    """Write ``latest_net_<X>.pth`` for each network and ``train_opt.txt`` into ``out``, loadable by the reference's
    ``define_G``/``define_D`` with ``load_state_dict(strict=True)``."""
    adapter = _adapter(model_cls)
    try:
        opt, notes = adapter.options(recipe)
    except ValueError as exc:
        raise GanzooError(f"cannot export to the reference's format: {exc}") from None
    written: dict[Path, Any] = {}
    for slot, letter in adapter.files(opt).items():
        net = getattr(trained_model, slot)
        try:
            written[Path(out) / f"latest_net_{letter}.pth"] = to_theirs(net.state_dict(), net.junyanz_table())
        except Mismatch as exc:
            raise GanzooError(f"cannot export {slot}: {exc.key} is not zero, and the reference's network has no "
                              f"bias there ({adapter.describe(slot, opt)})",
                              hint="the reference drops conv biases except under instance norm; this model was "
                                   "trained with them, so the reference cannot reproduce it") from None
    targets = [*written, Path(out) / "train_opt.txt"]
    existing = [t for t in targets if t.exists()]
    if existing and not overwrite:
        raise GanzooError(f"{len(existing)} file(s) already exist: {', '.join(map(str, existing[:3]))}",
                          hint="--overwrite replaces them; or choose another --out")
    Path(out).mkdir(parents=True, exist_ok=True)
    for target, state in written.items():
        torch.save(state, target)
    targets[-1].write_text(format_train_opt(opt))
    return targets, notes
