"""Text and JSON views of the registry for ``ganzoo list`` and ``ganzoo plugins``."""

from __future__ import annotations

import fnmatch
import functools
import inspect
from typing import Any, NoReturn

from .errors import PluginError
from .hookspecs import KINDS
from .registry import INSTALL_HINT, Entry, Registry, plural
from .schema import did_you_mean


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def parse_kind(word: str) -> str:
    """``generator``/``generators`` -> ``generator``; a clear error for anything else."""
    w = word.lower()
    kinds = [*KINDS, "recipe"]
    for kind in kinds:
        if w in (kind, plural(kind)):
            return kind
    raise PluginError(f"unknown kind {word!r}{did_you_mean(w, kinds + [plural(k) for k in kinds])}",
                      hint=f"kinds: {', '.join(kinds)}")


def recipe_rows(registry: Registry, pattern: str | None = None) -> list[dict[str, Any]]:
    """Recipes shipped by installed plugins (``register_recipes``)."""
    return [{"name": r.name, "plugin": r.dist, "version": r.plugin.version, "path": str(r.path),
             "summary": r.summary, "run": f"ganzoo run {r.qualified_name}"}
            for r in sorted(registry.recipe_entries(), key=lambda r: (r.name, r.dist))
            if not pattern or fnmatch.fnmatch(r.name, pattern) or pattern.lower() in r.name.lower()]


