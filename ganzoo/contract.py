"""The model contract, enforced: what ``train_step`` may do to weights, and what it must return.

A training scheme updates weights only through ``optimizers.step(group, loss)``. :class:`StepLedger` keeps the
cheap bookkeeping that proves it, per step: which groups were stepped, whether gradients or weight changes
appeared outside ``optimizers.step`` (parameter version counters, a few additions per step), and whether an
optimizer was stepped by hand. :func:`check_returned` validates ``train_step``'s return value and
:func:`refuse_own_optimizers` refuses, at build time, a model that holds its own ``torch.optim`` optimizer (its
state would not be checkpointed, its learning rate not scheduled, its gradients not averaged).
"""

from __future__ import annotations

import contextlib
import math
import traceback
from typing import Any, Iterable, Iterator, Mapping

import torch
from torch import Tensor, nn

from .errors import ContractError, GanzooError

STEP_HINT = "call optimizers.step(group, loss) in train_step: it zeroes, backpropagates and steps the group"


def _versions(params: Iterable[Tensor]) -> int:
    """Sum of the parameters' version counters: it grows with every in-place change of any of them."""
    return sum(p._version for p in params)


class StepLedger:
    """Per-step bookkeeping of an :class:`~ganzoo.optim.OptimizerSet` (see the module docstring)."""

    def __init__(self, model: nn.Module, params: Mapping[str, list[nn.Parameter]]):
        cls = type(model)
        # ClassName (its plugin's top-level module): says whose step broke the contract
        self.model_name = f"{cls.__name__}" + (f" ({cls.__module__.split('.')[0]})" if cls.__module__ else "")
        self.params = params
        self.required = [g for g in params if g not in set(getattr(model, "intermittent_groups", ()))]
        self.stepped: set[str] = set()
        self.versions: dict[str, int] = {}
        self.inside = False  # True while OptimizerSet.step runs
        self.completed = 0  # train_steps checked so far
        self.active = False  # between begin() and end(): the engine is running train_step
        self.step_index = 0

    def begin(self, step_index: int) -> None:
        self.active = True
        self.step_index = step_index
        self.stepped.clear()
        self.versions = {g: _versions(ps) for g, ps in self.params.items()}

    @contextlib.contextmanager
    def stepping(self, group: str) -> Iterator[None]:
        """Around ``OptimizerSet.step``: mark the group stepped, and check nothing changed since the last look."""
        self.stepped.add(group)
        if self.active:
            self._check_untouched(f"before optimizers.step({group!r})")
        self.inside = True
        try:
            yield
        finally:
            self.inside = False
        self.versions[group] = _versions(self.params[group])

    def end(self) -> None:
        """After ``train_step``: every required group stepped; no gradients or weight changes left behind."""
        self.active = False
        self.completed += 1
        self._check_untouched("after its last optimizers.step")
        missing = [g for g in self.required if g not in self.stepped]
        if missing:
            group = missing[0]
            raise ContractError(
                f"{self.model_name}: train_step did not step optimizer group {group!r} in step {self.step_index}: "
                f"its parameters would never train",
                hint=f"call optimizers.step({group!r}, loss) in every train_step; a model that updates a group only "
                     f"on some steps declares intermittent_groups = ({group!r},)")

    def _check_untouched(self, when: str) -> None:
        for group, params in self.params.items():
            if any(p.grad is not None for p in params):
                raise ContractError(
                    f"{self.model_name}: train_step left gradients on group {group!r}'s parameters {when} in step "
                    f"{self.step_index}: a backward() outside optimizers.step",
                    hint=f"do not call loss.backward() yourself; {STEP_HINT}")
            if _versions(params) != self.versions.get(group):
                raise ContractError(
                    f"{self.model_name}: train_step changed the weights of group {group!r} outside optimizers.step "
                    f"({when}, step {self.step_index})",
                    hint=f"{STEP_HINT}; a constraint on weights (clipping, projection) belongs in a "
                         "torch.nn.utils.parametrize parametrization of the network")

    def optimizer_hook(self, group: str):
        """A step pre-hook refusing ``optimizers[group].step()`` called by the model itself."""
        def hook(optimizer, args, kwargs):
            if self.active and not self.inside:
                raise ContractError(f"{self.model_name}: train_step called optimizers[{group!r}].step() itself "
                                    f"(step {self.step_index})", hint=STEP_HINT)
        return hook


def check_returned(values: Any, model_name: str) -> Mapping[str, Any]:
    """``train_step``'s return: a mapping of ``group/term`` names to scalar tensors or numbers."""
    fix = "values must be scalar tensors or floats named group/term (e.g. {'D/real': d_real.detach()})"
    if not isinstance(values, Mapping):
        raise ContractError(f"{model_name}: train_step returned {type(values).__name__}, not a mapping", hint=fix)
    for key, value in values.items():
        if not isinstance(key, str) or "/" not in key.strip("/"):
            raise ContractError(f"{model_name}: train_step returned the name {key!r}: names are group/term",
                                hint=fix)
        if isinstance(value, Tensor):
            if value.numel() != 1:
                raise ContractError(f"{model_name}: train_step returned {key!r} with shape {tuple(value.shape)}",
                                    hint=fix)
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ContractError(f"{model_name}: train_step returned {key!r} as {type(value).__name__} {value!r}",
                                hint=fix)
    return values


