"""``ganzoo run --dry-run``: the resolved recipe with the user's choices marked, and every component built."""

from __future__ import annotations

from typing import Any

import yaml

from .build import build_dataset, build_model, build_optional_split, check_batch_keys, parameter_counts
from .flow import describe_flow
from .resolve import Resolved


def _flow(value: Any) -> str:
    value = list(value) if isinstance(value, tuple) else value
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()


def format_resolved(resolved: Resolved) -> str:
    """YAML of the resolved recipe; values the recipe or ``--set`` gave are marked ``# *``, the rest are defaults."""
    lines: list[str] = []

    def walk(node: dict[str, Any], prefix: str, indent: int) -> None:
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else key
            pad = "  " * indent
            if isinstance(value, dict) and value:
                lines.append(f"{pad}{key}:")
                walk(value, path, indent + 1)
            else:
                mark = "  # *" if path in resolved.explicit else ""
                lines.append(f"{pad}{key}: {_flow(value)}{mark}")

    walk(resolved.to_dict(), "", 0)
    return "\n".join(lines)


def dry_run(resolved: Resolved) -> str:
    """Build the datasets and every component (no training) and describe them."""
    out = [f"# resolved recipe {resolved.recipe.source}  (# * = set by the recipe or --set; the rest are defaults)",
           format_resolved(resolved), ""]
    train = build_dataset(resolved, "train")
    check_batch_keys(resolved, train)
    test = build_optional_split(resolved, "test")
    model = build_model(resolved)
    out.append("components:")
    for slot, count in parameter_counts(model).items():
        out.append(f"  {slot}: {resolved.components[slot].name}, {count:,} parameters")
    for slot, spec in resolved.losses.items():
        out.append(f"  loss {slot}: {spec.name} (weight {spec.params.get('weight', 1.0):g})")
    sizes = f"train {len(train)}" + (f", test {len(test)}" if test is not None else ", no test split")
    out.append(f"data: {resolved.data.name} ({sizes} samples)")
    flow = describe_flow(model, train)
    if flow:
        out.append(f"  {flow}")
    skipped = getattr(train, "skipped", None)
    if skipped:
        out.append(f"  {len(skipped)} unreadable image(s) will be skipped")
    for warning in model.warnings():
        out.append(f"warning: {warning}")
    out.append("dry run: nothing trained")
    return "\n".join(out)
