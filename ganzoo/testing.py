"""Helpers for testing plugins without installing them.

- :func:`registry_from` builds a registry from plugin modules directly (no entry points).
- :func:`fake_distribution` writes an importable package plus a ``*.dist-info`` with ``ganzoo`` entry points
  into a folder; put that folder on ``sys.path`` (or ``PYTHONPATH`` for a subprocess) and ganzoo discovers it
  exactly as it discovers a pip-installed plugin.
- :func:`check_component` builds a registered component with its defaults (a quick conformance check).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from .plugins import Plugin, get_plugin_manager, register_plugin
from .registry import Registry, build_registry


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
