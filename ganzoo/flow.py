"""Which part of the data a model reads as its input and which as its target, in words for logs and pictures.

A model names the batch key behind each role (``GANModel.batch_roles()``: ``{"input": "B", "target": "A"}``);
a dataset may say what each key is in its files (``key_descriptions``: ``{"A": "left half", "B": "right
half"}``). Together: ``input: right half (B) → target: left half (A)``, so a user whose labels sit on the
left sees before training that the recipe would learn photo → labels.
"""

from __future__ import annotations

from typing import Any


def roles(model: Any, dataset: Any) -> dict[str, str]:
    """role -> ``"right half (B)"`` (or just ``"B"`` when the dataset does not describe its keys)."""
    wanted = model.batch_roles() if hasattr(model, "batch_roles") else {}
    described = getattr(dataset, "key_descriptions", None) or {}
    return {role: f"{described[key]} ({key})" if key in described else key for role, key in wanted.items()}


def describe_flow(model: Any, dataset: Any) -> str | None:
    """``input: right half (B) → target: left half (A)``; None for models without input/target roles."""
    found = roles(model, dataset)
    return " → ".join(f"{role}: {what}" for role, what in found.items()) or None


def column_titles(model: Any, dataset: Any) -> dict[str, tuple[str, ...]]:
    """Titles for sample-grid columns named after a role, longest first: the grid uses the first that fits."""
    keys = model.batch_roles() if hasattr(model, "batch_roles") else {}
    return {role: (f"{role}: {what}", f"{role} ({keys[role]})") for role, what in roles(model, dataset).items()}


def class_name(index: int, names: Any) -> str:
    """``3: dress`` with class names, ``3`` without."""
    if names is not None and 0 <= index < len(names):
        return f"{index}: {names[index]}"
    return str(index)


def row_labels(model: Any, batch: dict[str, Any], dataset: Any = None) -> list[str] | None:
    """Row titles for a conditional model's sample grid: the class of each example of the fixed batch."""
    if not getattr(model, "conditional", False):
        return None
    labels = batch.get(getattr(model, "label_key", "label"))
    if labels is None:
        return None
    names = getattr(model, "class_names", None) or getattr(dataset, "class_names", None)
    return [class_name(int(v), names) for v in labels.reshape(-1).tolist()]
