"""Optimizers per group, learning-rate schedules, and the ``optimizers.step(group, loss)`` a model calls."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from .contract import StepLedger, check_returned
from .device import no_autocast
from .distributed import all_true
from .errors import ContractError, NonFiniteLoss, TooManySkips
from .finite import all_finite
from .model import GANModel
from .resolve import Spec
from .schedules import SCHEDULES


def make_optimizer(spec: Spec, params: list[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    """The recipe's optimizer, with the fused implementation where torch has one and the user chose none."""
    kwargs = dict(spec.params)
    accepted = inspect.signature(spec.factory).parameters
    if "fused" in accepted and kwargs.get("fused") is None and kwargs.get("foreach") is None:
        if not kwargs.get("differentiable") and device.type in ("cpu", "cuda"):
            kwargs["fused"] = True
    try:
        return spec.factory(params, **kwargs)
    except (RuntimeError, ValueError):
        if kwargs.get("fused") and spec.params.get("fused") is None:
            kwargs["fused"] = None  # this torch build has no fused kernel for the device or dtype
            return spec.factory(params, **kwargs)
        raise


class Scheduler:
    """Sets each group's learning rate to ``base_lr * factor(step, total)``; its only state is the step."""

    def __init__(self, optimizers: dict[str, torch.optim.Optimizer], spec: dict, total_steps: int):
        params = {k: v for k, v in spec.items() if k != "name"}
        self.factor = SCHEDULES[spec["name"]](**params)
        self.total = total_steps
        self.base = {g: [pg["lr"] for pg in opt.param_groups] for g, opt in optimizers.items()}
        self.optimizers = optimizers

    def set_step(self, step: int) -> None:
        f = self.factor(step, self.total)
        for group, opt in self.optimizers.items():
            for pg, base in zip(opt.param_groups, self.base[group]):
                pg["lr"] = base * f

    def lrs(self) -> dict[str, float]:
        return {g: opt.param_groups[0]["lr"] for g, opt in self.optimizers.items()}


class OptimizerSet:
    """The ``optimizers`` argument of ``GANModel.train_step``: one optimizer per group, stepped by name."""

    def __init__(
        self,
        model: GANModel,
        optimizers: dict[str, torch.optim.Optimizer],
        device: torch.device,
        *,
        scaler: torch.amp.GradScaler | None = None,
        on_nan: str = "stop",
        max_skips: int = 50,
    ):
        self.optimizers = optimizers
        self.params = {g: [p for pg in opt.param_groups for p in pg["params"]] for g, opt in optimizers.items()}
        self.device = device
        self.scaler = scaler
        self.on_nan = on_nan
        self.max_skips = max_skips
        self.step_index = 0  # set by the engine before each train_step, for error messages
        self.skipped = 0
        self.ledger = StepLedger(model, self.params)  # the model contract, checked per step at little cost
        for group, opt in optimizers.items():
            opt.register_step_pre_hook(self.ledger.optimizer_hook(group))

    def begin(self) -> None:
        """Before ``train_step``: start the step's bookkeeping."""
        self.ledger.begin(self.step_index)

    def end(self, values: Any) -> Mapping[str, Any]:
        """After ``train_step``: check the contract (groups stepped, nothing updated behind optimizers.step) and
        the returned values; returns them."""
        self.ledger.end()
        return check_returned(values, self.ledger.model_name)

    def __getitem__(self, group: str) -> torch.optim.Optimizer:
        return self.optimizers[group]

    def __iter__(self):
        return iter(self.optimizers)

    def step(self, group: str, loss: Tensor) -> None:
        """Zero the group's gradients, backpropagate ``loss`` into its parameters only, and step it."""
        if group not in self.optimizers:
            raise ContractError(f"{self.ledger.model_name}: train_step stepped optimizer group {group!r}, which it "
                                f"does not declare", hint=f"its optimizer_groups: {', '.join(self.optimizers)}")
        with self.ledger.stepping(group):
            self._step(group, loss)

    def _step(self, group: str, loss: Tensor) -> None:
        if not all_true(bool(torch.isfinite(loss).all()), self.device):  # collective under torchrun
            if self.on_nan == "stop":
                raise NonFiniteLoss(self.step_index, f"{group} (total)", float(loss.detach().float().sum()))
            return self._skip()
        optimizer, params = self.optimizers[group], self.params[group]
        optimizer.zero_grad(set_to_none=True)
        with no_autocast(self.device):
            # inputs= restricts backward to this group: no weight gradients for the other groups' modules.
            (self.scaler.scale(loss) if self.scaler else loss).backward(inputs=params)
        if self.on_nan == "skip" and self.scaler is None:
            # A finite loss can still have NaN/inf gradients, and stepping on them makes the weights (and Adam's
            # moments) non-finite for good: refuse the update instead. One fused norm over the gradients; the
            # loss scaler already does this for fp16.
            if not all_true(all_finite(p.grad for p in params if p.grad is not None), self.device):
                optimizer.zero_grad(set_to_none=True)
                return self._skip()
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)  # gradients live only inside step(): any found later came from elsewhere
        # autocast caches each weight's low-precision copy until its region ends, which is after train_step:
        # without this, later forwards in the same step (the n_critic loop, G's pass through D) would use the
        # weights as they were before this update.
        torch.clear_autocast_cache()

    def _skip(self) -> None:
        self.skipped += 1
        if self.skipped > self.max_skips:
            raise TooManySkips(self.step_index, self.skipped, self.max_skips)