def refuse_own_optimizers(model: nn.Module, name: str) -> None:
    """A model (or a component) holding a ``torch.optim.Optimizer``: its updates would escape the engine."""
    for module_name, module in model.named_modules():
        for attr, value in vars(module).items():
            values = (value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple))
                      else [value])
            if any(isinstance(v, torch.optim.Optimizer) for v in values):
                where = f"{module_name}.{attr}" if module_name else attr
                raise ContractError(
                    f"model {name!r} holds its own torch.optim optimizer ({where}): it would not be checkpointed, "
                    f"scheduled, averaged across processes or guarded against NaN",
                    hint="declare optimizer_groups and take the optimizer from the recipe's optim: section; "
                         "train_step gets them as optimizers")


def expected_side(params: Mapping[str, Any]) -> int | None:
    """The image side a dataset's parameters promise (``crop_size``, else ``image_size``), if any."""
    preprocess = params.get("preprocess")
    if preprocess == "none":
        return None
    if preprocess == "resize":
        return params.get("load_size") or None
    for key in ("crop_size", "image_size"):
        if isinstance(params.get(key), int):
            return params[key]
    return None


def image_problems(value: Tensor, side: int | None) -> list[str]:
    """What is wrong with one (C, H, W) image item: HWC layout, dtype, range, size."""
    if value.dim() != 3:
        return []  # points (2,), vectors: no image checks
    problems = []
    c, h, w = value.shape
    if c > 4 and w <= 4:
        return [f"shape {tuple(value.shape)} looks like HWC: images are (C, H, W); use tensor.permute(2, 0, 1)"]
    if value.dtype != torch.float32:
        problems.append(f"dtype {value.dtype}: images are float32 in [-1, 1] (x / 127.5 - 1 for uint8)")
        return problems
    low, high = float(value.min()), float(value.max())
    if low < -1 - 1e-4 or high > 1 + 1e-4 or not (math.isfinite(low) and math.isfinite(high)):
        hint = " (scaled to [0, 1]? use x * 2 - 1)" if low >= 0 and high <= 1 + 1e-4 else ""
        problems.append(f"values span [{low:.3g}, {high:.3g}], outside [-1, 1]{hint}")
    if side is not None and (h, w) != (side, side):
        problems.append(f"size {h}x{w}, but its parameters say {side}x{side} (crop_size / image_size)")
    return problems


def check_batch(batch: Any, keys: Iterable[str], dataset: str, side: int | None = None) -> list[str]:
    """A collated batch as the model will receive it: a dict holding the model's keys as (N, ...) tensors, images
    (N, C, H, W) float in [-1, 1]."""
    if not isinstance(batch, Mapping):
        return [f"dataset {dataset!r} gave a batch of {type(batch).__name__}: items must be dicts of tensors"]
    problems = []
    for key in keys:
        value = batch.get(key)
        if value is None:
            problems.append(f"dataset {dataset!r} gave no {key!r} in its items (they hold {sorted(batch)})")
        elif not torch.is_tensor(value):
            problems.append(f"dataset {dataset!r} item[{key!r}] is {type(value).__name__}, not a tensor")
        elif value.dim() == 4:
            problems += [f"dataset {dataset!r} item[{key!r}]: {p}" for p in image_problems(value[0], side)]
    return problems


def first_batch(batches: Iterator[Any], resolved: Any) -> Any:
    """The first batch of a run, blaming the dataset (not the model) for what is wrong with it."""
    name = resolved.data.name
    check = f"ganzoo.testing.check_dataset(None, {name!r}, ...) checks its items one by one"
    with blamed(f"dataset {name!r}{_provider(resolved.data)}", "to give a batch", hint=check):
        batch = next(batches)
    problems = check_batch(batch, resolved.model_class.batch_keys, name, expected_side(resolved.data.params))
    if problems:
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ContractError(problems[0] + more, where=resolved.recipe.where("data.name"),
                            hint=f"fix the dataset's __getitem__; {check}")
    return batch


def _provider(spec: Any) -> str:
    entry = getattr(spec, "entry", None)
    return f" from {entry.dist}" if entry is not None else ""


def blame_model(resolved: Any, what: str = "in its first train_step", active: bool = True):
    """Name the model (and the plugin line) when ``train_step`` fails where a traceback would point at torch."""
    if not active:
        return contextlib.nullcontext()
    model = resolved.model.name
    return blamed(f"model {model!r}{_provider(resolved.model)}", what,
                  hint=f"a bug in the model plugin, or components that do not fit it (see `ganzoo list model "
                       f"{model}`); ganzoo.testing.check_model(recipe) reproduces it with the traceback")


def plugin_frame(exc: BaseException) -> str:
    """`` (at file:line)`` of the innermost frame outside torch and ganzoo's core, where a plugin went wrong."""
    frames = traceback.extract_tb(exc.__traceback__)
    core = ("/torch/", "/ganzoo/", "/contextlib.py", "/site-packages/PIL/")
    mine = [f for f in frames if not any(c in f.filename.replace("\\", "/") for c in core)]
    last = (mine or frames)[-1:] if frames else []
    return f" (at {last[0].filename}:{last[0].lineno})" if last else ""


@contextlib.contextmanager
def blamed(component: str, what: str, hint: str) -> Iterator[None]:
    """Turn an unexpected exception into a :class:`ContractError` naming the component at fault."""
    try:
        yield
    except (GanzooError, MemoryError, getattr(torch, "OutOfMemoryError", MemoryError)):
        raise  # already explained, or a matter of sizes, not of the component
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise ContractError(f"{component} failed {what}: {type(exc).__name__}: {first}{plugin_frame(exc)}",
                            hint=hint) from exc
