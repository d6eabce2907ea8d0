"""The component registry: kind -> name -> entries, each knowing its factory, provider and parameters."""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import pluggy

from .errors import PluginError
from .hookspecs import KINDS, RECIPE_HOOK
from .plugins import Plugin, get_plugin_manager, load_plugins
from .schema import Param, did_you_mean, parameters, summary


def plural(kind: str) -> str:
    """``loss`` -> ``losses``, ``generator`` -> ``generators``."""
    return kind + ("es" if kind.endswith("s") else "s")

INSTALL_HINT = "no plugins found: install ganzoo (pip install -e .)"


def reserved_parameters(kind: str, factory: Callable) -> set[str]:
    """Factory parameters the engine supplies rather than the recipe (a dataset's split, a model's slots)."""
    if kind == "dataset":
        return {"split"}
    if kind == "model":
        cls = factory
        while isinstance(cls, functools.partial):
            cls = cls.func
        return set(getattr(cls, "component_slots", {})) | set(getattr(cls, "loss_slots", {}))
    return set()


@dataclass
class Entry:
    """A registered component."""

    kind: str
    name: str
    factory: Callable
    plugin: Plugin

    @property
    def dist(self) -> str:
        return self.plugin.dist

    @property
    def version(self) -> str:
        return self.plugin.version

    @property
    def qualified_name(self) -> str:
        return f"{self.dist}:{self.name}"

    @functools.cached_property
    def summary(self) -> str:
        return summary(self.factory)

    @functools.cached_property
    def params(self) -> tuple[Param, ...]:
        return parameters(self.factory, exclude=reserved_parameters(self.kind, self.factory))

    @property
    def doc(self) -> str:
        target = self.factory.func if isinstance(self.factory, functools.partial) else self.factory
        return inspect.getdoc(target) or ""


@dataclass
class RecipeEntry:
    """A recipe file shipped by a plugin (``register_recipes``)."""

    name: str
    path: Path
    plugin: Plugin

    @property
    def dist(self) -> str:
        return self.plugin.dist

    @property
    def qualified_name(self) -> str:
        return f"{self.dist}:{self.name}"

    @functools.cached_property
    def summary(self) -> str:
        """The recipe's first comment line."""
        try:
            for line in Path(self.path).read_text(encoding="utf-8").splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
                if line.strip():
                    break
        except OSError:
            return "(file missing)"
        return ""


@dataclass
class Registry:
    """Every component the loaded plugins registered, with the plugins themselves and their load errors."""

    plugins: list[Plugin] = field(default_factory=list)
    _entries: dict[str, dict[str, list[Entry]]] = field(default_factory=lambda: {k: {} for k in KINDS})

    def add(self, kind: str, name: str, factory: Callable, plugin: Plugin) -> None:
        if not isinstance(name, str) or not name or ":" in name:
            raise PluginError(f"invalid component name {name!r} (a non-empty string without ':')")
        if not callable(factory):
            raise PluginError(f"{kind} {name!r}: factory {factory!r} is not callable")
        if kind == "model":
            _check_model_factory(name, factory)
        self._entries[kind].setdefault(name, []).append(Entry(kind, name, factory, plugin))
        plugin.kinds.add(kind)

    _recipes: dict[str, list[RecipeEntry]] = field(default_factory=dict)

    def add_recipe(self, name: str, path: Any, plugin: Plugin) -> None:
        if not isinstance(name, str) or not name or ":" in name or "/" in name:
            raise PluginError(f"invalid recipe name {name!r} (a non-empty string without ':' or '/')")
        self._recipes.setdefault(name, []).append(RecipeEntry(name, Path(str(path)), plugin))
        plugin.kinds.add("recipe")

    def recipe_entries(self) -> list[RecipeEntry]:
        return [e for entries in self._recipes.values() for e in entries]

    def recipe(self, name: str) -> RecipeEntry:
        """The recipe registered as ``name`` (or ``dist:name``); a clear error when unknown or ambiguous."""
        dist, _, bare = name.rpartition(":")
        candidates = [e for e in self._recipes.get(bare, []) if not dist or _same_dist(e.dist, dist)]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise PluginError(f"recipe {bare!r} is ambiguous: shipped by {', '.join(e.dist for e in candidates)}",
                              hint="name the provider: " + " or ".join(repr(e.qualified_name) for e in candidates))
        known = sorted(self._recipes)
        raise PluginError(f"no recipe file or installed recipe named {name!r}{did_you_mean(bare, known)}",
                          hint=("installed recipes: " + ", ".join(known)) if known else
                          "give the path of a recipe file, e.g. recipes/pix2pix.yaml")

    def entries(self, kind: str | None = None) -> list[Entry]:
        kinds = [kind] if kind else list(KINDS)
        return [e for k in kinds for entries in self._entries[k].values() for e in entries]

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def duplicates(self) -> list[list[Entry]]:
        """Names registered by more than one plugin within a kind."""
        return [es for k in KINDS for es in self._entries[k].values() if len(es) > 1]

    @property
    def problems(self) -> list[Plugin]:
        return [p for p in self.plugins if p.errors]

    def get(self, kind: str, name: str) -> Entry:
        """The entry for ``name`` (or ``dist:name``); a clear error when unknown or ambiguous."""
        if kind not in KINDS:
            raise PluginError(f"unknown component kind {kind!r}{did_you_mean(kind, KINDS)}")
        if not isinstance(name, str):
            raise PluginError(f"a {kind} name must be a string, got {name!r}")
        dist, _, bare = name.rpartition(":")
        candidates = self._entries[kind].get(bare, [])
        if dist:
            candidates = [e for e in candidates if _same_dist(e.dist, dist)]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            if not self.plugins:
                raise PluginError(INSTALL_HINT)
            known = self.names(kind)
            suggestion = did_you_mean(bare, known)
            where = f" from {dist}" if dist else ""
            raise PluginError(
                f"unknown {kind} {name!r}{where}{suggestion}",
                hint=f"see `ganzoo list {kind}` for the {len(known)} registered {plural(kind)}" + self._failed_hint(),
            )
        providers = ", ".join(f"{e.dist} {e.version}" for e in candidates)
        qualified = " or ".join(repr(e.qualified_name) for e in candidates)
        raise PluginError(
            f"{kind} {bare!r} is ambiguous: registered by {providers}",
            hint=f"name the provider: {qualified}",
        )

    def _failed_hint(self) -> str:
        failed = [p.dist for p in self.problems]
        return f"; plugins with load errors: {', '.join(sorted(set(failed)))} (see `ganzoo plugins`)" if failed else ""