def format_recipes(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no installed plugin ships recipes (recipe files: recipes/*.yaml in a checkout)"
    width = max(len(r["name"]) for r in rows)
    providers = [f"{r['plugin']} {r['version']}" for r in rows]
    pwidth = max(len(p) for p in providers)
    lines = ["recipes:"] + [f"  {r['name'].ljust(width)}  {p.ljust(pwidth)}  {_short(r['summary'])}"
                            for r, p in zip(rows, providers)]
    return "\n".join(lines + ["run one with `ganzoo run NAME` (or DIST:NAME); `ganzoo list recipe --json` has "
                              "their paths"])


def _matches(entry: Entry, pattern: str | None) -> bool:
    if not pattern:
        return True
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatch(entry.name, pattern)
    return pattern.lower() in entry.name.lower() or pattern.lower() in entry.summary.lower()


def _default(value: Any) -> Any:
    if value is inspect.Parameter.empty:
        return None
    return list(value) if isinstance(value, tuple) else value


def param_rows(entry: Entry) -> list[dict[str, Any]]:
    return [{"name": p.name, "type": p.type_name, "default": _default(p.default), "required": p.required}
            for p in entry.params]


def as_json(entry: Entry) -> dict[str, Any]:
    row = {"kind": entry.kind, "name": entry.name, "plugin": entry.dist, "version": entry.version,
           "summary": entry.summary, "params": param_rows(entry)}
    if entry.kind == "model":
        cls = entry.factory
        while isinstance(cls, functools.partial):
            cls = cls.func
        row["contract"] = model_contract(cls)
    return row


def list_json(registry: Registry, entries: list[Entry]) -> dict[str, Any]:
    """``ganzoo list --json``: the components, and the plugins that failed to load (which provide none)."""
    return {"components": [as_json(e) for e in entries],
            "plugin_errors": [{"plugin": p.name, "dist": p.dist, "version": p.version, "errors": p.errors}
                              for p in registry.problems]}


def version_line(registry: Registry) -> str:
    """``plugins: a 1.0, b 0.2 (failed to load)`` for ``ganzoo --version``."""
    status: dict[tuple[str, str], bool] = {}
    for p in registry.plugins:
        status[(p.dist, p.version)] = status.get((p.dist, p.version), False) or p.module is not None
    failed = " (failed to load: see `ganzoo plugins`)"
    shown = [f"{d} {v}" + ("" if ok else failed) for (d, v), ok in sorted(status.items())]
    return "plugins: " + (", ".join(shown) or "none (pip install -e .)")


def select(registry: Registry, kind: str | None, pattern: str | None) -> list[Entry]:
    return [e for e in registry.entries(kind) if _matches(e, pattern)]


def nothing_matches(registry: Registry, kind: str | None, pattern: str) -> NoReturn:
    """The error for ``ganzoo list KIND PATTERN`` that matches nothing: a misspelt name gets a did-you-mean."""
    if kind and not any(c in pattern for c in "*?["):
        registry.get(kind, pattern)  # raises "unknown generator 'unet_512' (did you mean 'unet_256'?)"
    what = plural(kind) if kind else "components"
    command = f"ganzoo list {kind}" if kind else "ganzoo list"
    raise PluginError(f"no {what} match {pattern!r}", hint=f"`{command}` shows them all")


def format_list(registry: Registry, entries: list[Entry]) -> str:
    if not registry.plugins:
        return INSTALL_HINT
    lines: list[str] = []
    by_kind: dict[str, list[Entry]] = {}
    for e in entries:
        by_kind.setdefault(e.kind, []).append(e)
    dupes = {(es[0].kind, es[0].name) for es in registry.duplicates()}
    for kind in KINDS:
        group = sorted(by_kind.get(kind, []), key=lambda e: (e.name, e.dist))
        if not group:
            continue
        lines.append(f"{plural(kind)}:")
        width = max(len(e.name) for e in group)
        pwidth = max(len(f"{e.dist} {e.version}") for e in group)
        for e in group:
            mark = "  [duplicate: use " + e.qualified_name + "]" if (e.kind, e.name) in dupes else ""
            lines.append(f"  {e.name.ljust(width)}  {f'{e.dist} {e.version}'.ljust(pwidth)}  {_short(e.summary)}{mark}")
        lines.append("")
    if not lines:
        lines.append("no components match")
    if registry.problems:
        names = ", ".join(sorted({p.dist for p in registry.problems}))
        lines.append(f"{len(registry.problems)} plugin(s) reported errors ({names}): see `ganzoo plugins`")
    return "\n".join(lines).rstrip()


def format_entry(entry: Entry, extra: str = "") -> str:
    lines = [f"{entry.kind} {entry.name}  ({entry.qualified_name}, version {entry.version})", ""]
    doc = entry.doc
    if isinstance(entry.factory, functools.partial):
        preset = ", ".join(f"{k}={v!r}" for k, v in entry.factory.keywords.items())
        lines += [entry.summary, f"(variant: {preset})", ""]
    if doc:
        lines += [doc, ""]
    rows = param_rows(entry)
    if rows:
        lines.append("parameters:")
        w = max(len(r["name"]) for r in rows)
        tw = max(len(r["type"]) for r in rows)
        for r in rows:
            default = "required" if r["required"] else f"default {r['default']!r}"
            lines.append(f"  {r['name'].ljust(w)}  {r['type'].ljust(tw)}  {default}")
    else:
        lines.append("parameters: none")
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def model_contract(cls: type) -> dict[str, Any]:
    """What a model class declares: slots, loss slots and roles, batch keys, optimizer groups, capabilities."""
    capabilities = [c for c in ("translate", "generate", "evaluation_pairs", "generated_images", "validate",
                                "warnings", "batch_roles") if cls.supports(c)]
    return {"component_slots": dict(cls.component_slots),
            "loss_slots": {slot: role.role for slot, role in cls.loss_slots.items()},
            "batch_keys": list(cls.batch_keys),
            "optimizer_groups": {g: list(slots) for g, slots in cls.optimizer_groups.items()},
            "capabilities": capabilities,
            "loss_capabilities": list(getattr(cls, "loss_capabilities", ())),
            "conditional": bool(getattr(cls, "conditional", False))}


def format_contract(contract: dict[str, Any]) -> str:
    lines = ["component slots: " + ", ".join(f"{s} ({k})" for s, k in contract["component_slots"].items()),
             "loss slots:      " + (", ".join(f"{s} ({r} loss)" for s, r in contract["loss_slots"].items()) or "none"),
             "batch keys:      " + (", ".join(contract["batch_keys"]) or "none"),
             "optimizer groups: " + "; ".join(f"{g}: {', '.join(s)}" for g, s in contract["optimizer_groups"].items()),
             "capabilities:    " + (", ".join(contract["capabilities"]) or "none")]
    if contract["loss_capabilities"]:
        lines.append("losses it can drive: one-sided and " + ", ".join(contract["loss_capabilities"]))
    if contract["conditional"]:
        lines.append("conditional: generate(n, labels=...), `ganzoo sample --label/--labels/--per-class`")
    return "\n".join(lines)


def details(entry: Entry) -> str:
    """Extra text a component offers about itself (e.g. a PatchGAN's receptive field), via ``details(**params)``;
    for a model, its contract (slots, loss roles, batch keys, optimizer groups, capabilities)."""
    cls = entry.factory
    while isinstance(cls, functools.partial):
        cls = cls.func
    if entry.kind == "model":
        return format_contract(model_contract(cls))
    fn = getattr(cls, "details", None)
    if not callable(fn):
        return ""
    defaults = {p.name: p.default for p in entry.params if not p.required}
    try:
        return str(fn(**defaults))
    except Exception as exc:  # a plugin's details must never break `ganzoo list`
        return f"(details unavailable: {exc})"


def plugins_json(registry: Registry) -> list[dict[str, Any]]:
    return [{"name": p.name, "dist": p.dist, "version": p.version, "entry_point": p.entry_point,
             "kinds": sorted(p.kinds), "errors": p.errors} for p in registry.plugins]


def format_plugins(registry: Registry) -> str:
    if not registry.plugins:
        return INSTALL_HINT
    lines = []
    for p in sorted(registry.plugins, key=lambda p: p.name):
        kinds = ", ".join(k for k in [*KINDS, "recipe"] if k in p.kinds) or "nothing"
        lines.append(f"{p.dist} {p.version}  [{p.entry_point}]  provides: {kinds}")
        for err in p.errors:
            lines.append(f"    error: {err}")
    dupes = registry.duplicates()
    if dupes:
        lines.append("")
        lines.append("names registered more than once (a recipe must qualify them as dist:name):")
        for es in dupes:
            lines.append(f"  {es[0].kind} {es[0].name}: " + ", ".join(e.qualified_name for e in es))
    return "\n".join(lines)
