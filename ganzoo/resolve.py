"""Check a recipe against the registry and fill in every default, before any tensor exists."""

from __future__ import annotations

import functools
import inspect
import math
import re
import sys
import types
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable

import torch

from .config import EMAConfig, TrainConfig
from .errors import ContractError, PluginError, RecipeError
from .losses import Loss, ROLES
from .recipe import REQUIRED_SECTIONS, SECTIONS, Recipe
from .registry import Entry, Registry
from .schedules import SCHEDULES
from .schema import Param, TypeMismatch, coerce, did_you_mean, parameters

_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


@dataclass
class Spec:
    """A validated ``{name: ..., **params}``: the factory to call and its complete keyword arguments."""

    name: str
    factory: Callable
    params: dict[str, Any]
    entry: Entry | None = None  # None for torch optimizers and built-in schedules

    def build(self, **extra: Any) -> Any:
        return self.factory(**self.params, **extra)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


@dataclass
class Resolved:
    """A recipe checked against the registry: every component's factory and complete parameters."""

    recipe: Recipe
    model: Spec
    components: dict[str, Spec]
    losses: dict[str, Spec]
    data: Spec
    optim: dict[str, Spec]
    train: TrainConfig
    explicit: set[str] = field(default_factory=set)  # dotted paths the user wrote (file or --set)

    @property
    def model_class(self) -> type:
        cls = self.model.factory
        while isinstance(cls, functools.partial):
            cls = cls.func
        return cls

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe as plain data (what ``recipe.yaml`` and checkpoints store)."""
        train = {f.name: getattr(self.train, f.name) for f in fields(self.train)}
        if self.train.ema is not None:
            train["ema"] = {f.name: getattr(self.train.ema, f.name) for f in fields(self.train.ema)}
        return {
            "model": self.model.as_dict(),
            "components": {k: v.as_dict() for k, v in self.components.items()},
            "losses": {k: v.as_dict() for k, v in self.losses.items()},
            "data": self.data.as_dict(),
            "optim": {k: v.as_dict() for k, v in self.optim.items()},
            "train": train,
        }

    @functools.cached_property
    def dataset_info(self) -> dict[str, Any]:
        """What the dataset declares without being built: ``keys``, ``num_classes`` and ``class_names`` (class
        attributes, a ``num_classes`` parameter, or an ``info(**params) -> dict`` classmethod), where given."""
        cls = _unwrapped(self.data.factory)
        info = {k: getattr(cls, k) for k in ("keys", "num_classes", "class_names") if hasattr(cls, k)}
        if isinstance(self.data.params.get("num_classes"), int):
            info["num_classes"] = self.data.params["num_classes"]
        describe = getattr(cls, "info", None)
        if callable(describe):
            info |= dict(describe(**self.data.params))
        return info

    def provenance(self) -> dict[str, dict[str, str]]:
        """Which distribution and version provided each component (keyed by dotted recipe path)."""
        specs = {"model": self.model, "data": self.data}
        specs |= {f"components.{k}": v for k, v in self.components.items()}
        specs |= {f"losses.{k}": v for k, v in self.losses.items()}
        return {
            path: {"name": s.entry.name, "dist": s.entry.dist, "version": s.entry.version}
            for path, s in specs.items()
            if s.entry is not None
        }


class _Checker:
    def __init__(self, recipe: Recipe, registry: Registry):
        self.recipe = recipe
        self.registry = registry
        # parameter name -> dotted paths where it is valid, for "did you mean data.flip?" across sections
        self.elsewhere: dict[str, list[str]] = {f.name: [f"train.{f.name}"] for f in fields(TrainConfig)}

    def _valid_at(self, path: str, params: Iterable[Param]) -> None:
        for p in params:
            self.elsewhere.setdefault(p.name, []).append(f"{path}.{p.name}")

    def _other_sections(self, path: str, key: str) -> str:
        places = [p for p in self.elsewhere.get(key, []) if not p.startswith(path + ".")]
        return f" (did you mean {' or '.join(places[:3])}?)" if places else ""

    def error(self, path: str, message: str, hint: str | None = None):
        return self.recipe.error(path, message, hint)

    def mapping(self, path: str, value: Any, what: str) -> dict:
        if not isinstance(value, dict):
            raise self.error(path, f"{what} must be a mapping, got {type(value).__name__} {value!r}")
        return value

    def params(self, path: str, given: dict[str, Any], params: Iterable[Param], what: str) -> dict[str, Any]:
        """Validate ``given`` against ``params``; return all parameters with defaults filled in."""
        params = list(params)
        known = {p.name: p for p in params}
        for key in given:
            if key not in known:
                accepted = ", ".join(known) or "none"
                guess = did_you_mean(key, known) or self._other_sections(path, key)
                raise self.error(
                    f"{path}.{key}",
                    f"unknown parameter {key!r} for {what}{guess}",
                    hint=f"accepted parameters: {accepted}",
                )
        out = {}
        for p in params:
            if p.name in given:
                try:
                    out[p.name] = coerce(given[p.name], p.annotation)
                except TypeMismatch as exc:
                    raise self.error(f"{path}.{p.name}", f"{what}: {p.name}: {exc}") from None
            elif p.required:
                raise self.error(path, f"missing required parameter {p.name!r} for {what} ({p.type_name})")
            else:
                out[p.name] = p.default
        return out

    def component(self, path: str, spec: Any, kind: str) -> Spec:
        if isinstance(spec, str):
            spec = {"name": spec}
        spec = self.mapping(path, spec, f"a {kind} spec {{name: ..., params}}")
        if "name" not in spec:
            raise self.error(path, f"missing 'name' of the {kind}", hint=f"see `ganzoo list {kind}`")
        try:
            entry = self.registry.get(kind, spec["name"])
        except PluginError as exc:
            raise self.error(f"{path}.name", exc.message, exc.hint) from None
        given = {k: v for k, v in spec.items() if k != "name"}
        params = self.params(path, given, entry.params, f"{kind} {entry.name!r}")
        self._valid_at(path, entry.params)
        for key, value in params.items():
            if any(isinstance(v, int) and not -2**63 <= v < 2**63 for v in _numbers(value)):
                raise self.error(f"{path}.{key}", f"{kind} {entry.name!r}: {key} = {value} does not fit in 64 bits",
                                 hint="no size or count can be that large")
        return Spec(spec["name"], entry.factory, params, entry)

    def slots(self, section: str, declared: dict[str, Any], what: str) -> dict[str, Any]:
        given = self.recipe.section(section)
        if given is None:
            given = {}
        given = self.mapping(section, given, f"the {section} section")
        for slot in given:
            if slot not in declared:
                names = ", ".join(declared) or "none"
                raise self.error(
                    f"{section}.{slot}",
                    f"{what} has no {section} slot {slot!r}{did_you_mean(slot, declared)}",
                    hint=f"its {section} slots: {names}",
                )
        for slot in declared:
            if slot not in given:
                raise self.error(section, f"missing {section}.{slot}, required by {what}")
        return given


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _numbers(value: Any) -> Iterable[Any]:
    if isinstance(value, (list, tuple)):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    else:
        yield value


def _unwrapped(factory: Callable) -> Callable:
    while isinstance(factory, functools.partial):
        factory = factory.func
    return factory


def _loss_role(factory: Callable) -> type[Loss] | None:
    cls = factory
    while isinstance(cls, functools.partial):
        cls = cls.func
    if inspect.isclass(cls):
        return next((role for role in ROLES.values() if issubclass(cls, role)), None)
    return None


def _optimizer_class(check: _Checker, path: str, name: Any) -> type[torch.optim.Optimizer]:
    choices = sorted(
        n for n, c in vars(torch.optim).items()
        if inspect.isclass(c) and issubclass(c, torch.optim.Optimizer) and c is not torch.optim.Optimizer
    )
    if name not in choices:
        raise check.error(f"{path}.name", f"unknown optimizer {name!r}{did_you_mean(str(name), choices)}",
                          hint=f"any torch.optim class: {', '.join(choices)}")
    return getattr(torch.optim, name)


def _resolve_train(check: _Checker, model_slots: Iterable[str]) -> TrainConfig:
    given = check.recipe.section("train") or {}
    given = check.mapping("train", given, "the train section")
    # ema is given as a mapping and validated against EMAConfig below
    params = [Param(p.name, p.default, dict | None) if p.name == "ema" else p for p in parameters(TrainConfig)]
    values = check.params("train", given, params, "train")

    schedule = values["lr_schedule"]
    schedule = {"name": schedule} if isinstance(schedule, str) else dict(schedule)
    name = schedule.pop("name", None)
    if name not in SCHEDULES:
        raise check.error("train.lr_schedule", f"unknown lr_schedule {name!r}{did_you_mean(str(name), SCHEDULES)}",
                          hint=f"schedules: {', '.join(SCHEDULES)}")
    params = check.params("train.lr_schedule", schedule, parameters(SCHEDULES[name]), f"lr_schedule {name!r}")
    try:
        SCHEDULES[name](**params)
    except ValueError as exc:
        raise check.error("train.lr_schedule", str(exc)) from None
    values["lr_schedule"] = {"name": name, **params}

    if values["ema"] is not None:
        ema = check.mapping("train.ema", values["ema"], "train.ema")
        ema = EMAConfig(**check.params("train.ema", ema, parameters(EMAConfig), "train.ema"))
        for slot in ema.slots:
            if slot not in model_slots:
                raise check.error("train.ema.slots", f"unknown slot {slot!r}{did_you_mean(slot, model_slots)}",
                                  hint=f"the model's slots: {', '.join(model_slots)}")
        values["ema"] = ema

    if values["steps"] is not None and values["epochs"] is not None:
        # they are alternatives: one given with --set replaces the other written in the recipe
        overridden = {k for k in ("steps", "epochs") if f"train.{k}" in check.recipe.overridden}
        if len(overridden) != 1:
            raise check.error("train", "set train.steps or train.epochs, not both")
        values["epochs" if "steps" in overridden else "steps"] = None
    train = TrainConfig(**values)
    if train.steps is None and train.epochs is None:
        raise check.error("train", "set train.steps or train.epochs", hint="e.g. --set train.steps=1000")
    for name in ("steps", "batch_size", "log_every", "sample_every", "checkpoint_every", "sample_count"):
        value = getattr(train, name)
        if value is not None and value < 1:
            raise check.error(f"train.{name}", f"train.{name} must be >= 1, got {value}")
    if train.epochs is not None and train.epochs <= 0:
        raise check.error("train.epochs", f"train.epochs must be > 0, got {train.epochs}")
    if not _DEVICE.match(train.device):
        raise check.error("train.device", f"unknown device {train.device!r}", hint="auto, cpu, cuda or cuda:N")
    for name, low, high in (("threads", 1, 2**16), ("workers", 0, 2**10), ("keep_checkpoints", 0, None),
                            ("max_skips", 0, None)):
        value = getattr(train, name)
        if value is not None and (value < low or (high is not None and value > high)):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            raise check.error(f"train.{name}", f"train.{name} must be {bound}, got {value}")
    if not -2**63 <= train.seed < 2**63:
        raise check.error("train.seed", f"train.seed must fit in 64 bits (-2**63 to 2**63 - 1), got {train.seed}")
    if train.ema is not None:
        if not 0.0 <= train.ema.decay <= 1.0:
            raise check.error("train.ema.decay", f"train.ema.decay must be between 0 and 1, got {train.ema.decay}")
        if train.ema.start < 0:
            raise check.error("train.ema.start", f"train.ema.start must be >= 0, got {train.ema.start}")
    _check_quality(check, train)
    return train


def _check_quality(check: _Checker, train: TrainConfig) -> None:
    """``eval_every`` / ``eval_metrics`` / ``keep_best`` name registered metrics and fit together."""
    for name in ("eval_every", "eval_samples", "eval_max_items"):
        value = getattr(train, name)
        if value is not None and value < 1:
            raise check.error(f"train.{name}", f"train.{name} must be >= 1, got {value}")
    known = {e.name: e for e in check.registry.entries("metric")}
    ranked: dict[str, bool] = {}
    for name in train.eval_metrics:
        if name not in known:
            raise check.error("train.eval_metrics", f"unknown metric {name!r}{did_you_mean(name, known)}",
                              hint="metrics: " + ", ".join(sorted(known)))
        metric = known[name].factory()
        outputs = getattr(metric, "outputs", {name: getattr(metric, "higher_is_better", None)})
        ranked |= {k: v for k, v in outputs.items() if v is not None}
    if train.keep_best is not None:
        if train.eval_every is None:
            raise check.error("train.keep_best", "train.keep_best needs train.eval_every (how often to score)",
                              hint="e.g. --set train.eval_every=1000")
        if train.keep_best not in ranked:
            raise check.error("train.keep_best", f"{train.keep_best!r} is not computed by train.eval_metrics "
                              f"{list(train.eval_metrics)}{did_you_mean(train.keep_best, ranked)}",
                              hint="outputs of those metrics: " + ", ".join(sorted(ranked)))


def _inside_overrides(recipe: Recipe) -> set[str]:
    """Dotted paths inside values that ``--set`` gave as a mapping (``data='{name: x, root: y}'``)."""
    found: set[str] = set()

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                found.add(f"{path}.{key}")
                walk(value, f"{path}.{key}")

    for path in recipe.overridden:
        node: Any = recipe.data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        walk(node, path)
    return found


#: where an optimizer's complaint points: words in torch's message -> the parameter
_OPTIM_WORDS = {"learning rate": "lr", "beta": "betas", "epsilon": "eps", "eps": "eps", "weight_decay": "weight_decay",
                "weight decay": "weight_decay", "momentum": "momentum", "dampening": "dampening", "alpha": "alpha"}


def _check_optimizer(check: _Checker, path: str, cls: type[torch.optim.Optimizer], params: dict[str, Any]) -> None:
    """Run the optimizer's own range checks (negative learning rate, betas outside [0, 1), ...) on a dummy
    parameter, and refuse non-finite numbers, so that --dry-run finds what would otherwise fail at step 1."""
    for key, value in params.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise check.error(f"{path}.{key}", f"optimizer {cls.__name__}: {key} must be finite, got {value}")
    device_dependent = ("fused", "foreach", "capturable", "differentiable")
    try:
        cls([torch.nn.Parameter(torch.zeros(1))], **{k: v for k, v in params.items() if k not in device_dependent})
    except ValueError as exc:
        message = str(exc)
        key = next((k for word, k in _OPTIM_WORDS.items() if word in message.lower() and k in params), None)
        raise check.error(f"{path}.{key}" if key else path, f"optimizer {cls.__name__}: {message}") from None
    except (TypeError, RuntimeError):
        pass  # not a range problem; building the real optimizer reports it


def resolve(recipe: Recipe, registry: Registry) -> Resolved:
    """Validate ``recipe`` against ``registry``: names, parameters, types, slots, groups. No tensors are made."""
    check = _Checker(recipe, registry)
    for section in recipe.data:
        if section not in SECTIONS:
            raise check.error(section, f"unknown section {section!r}{did_you_mean(section, SECTIONS)}",
                              hint=f"sections: {', '.join(SECTIONS)}")
    for section in REQUIRED_SECTIONS:
        if recipe.section(section) is None:
            raise check.error("", f"missing section {section!r}", hint=f"a recipe has the sections {', '.join(SECTIONS)}")

    model = check.component("model", recipe.section("model"), "model")
    model_cls = model.factory
    while isinstance(model_cls, functools.partial):
        model_cls = model_cls.func
    what = f"model {model.entry.name!r}"

    components = {
        slot: check.component(f"components.{slot}", spec, model_cls.component_slots[slot])
        for slot, spec in check.slots("components", dict(model_cls.component_slots), what).items()
    }
    losses = {}
    for slot, spec in check.slots("losses", dict(model_cls.loss_slots), what).items():
        resolved = check.component(f"losses.{slot}", spec, "loss")
        wanted = model_cls.loss_slots[slot]
        role = _loss_role(resolved.factory)
        if role is None or not issubclass(role, wanted):
            got = f"{article(role.role)} {role.role} loss" if role else "not a ganzoo loss"
            raise check.error(f"losses.{slot}.name", f"{resolved.name!r} is {got}; slot {slot!r} of {what} "
                              f"takes {article(wanted.role)} {wanted.role} loss", hint="see `ganzoo list loss`")
        lacking = [need for need in getattr(_unwrapped(resolved.factory), "requires", ())
                   if need not in getattr(model_cls, "loss_capabilities", ())]
        if lacking:
            raise check.error(f"losses.{slot}.name", f"{resolved.name!r} is a {lacking[0]} loss (its terms read real "
                              f"and fake scores together), which {what} does not support",
                              hint=f"{what} passes only one-sided scores; its model class would declare "
                                   f"loss_capabilities = ({lacking[0]!r},) and call adversarial.generator_term("
                                   f"fake_scores, real_scores)")
        losses[slot] = resolved

    data = check.component("data", recipe.section("data"), "dataset")

    optim = {}
    groups = dict(model_cls.optimizer_groups)
    for group, spec in check.slots("optim", groups, what).items():
        if isinstance(spec, str):
            spec = {"name": spec}
        spec = check.mapping(f"optim.{group}", spec, "an optimizer spec {name: Adam, lr: ...}")
        cls = _optimizer_class(check, f"optim.{group}", spec.get("name"))
        given = {k: v for k, v in spec.items() if k != "name"}
        accepted = parameters(cls, exclude={"params"})
        params = check.params(f"optim.{group}", given, accepted, f"optimizer {cls.__name__}")
        check._valid_at(f"optim.{group}", accepted)
        _check_optimizer(check, f"optim.{group}", cls, params)
        optim[group] = Spec(cls.__name__, cls, params)

    train = _resolve_train(check, list(model_cls.component_slots))
    if train.compile:
        for slot, spec in losses.items():
            role = _loss_role(spec.factory)
            if getattr(role, "double_backward", False):
                raise check.error("train.compile", f"train.compile cannot be combined with losses.{slot} "
                                  f"({spec.name}): torch.compile cannot differentiate the penalty twice",
                                  hint="--set train.compile=false (bf16 precision is the CPU/GPU speed-up here)")
    explicit = set(recipe.lines) | set(recipe.overridden) | _inside_overrides(recipe)
    resolved = Resolved(recipe, model, components, losses, data, optim, train, explicit)
    _validate(check, model_cls, resolved, what)
    return resolved


def _validate(check: _Checker, model_cls: type, resolved: Resolved, what: str) -> None:
    """The model's own cross-component checks (``GANModel.validate``), reported at the offending key's line."""
    if not model_cls.supports("validate"):
        return
    try:
        problems = list(model_cls.validate(resolved) or [])
    except RecipeError as exc:
        if exc.where is None:
            raise check.error("model.name", exc.message, exc.hint) from None
        raise
    except Exception as exc:  # noqa: BLE001 - a bug in the plugin's validate: name it
        from .contract import plugin_frame

        raise ContractError(f"{what}: validate(recipe) raised {type(exc).__name__}: {exc}{plugin_frame(exc)}",
                            hint="a bug in the model plugin's validate") from exc
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise check.error(first.path, f"{first.message}{more}", first.hint)


class _CallableModule(types.ModuleType):
    """``from ganzoo import resolve`` gives this module once it is imported (Python binds a package's submodules
    as its attributes); calling it calls :func:`resolve`, so the public API works whichever import came first."""

    def __call__(self, recipe: Recipe, registry: Registry) -> Resolved:
        return resolve(recipe, registry)


sys.modules[__name__].__class__ = _CallableModule