def _same_dist(a: str, b: str) -> bool:
    return a.lower().replace("_", "-") == b.lower().replace("_", "-")


def _check_model_factory(name: str, factory: Callable) -> None:
    from .model import GANModel  # model imports torch; keep registry import light

    cls = factory
    while isinstance(cls, functools.partial):
        cls = cls.func
    if not (inspect.isclass(cls) and issubclass(cls, GANModel)):
        raise PluginError(f"model {name!r}: factory must be a ganzoo.GANModel subclass, got {factory!r}")


def _call_hooks(pm: pluggy.PluginManager, registry: Registry, plugins: Iterable[Plugin]) -> None:
    by_name = {p.name: p for p in plugins}
    for kind, hook_name in KINDS.items():
        # Each implementation is called on its own so that every component is attributed to its plugin and
        # one plugin raising does not hide the others.
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            plugin = by_name.get(impl.plugin_name)
            if plugin is None:
                plugin = Plugin(impl.plugin_name, impl.plugin_name, "0", "(registered directly)", impl.plugin)
                by_name[plugin.name] = plugin
                registry.plugins.append(plugin)

            def register(name: str, factory: Callable, _kind: str = kind, _plugin: Plugin = plugin) -> None:
                registry.add(_kind, name, factory, _plugin)

            try:
                impl.function(**{arg: register for arg in impl.argnames})
            except (Exception, SystemExit) as exc:
                plugin.errors.append(f"{hook_name} raised {type(exc).__name__}: {exc}")


def _call_recipe_hooks(pm: pluggy.PluginManager, registry: Registry) -> None:
    by_name = {p.name: p for p in registry.plugins}
    for impl in getattr(pm.hook, RECIPE_HOOK).get_hookimpls():
        plugin = by_name.get(impl.plugin_name) or Plugin(impl.plugin_name, impl.plugin_name, "0", "(direct)")

        def register(name: str, path: Any, _plugin: Plugin = plugin) -> None:
            registry.add_recipe(name, path, _plugin)

        try:
            impl.function(**{arg: register for arg in impl.argnames})
        except (Exception, SystemExit) as exc:
            plugin.errors.append(f"{RECIPE_HOOK} raised {type(exc).__name__}: {exc}")


def build_registry(pm: pluggy.PluginManager | None = None, plugins: list[Plugin] | None = None) -> Registry:
    """Load the installed plugins (or use ``pm``/``plugins`` given by a test) and collect their components."""
    if pm is None:
        pm = get_plugin_manager()
        plugins = load_plugins(pm)
    registry = Registry(plugins=list(plugins or []))
    _call_hooks(pm, registry, registry.plugins)
    _call_recipe_hooks(pm, registry)
    return registry


def lookup(registry: Registry, kind: str, spec: Any) -> Entry:
    """Entry for a recipe spec ``{name: ..., ...}`` or a bare name."""
    name = spec.get("name") if isinstance(spec, dict) else spec
    return registry.get(kind, name)
