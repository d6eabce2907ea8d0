"""Find the ``ganzoo`` entry points and load each plugin in its own try, recording failures.

pluggy's ``load_setuptools_entrypoints`` stops at the first plugin that fails to import and skips a second
entry point of the same name, so entry points are loaded here one at a time.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as metadata
import io
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import pluggy

from . import hookspecs
from .schema import did_you_mean

GROUP = "ganzoo"
STRICT_ENV = "GANZOO_STRICT_PLUGINS"
ALLOW_ENV = "GANZOO_LOAD_PLUGINS"


@dataclass
class Plugin:
    """One loaded (or failed) entry point and what it provides."""

    name: str  # unique registration name: "<dist>:<entry point>"
    dist: str
    version: str
    entry_point: str  # "name = value" as written in the providing package
    module: object | None = None
    kinds: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def get_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with ganzoo's hookspecs and no plugins."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _normalise(dist_name: str) -> str:
    return dist_name.lower().replace("_", "-").replace(".", "-")


def _allowlist() -> set[str] | None:
    raw = os.environ.get(ALLOW_ENV, "").strip()
    return {_normalise(x) for x in raw.split(",") if x.strip()} if raw else None


def _strict() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def entry_points() -> list[metadata.EntryPoint]:
    """Every entry point of the ``ganzoo`` group in the environment, in a stable order."""
    eps = metadata.entry_points(group=GROUP)
    return sorted(eps, key=lambda ep: (ep.dist.metadata["Name"].lower() if ep.dist else "", ep.name))


def _format_exception(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    at = f" (at {last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{at}"


def register_plugin(pm: pluggy.PluginManager, plugin: Plugin, module: object, strict: bool = False) -> None:
    """Register ``module`` with ``pm`` under ``plugin.name``; record unknown (misspelt) hooks on ``plugin``."""
    try:
        pm.register(module, name=plugin.name)
    except Exception as exc:  # pluggy validates hookimpl signatures against the specs here
        if strict:
            raise
        plugin.errors.append(_format_exception(exc))
        return
    plugin.module = module
    for caller in pm.get_hookcallers(module) or []:
        if caller.name in hookspecs.HOOKS:
            continue
        message = f"unknown hook {caller.name!r}{did_you_mean(caller.name, hookspecs.HOOKS)}"
        if strict:
            raise pluggy.PluginValidationError(module, f"{plugin.name}: {message}")
        plugin.errors.append(message)


def load_plugins(
    pm: pluggy.PluginManager,
    eps: Iterable[metadata.EntryPoint] | None = None,
    *,
    allow: set[str] | None = None,
    strict: bool | None = None,
) -> list[Plugin]:
    """Load every entry point into ``pm``; a failing one is recorded, never fatal unless ``strict``.

    ``allow`` (default: ``$GANZOO_LOAD_PLUGINS``) restricts loading to those distributions; ``strict``
    (default: ``$GANZOO_STRICT_PLUGINS``) re-raises import errors, for plugin authors.
    """
    allow = _allowlist() if allow is None else {_normalise(a) for a in allow}
    strict = _strict() if strict is None else strict
    plugins = []
    for ep in entry_points() if eps is None else eps:
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "unknown"
        if allow is not None and _normalise(dist_name) not in allow:
            continue
        plugin = Plugin(
            name=f"{dist_name}:{ep.name}",
            dist=dist_name,
            version=dist.version if dist is not None else "0",
            entry_point=f"{ep.name} = {ep.value}",
        )
        plugins.append(plugin)
        if pm.has_plugin(plugin.name):
            plugin.errors.append(f"a second entry point named {ep.name!r} in {dist_name}; ignored")
            continue
        try:
            with _output_held() as printed:
                module = ep.load()
        except (Exception, SystemExit) as exc:  # a plugin calling sys.exit() or argparse at import, too
            if strict:
                if isinstance(exc, SystemExit):
                    raise RuntimeError(f"{plugin.name} called sys.exit({exc.code!r}) while being imported") from exc
                raise
            plugin.errors.append(_describe_failure(exc, printed.getvalue()))
            continue
        register_plugin(pm, plugin, module, strict)
    return plugins


@contextlib.contextmanager
def _output_held() -> Iterator[io.StringIO]:
    """Hold what a plugin prints while it is imported: shown afterwards if the import works, kept in its error
    if not (argparse prints 'prog: error: ...' before exiting, which would read as ganzoo's own error)."""
    held = io.StringIO()
    with contextlib.redirect_stdout(held), contextlib.redirect_stderr(held):
        yield held
    if held.getvalue():
        sys.stderr.write(held.getvalue())


def _describe_failure(exc: BaseException, printed: str) -> str:
    if isinstance(exc, SystemExit):
        what = f"called sys.exit({exc.code!r}) while being imported"
        # the frame that matters is the plugin's line, not argparse's exit()
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.endswith("argparse.py")]
        what += f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    else:
        what = _format_exception(exc)
    lines = [line.strip() for line in printed.strip().splitlines() if line.strip()]
    return what + (f"; it printed: {' / '.join(lines[-3:])[:300]}" if lines else "")
