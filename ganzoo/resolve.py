"""Check a recipe against the registry and fill in every default, before any tensor exists."""

from __future__ import annotations

import functools
import inspect
import re
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Iterable

import torch

from .config import EMAConfig, TrainConfig
from .errors import PluginError
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
                raise self.error(
                    f"{path}.{key}",
                    f"unknown parameter {key!r} for {what}{did_you_mean(key, known)}",
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
            got = f"a {role.role} loss" if role else "not a ganzoo loss"
            raise check.error(f"losses.{slot}.name", f"{resolved.name!r} is {got}; slot {slot!r} of {what} "
                              f"takes a {wanted.role} loss", hint="see `ganzoo list loss`")
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
        params = check.params(f"optim.{group}", given, parameters(cls, exclude={"params"}), f"optimizer {cls.__name__}")
        optim[group] = Spec(cls.__name__, cls, params)

    train = _resolve_train(check, list(model_cls.component_slots))
    if train.compile:
        for slot, spec in losses.items():
            role = _loss_role(spec.factory)
            if getattr(role, "double_backward", False):
                raise check.error("train.compile", f"train.compile cannot be combined with losses.{slot} "
                                  f"({spec.name}): torch.compile cannot differentiate the penalty twice",
                                  hint="--set train.compile=false (bf16 precision is the CPU/GPU speed-up here)")
    explicit = set(recipe.lines) | set(recipe.overridden)
    return Resolved(recipe, model, components, losses, data, optim, train, explicit)
