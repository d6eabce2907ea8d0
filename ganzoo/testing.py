"""Testing plugins: a registry without installing, and the conformance kit that fails loudly.

- :func:`registry_from` builds a registry from plugin modules directly (no entry points).
- :func:`fake_distribution` writes an importable package plus a ``*.dist-info`` with ``ganzoo`` entry points
  into a folder; put that folder on ``sys.path`` (or ``PYTHONPATH`` for a subprocess) and ganzoo discovers it
  exactly as it discovers a pip-installed plugin.
- :func:`check_component` builds a registered component with its defaults.
- The conformance kit: :func:`check_plugin` (hooks and factory signatures), :func:`check_dataset` (items:
  keys, layout, dtype, range, size, reproducibility), :func:`check_model` (a real two-step run of a recipe,
  sampling, every capability the model claims, a checkpoint round trip and an exact resume), and
  :func:`conformance_tests`, which turns them into one line of a plugin's test file::

      test_conformance = ganzoo.testing.conformance_tests(my_plugin, datasets={"my_data": {"size": 8}},
                                                          recipes={"recipes/mine.yaml": ["data.image_size=16"]})

Each check raises :class:`ConformanceError` (an ``AssertionError``) listing every problem found, one line each,
naming the plugin, the component and the fix.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata as metadata
import inspect
import tempfile
import textwrap
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from .contract import expected_side, image_problems
from .errors import ContractError
from .hookspecs import HOOKS, KINDS
from .plugins import GROUP, Plugin, get_plugin_manager, register_plugin
from .registry import Entry, Registry, build_registry, reserved_parameters
from .schema import TypeMismatch, coerce, did_you_mean, type_hints


def registry_from(*modules: object, dist: str = "test", version: str = "0") -> Registry:
    """A registry holding only the given plugin modules (each registered as if from ``dist``)."""
    pm = get_plugin_manager()
    plugins = []
    for module in modules:
        name = getattr(module, "__name__", repr(module))
        plugin = Plugin(f"{dist}:{name}", dist, version, f"{name} = {name}")
        register_plugin(pm, plugin, module)
        plugins.append(plugin)
    return build_registry(pm, plugins)


def fake_distribution(
    root: Path,
    dist: str,
    entry_points: dict[str, str],
    modules: dict[str, str] | None = None,
    version: str = "0.1.0",
) -> Path:
    """Write modules ``{"pkg_mod": source}`` and ``<dist>-<version>.dist-info`` declaring ``entry_points``.

    Returns ``root``, the folder to put on the import path.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, source in (modules or {}).items():
        (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = ["[ganzoo]"] + [f"{k} = {v}" for k, v in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


def check_component(registry: Registry, kind: str, name: str, **params: Any) -> Any:
    """Build ``kind``/``name`` with its defaults plus ``params``; raise if any required parameter is missing."""
    entry = registry.get(kind, name)
    missing = [p.name for p in entry.params if p.required and p.name not in params]
    if missing:
        raise TypeError(f"{kind} {name!r} needs {missing} to be built")
    return entry.factory(**params)


# The conformance kit ---------------------------------------------------------------------------------------------
class ConformanceError(ContractError, AssertionError):
    """A plugin does not conform; ``problems`` lists every finding (one line each, with its fix)."""

    def __init__(self, subject: str, problems: list[str]):
        super().__init__(f"{subject}: {len(problems)} problem(s)\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def _raise_if(subject: str, problems: list[str]) -> None:
    if problems:
        raise ConformanceError(subject, problems)


def _unwrap(factory: Callable) -> Callable:
    while isinstance(factory, functools.partial):
        factory = factory.func
    return factory


def _modules_of(plugin: object) -> tuple[list[object], str]:
    """A module, or a distribution name whose ``ganzoo`` entry points name the modules."""
    if not isinstance(plugin, str):
        return [plugin], getattr(plugin, "__name__", repr(plugin))
    try:
        dist = metadata.distribution(plugin)
    except metadata.PackageNotFoundError:
        raise ConformanceError(plugin, [f"no installed distribution {plugin!r} (pip install -e your package)"]) \
            from None
    eps = [ep for ep in dist.entry_points if ep.group == GROUP]
    if not eps:
        raise ConformanceError(plugin, [f"{plugin} declares no entry point in the {GROUP!r} group: add "
                                        f"[project.entry-points.{GROUP}] to its pyproject.toml"])
    modules = []
    for ep in eps:
        try:
            modules.append(ep.load())
        except Exception as exc:  # noqa: BLE001 - reported as a problem
            raise ConformanceError(plugin, [f"entry point {ep.name} = {ep.value} fails to import: "
                                            f"{type(exc).__name__}: {exc}"]) from exc
    return modules, dist.metadata["Name"]


def check_plugin(plugin: object, *, dist: str | None = None) -> Registry:
    """Check a plugin module (or an installed distribution, by name): its hooks and every factory it registers.

    Problems: a hook-named function without ``@ganzoo.hookimpl`` (ganzoo would never call it); a marked function
    that is no ganzoo hook (misspelt); a hook that raises; factories whose parameters are positional-only,
    ``*args``/``**kwargs`` (recipes could not be checked against them) or unannotated (a YAML string would reach
    torch), defaults that do not fit their annotation, no docstring (``ganzoo list`` shows its first line), a
    factory that does not build with its defaults; model classes whose slots, loss roles or optimizer groups
    do not fit together. Returns the plugin's registry.
    """
    modules, name = _modules_of(plugin)
    dist = dist or name
    problems: list[str] = []
    hooks = set(HOOKS)
    for module in modules:
        where = getattr(module, "__name__", repr(module))
        for attr, value in sorted(vars(module).items()):
            if not callable(value) or not attr.startswith("register_"):
                continue
            marked = getattr(value, "ganzoo_impl", None) is not None
            if attr in hooks and not marked:
                problems.append(f"{where}.{attr} is not marked @ganzoo.hookimpl: ganzoo never calls it "
                                f"(add `from ganzoo import hookimpl` and decorate it)")
            elif attr not in hooks and (marked or did_you_mean(attr, hooks)):
                problems.append(f"{where}.{attr} is not a ganzoo hook{did_you_mean(attr, hooks)}; hooks: "
                                f"{', '.join(sorted(hooks))}")
    registry = registry_from(*modules, dist=dist)
    for p in registry.plugins:
        problems += [f"{p.name}: {error}" for error in p.errors]
    for entry in registry.entries():
        problems += [f"{entry.kind} {entry.name!r}: {p}" for p in _factory_problems(entry)]
    for recipe in registry.recipe_entries():
        problems += [f"recipe {recipe.name!r}: {p}" for p in _recipe_problems(recipe.path)]
    if not registry.entries() and not registry.recipe_entries():
        problems.append(f"{dist} registers no components: implement a hook such as register_generators")
    _raise_if(f"plugin {dist}", problems)
    return registry


def _recipe_problems(path: Path) -> list[str]:
    from .recipe import load_recipe

    if not Path(path).is_file():
        return [f"{path} does not exist: list the recipes as package data (tool.setuptools.package-data)"]
    try:
        load_recipe(path)
    except Exception as exc:  # noqa: BLE001 - reported
        return [f"{path} does not parse: {exc}"]
    return []


def _factory_problems(entry: Entry) -> list[str]:
    factory = entry.factory
    problems = []
    reserved = reserved_parameters(entry.kind, factory)
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):
        return ["its factory has no inspectable signature: use a class or a function with keyword parameters"]
    hints = type_hints(factory, raw_fallback=True)  # unresolvable references: reported as unannotated
    for p in signature.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            problems.append(f"**{p.name} in its signature: recipes cannot be checked against it and a typo "
                            f"becomes a TypeError; list every parameter as keyword-only with a default and a type")
        elif p.kind is p.VAR_POSITIONAL:
            problems.append(f"*{p.name} in its signature: recipes pass keyword arguments only; remove it")
        elif p.kind is p.POSITIONAL_ONLY:
            problems.append(f"parameter {p.name!r} is positional-only: recipes pass keyword arguments")
        elif p.name in reserved:
            continue
        elif p.name not in hints:
            problems.append(f"parameter {p.name!r} has no type annotation: a recipe value would reach your code "
                            f"unchecked (a quoted '64' is a string); annotate it, e.g. {p.name}: int = ...")
        elif p.default is not p.empty and p.default is not None:
            try:
                coerce(p.default, hints[p.name])
            except TypeMismatch as exc:
                problems.append(f"the default of {p.name!r} does not fit its annotation: {exc}")
    if not entry.summary:
        problems.append("no docstring: `ganzoo list` shows its first line as the summary")
    if entry.kind == "dataset" and "split" not in signature.parameters:
        problems.append("a dataset factory takes split: str = 'train' (raise ganzoo.errors.SplitNotFound for "
                        "splits it does not have)")
    if entry.kind == "model":
        problems += _model_class_problems(_unwrap(factory), signature)
    elif entry.kind in ("generator", "discriminator", "loss") and not problems:
        problems += _builds_with_defaults(entry)
    return problems


def _builds_with_defaults(entry: Entry) -> list[str]:
    """Build the component with its defaults on the meta device (no memory, no time)."""
    import torch
    from torch import nn

    from .losses import ROLES
    from .device import preserved_rng

    if any(p.required for p in entry.params):
        return []
    try:
        with preserved_rng(torch.device("cpu")), torch.device("meta"):
            built = entry.factory()
    except Exception as exc:  # noqa: BLE001 - reported
        return [f"does not build with its defaults: {type(exc).__name__}: {exc}"]
    if entry.kind == "loss":
        if not isinstance(built, tuple(ROLES.values())):
            return [f"built {type(built).__name__}, not an instance of a ganzoo.losses role "
                    f"({', '.join(r.__name__ for r in ROLES.values())})"]
    elif not isinstance(built, nn.Module):
        return [f"built {type(built).__name__}, not a torch.nn.Module"]
    return []


def _model_class_problems(cls: type, signature: inspect.Signature) -> list[str]:
    from .losses import Loss

    problems = []
    for slot, kind in cls.component_slots.items():
        if kind not in KINDS or kind in ("model", "loss", "dataset", "metric"):
            problems.append(f"component slot {slot!r} has kind {kind!r}: generator or discriminator")
        if slot not in signature.parameters:
            problems.append(f"component slot {slot!r} is not a parameter of its constructor")
    for slot, role in cls.loss_slots.items():
        if not (inspect.isclass(role) and issubclass(role, Loss)):
            problems.append(f"loss slot {slot!r} names {role!r}, not a role class from ganzoo.losses")
        if slot not in signature.parameters:
            problems.append(f"loss slot {slot!r} is not a parameter of its constructor")
    if not cls.optimizer_groups:
        problems.append("no optimizer_groups: declare e.g. {'G': ('generator',), 'D': ('discriminator',)}")
    for group, slots in cls.optimizer_groups.items():
        if isinstance(slots, str):
            problems.append(f"optimizer group {group!r} is the string {slots!r}: a tuple of slots, ({slots!r},)")
            continue
        for slot in slots:
            if slot not in cls.component_slots:
                problems.append(f"optimizer group {group!r} names {slot!r}, which is not a component slot")
    if isinstance(cls.batch_keys, str) or not all(isinstance(k, str) for k in cls.batch_keys):
        problems.append(f"batch_keys must be a tuple of strings, got {cls.batch_keys!r}")
    for group in getattr(cls, "intermittent_groups", ()):
        if group not in cls.optimizer_groups:
            problems.append(f"intermittent_groups names {group!r}, which is not an optimizer group")
    if cls.train_step is _base_model().train_step:
        problems.append("it does not implement train_step(batch, optimizers, step)")
    if cls.sample is _base_model().sample:
        problems.append("it does not implement sample(batch)")
    return problems


def _base_model() -> type:
    from .model import GANModel

    return GANModel


def _registry_for(plugin: object | Registry | None) -> Registry:
    if isinstance(plugin, Registry):
        return plugin
    if plugin is None:
        return build_registry()
    modules, name = _modules_of(plugin)
    return registry_from(*modules, dist=name)


def check_dataset(plugin: object | Registry | None, name: str, *, split: str = "train", count: int = 3,
                  **params: Any) -> dict[str, Any]:
    """Build dataset ``name`` (from a plugin module, a distribution name, a registry, or None: the installed
    plugins) with ``params`` and check ``count`` items the way the engine will use them.

    Problems: items that are not dicts of tensors, keys the dataset does not declare in ``keys`` (or declared
    ones missing), images in HWC layout or not float32, values outside [-1, 1], an image side other than the
    ``crop_size``/``image_size`` parameter says, items of different shapes (no batch can hold them), items that
    differ for the same seed (augmentation randomness must come from torch's global RNG), labels outside
    ``num_classes``. Returns the first item.
    """
    import torch

    registry = _registry_for(plugin)
    entry = registry.get("dataset", name)
    full = {p.name: p.default for p in entry.params if not p.required} | params
    subject = f"dataset {name!r} ({entry.dist})"
    try:
        data = entry.factory(split=split, **params)
    except Exception as exc:  # noqa: BLE001 - reported
        raise ConformanceError(subject, [f"does not build with {params}: {type(exc).__name__}: {exc}"]) from exc
    problems: list[str] = []
    declared = getattr(data, "keys", None)
    if not isinstance(declared, (tuple, list)):
        problems.append("no `keys` attribute: declare the keys of its items, e.g. keys = ('A', 'B'), so ganzoo can "
                        "check before training that it feeds the model")
        declared = None
    n = len(data)
    if n < 1:
        _raise_if(subject, problems + ["it is empty"])
    items = []
    for index in range(min(count, n)):
        torch.manual_seed(index)
        items.append(data[index])
    first = items[0]
    if not isinstance(first, dict):
        _raise_if(subject, problems + [f"items are {type(first).__name__}, not dicts of tensors ({{'A': ...}})"])
    if declared is not None:
        undeclared = [k for k in first if k not in declared]
        missing = [k for k in declared if k not in first]
        if undeclared:
            problems.append(f"items carry keys {undeclared} that `keys` {tuple(declared)} does not declare")
        if missing:
            problems.append(f"items lack the declared keys {missing}")
    side = expected_side(full)
    classes = getattr(data, "num_classes", None)
    for key, value in first.items():
        if not torch.is_tensor(value):
            problems.append(f"item[{key!r}] is {type(value).__name__}, not a tensor")
            continue
        if value.dtype in (torch.int64, torch.int32, torch.long) and value.dim() == 0:
            if classes is not None and not all(0 <= int(item[key]) < classes for item in items):
                problems.append(f"item[{key!r}] holds labels outside 0..{classes - 1} (num_classes = {classes})")
            continue
        problems += [f"item[{key!r}]: {p}" for p in image_problems(value, side)]
        images = [item[key] for item in items if torch.is_tensor(item.get(key))]
        if value.dim() == 3 and value.is_floating_point() and all(float(t.min()) >= 0 for t in images) \
                and any(float(t.max()) > 0.5 for t in images):
            problems.append(f"item[{key!r}] never goes below 0 in {len(images)} items: scaled to [0, 1]? images "
                            f"are in [-1, 1] (x * 2 - 1)")
        shapes = {tuple(item[key].shape) for item in items if torch.is_tensor(item.get(key))}
        if len(shapes) > 1:
            problems.append(f"item[{key!r}] has different shapes across items {sorted(shapes)}: a batch cannot "
                            f"hold them (resize or crop to one size)")
    torch.manual_seed(0)
    again = data[0]
    if isinstance(again, dict):
        differing = [k for k, v in first.items() if torch.is_tensor(v) and torch.is_tensor(again.get(k))
                     and (v.shape != again[k].shape or not torch.equal(v, again[k]))]
        if differing:
            problems.append(f"item 0 differs between two reads with the same seed ({differing}): draw augmentation "
                            f"randomness from torch's global RNG (the engine seeds it per sample)")
    _raise_if(subject, problems)
    return first


def check_model(recipe: str | Path | Mapping[str, Any], *overrides: str, registry: Registry | None = None,
                steps: int = 2, workdir: Path | None = None) -> dict[str, Any]:
    """Train a recipe (a path, or a mapping) for ``steps`` steps on the CPU and check the model as ganzoo uses it.

    ``overrides`` (``"data.image_size=16"``...) make it tiny. Checks: the recipe resolves and every component
    builds; training runs under the engine's model contract (groups stepped, nothing updated behind
    ``optimizers.step``, scalar ``group/term`` returns); ``sample`` gives images in [-1, 1] or (N, 2) points;
    every capability the model claims works (``generate``, ``translate`` for its directions,
    ``evaluation_pairs``, ``generated_images`` with ``fidelity_sets``, ``batch_roles``, ``warnings``); the last
    checkpoint loads back into the same weights (``ganzoo.load_trained``); and a run resumed from step 1 ends
    bit-identical to the uninterrupted one. Returns what was checked (``{"capabilities": [...], ...}``).
    """
    import torch

    from .engine import Trainer
    from .recipe import apply_override, load_recipe, recipe_from_dict
    from .resolve import resolve
    from .trained import load_trained

    registry = registry if registry is not None else build_registry()
    fixed = ["train.device=cpu", "train.precision=fp32", "train.deterministic=true", "train.workers=0",
             f"train.steps={steps}", "train.checkpoint_every=1", f"train.keep_checkpoints={steps + 1}",
             f"train.sample_every={steps}", "train.log_every=1", "train.tensorboard=false", "train.compile=false"]

    def load():
        if isinstance(recipe, Mapping):
            r = recipe_from_dict(dict(recipe), "<check_model recipe>", name="check_model")
            for o in [*overrides, *fixed]:
                apply_override(r, o)
            return r
        return load_recipe(recipe, [*overrides, *fixed], name="check_model")

    resolved = resolve(load(), registry)
    subject = f"model {resolved.model.name!r} ({resolved.model.entry.dist if resolved.model.entry else '?'})"
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        logs: list[str] = []
        first = Trainer(resolved, registry, out=Path(tmp) / "a", progress=False, log=logs.append)
        first.fit()
        model = first.model
        problems = _sample_problems(model, first.fixed)
        capabilities, more = _capability_problems(model, first.fixed)
        problems += more
        trained = load_trained(first.run.last, registry, torch.device("cpu"), use_ema=False)
        problems += _differences("the checkpoint loaded back", model.state_dict(), trained.model.state_dict())
        step1 = first.run.checkpoints / "step_0000001.pt"
        if steps >= 2 and step1.exists():
            resumed = Trainer(resolve(load(), registry), registry, out=Path(tmp) / "b", resume=step1,
                              progress=False, log=logs.append)
            resumed.fit()
            problems += _differences("a run resumed from step 1", model.state_dict(), resumed.model.state_dict(),
                                     hint="keep every random draw on torch's RNG and state that must survive in "
                                          "buffers or get_extra_state/set_extra_state")
    _raise_if(subject, problems)
    return {"model": resolved.model.name, "steps": steps, "capabilities": capabilities,
            "warnings": model.warnings()}


def _differences(what: str, expected: Mapping[str, Any], got: Mapping[str, Any], hint: str = "") -> list[str]:
    import torch

    bad = [k for k, v in expected.items() if torch.is_tensor(v)
           and (k not in got or not torch.equal(v.detach().cpu(), got[k].detach().cpu()))]
    if not bad:
        return []
    return [f"{what} differs from the original in {len(bad)} tensor(s), e.g. {bad[0]}" + (f": {hint}" if hint else "")]


def _sample_problems(model: Any, batch: dict) -> list[str]:
    import torch

    with torch.no_grad():
        model.eval()
        try:
            samples = model.sample(batch)
        finally:
            model.train()
    if not isinstance(samples, dict) or not samples:
        return [f"sample(batch) returned {type(samples).__name__}: a dict of named image batches or (N, 2) points"]
    problems = []
    for name, t in samples.items():
        if not torch.is_tensor(t):
            problems.append(f"sample(batch)[{name!r}] is {type(t).__name__}, not a tensor")
        elif t.dim() == 4:
            low, high = float(t.min()), float(t.max())
            if low < -1 - 1e-3 or high > 1 + 1e-3:
                problems.append(f"sample(batch)[{name!r}] spans [{low:.3g}, {high:.3g}]: images are in [-1, 1] (Tanh)")
        elif not (t.dim() == 2 and t.shape[1] == 2):
            problems.append(f"sample(batch)[{name!r}] has shape {tuple(t.shape)}: images (N, C, H, W) or points "
                            f"(N, 2)")
    return problems


def _capability_problems(model: Any, batch: dict) -> tuple[list[str], list[str]]:
    """Call every optional capability the model implements on the fixed batch."""
    import torch

    claimed = [c for c in ("translate", "generate", "evaluation_pairs", "generated_images", "batch_roles",
                           "warnings", "validate") if type(model).supports(c)]
    problems: list[str] = []

    def attempt(name: str, fn: Callable[[], list[str]]) -> None:
        try:
            problems.extend(fn())
        except Exception as exc:  # noqa: BLE001 - reported
            problems.append(f"{name} raised {type(exc).__name__}: {exc}")

    n = min(len(v) for v in batch.values() if torch.is_tensor(v))
    with torch.no_grad():
        model.eval()
        try:
            if "generate" in claimed:
                def generate() -> list[str]:
                    out = model.generate(2)
                    return [] if torch.is_tensor(out) and len(out) == 2 else [
                        f"generate(2) returned {type(out).__name__} of length {len(out)}, not 2 samples"]
                attempt("generate(2)", generate)
            for direction in model.directions if "translate" in claimed else ():
                def translate(direction: str = direction) -> list[str]:
                    source = batch[direction.split("to")[0]] if direction.split("to")[0] in batch else None
                    if source is None:
                        return []
                    out = model.translate(source, direction)
                    return [] if out.shape[0] == source.shape[0] and out.shape[-2:] == source.shape[-2:] else [
                        f"translate(images, {direction!r}) changed the batch or image size: {tuple(out.shape)}"]
                attempt(f"translate(images, {direction!r})", translate)
            if "evaluation_pairs" in claimed:
                def pairs() -> list[str]:
                    return [f"evaluation_pairs: {k} output {tuple(o.shape)} vs target {tuple(t.shape)}"
                            for k, (o, t) in model.evaluation_pairs(batch).items() if o.shape != t.shape]
                attempt("evaluation_pairs(batch)", pairs)
            if "generated_images" in claimed:
                def fidelity() -> list[str]:
                    sets, real = model.generated_images(batch), model.fidelity_sets()
                    out = [f"fidelity_sets() has no entry for generated_images set {k!r}"
                           for k in sets if k not in real]
                    out += [f"fidelity_sets()[{k!r}] = {v!r} is not a batch key"
                            for k, v in real.items() if v not in batch]
                    out += [f"generated_images set {k!r} holds {len(v)} images for a batch of {n}"
                            for k, v in sets.items() if len(v) != n]
                    return out
                attempt("generated_images(batch)", fidelity)
            if "batch_roles" in claimed:
                attempt("batch_roles()", lambda: [f"batch_roles()[{r!r}] = {k!r} is not a batch key"
                                                  for r, k in model.batch_roles().items() if k not in batch])
            attempt("warnings()", lambda: [] if all(isinstance(w, str) for w in model.warnings()) else [
                "warnings() must return a list of strings"])
        finally:
            model.train()
    return claimed, problems


def conformance_tests(plugin: object, *, datasets: Mapping[str, Mapping[str, Any]] | None = None,
                      recipes: Mapping[str | Path, Iterable[str]] | None = None) -> Callable:
    """A pytest test function running :func:`check_plugin`, :func:`check_dataset` for each of ``datasets``
    (name -> parameters) and :func:`check_model` for each of ``recipes`` (path -> overrides), one test case
    each. Assign it in a test module: ``test_conformance = conformance_tests(my_plugin, ...)``."""
    import pytest

    cases = [("plugin", None, None)]
    cases += [("dataset", name, dict(params)) for name, params in (datasets or {}).items()]
    cases += [("model", path, list(overrides)) for path, overrides in (recipes or {}).items()]

    @pytest.mark.parametrize("kind,target,args", cases,
                             ids=[f"{k}-{Path(str(t)).stem if t else 'hooks'}" for k, t, _ in cases])
    def test_conformance(kind: str, target: Any, args: Any, tmp_path: Path) -> None:
        if kind == "plugin":
            check_plugin(plugin)
        elif kind == "dataset":
            check_dataset(plugin, target, **args)
        else:
            registry = _model_registry(plugin)
            check_model(target, *args, registry=registry, workdir=tmp_path)

    return test_conformance


def _model_registry(plugin: object) -> Registry:
    """The installed registry when the plugin is installed (recipes combine it with built-ins), else the
    plugin's modules together with ganzoo's built-in plugins imported directly."""
    installed = build_registry()
    names = {getattr(p.module, "__name__", None) for p in installed.plugins}
    if isinstance(plugin, str) or getattr(plugin, "__name__", None) in names:
        return installed
    builtins = [importlib.import_module(m) for m in ("ganzoo_losses", "ganzoo_metrics", "ganzoo_pix2pix",
                                                     "ganzoo_cyclegan", "ganzoo_wgan")]
    return registry_from(plugin, *builtins)
