"""``ganzoo run --dry-run``: the resolved recipe with the user's choices marked, and every component built."""

from __future__ import annotations

from typing import Any

import yaml

import torch

from . import contract
from .build import build_dataset, build_model, build_optional_split, check_batch_keys, parameter_counts
from .data import fixed_batch
from .device import preserved_rng
from .flow import describe_flow
from .optim import OptimizerSet, make_optimizer
from .report import as_float
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
    """Build the datasets and every component, load a batch, sample and take one training step on the throwaway
    model, and describe them; torch's RNG is left as it was."""
    with preserved_rng(torch.device("cpu")):
        return _dry_run(resolved)


def _dry_run(resolved: Resolved) -> str:
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
    out += try_one_step(resolved, model, train)
    out.append("dry run: nothing trained")
    return "\n".join(out)


def try_one_step(resolved: Resolved, model, train) -> list[str]:
    """Load one batch (checked against the model's keys and the dataset's promised sizes), run ``sample`` once and
    one ``train_step`` under the model contract, on CPU, on the dry run's throwaway model (its RNG use is undone
    by :func:`dry_run`): dataset-shape bugs and model/loss mismatches become ``Error:`` lines before training."""
    cpu = torch.device("cpu")
    count = min(len(train), resolved.train.batch_size * model.batches_per_step)
    batch = _first_batch(resolved, train, count)
    model.eval()
    with torch.no_grad(), contract.blame_model(resolved, "in sample(batch)"):
        samples = model.sample(batch)
    model.train()
    optimizers = {group: make_optimizer(spec, model.group_parameters(group), cpu)
                  for group, spec in resolved.optim.items()}
    opt = OptimizerSet(model, optimizers, cpu, on_nan=resolved.train.on_nan, max_skips=resolved.train.max_skips)
    opt.step_index = 1
    opt.begin()
    with contract.blame_model(resolved):
        values = model.train_step(batch, opt, 0)
    values = opt.end(values)
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in batch.items() if torch.is_tensor(v))
    columns = ", ".join(samples) if isinstance(samples, dict) else type(samples).__name__
    losses = "  ".join(f"{k} {as_float(v):.3g}" for k, v in values.items())
    return [f"checked: a batch of {count} ({shapes}); sample() -> {columns}; one train_step -> {losses}"]


def _first_batch(resolved: Resolved, train, count: int):
    """The first ``count`` items, collated as the engine will (the dataset is blamed for what fails)."""
    def one():
        yield fixed_batch(train, count, resolved.train.seed)
    return contract.first_batch(one(), resolved)
