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
