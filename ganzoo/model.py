"""GANModel: the contract between a training scheme (a ``model`` plugin) and the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol

import torch
from torch import Tensor, nn

from .losses import Loss

Batch = dict[str, Tensor]


class Optimizers(Protocol):
    """What ``train_step`` receives: the model's optimizer groups, stepped by name.

    ``step(group, loss)`` zeroes that group's gradients, backpropagates ``loss`` into the group's parameters
    only (nothing is computed for the other groups' weights), applies loss scaling, distributed gradient
    averaging and the non-finite guard, then steps the optimizer. ``optimizers[group]`` is the underlying
    ``torch.optim.Optimizer``.
    """

    def step(self, group: str, loss: Tensor) -> None: ...

    def __getitem__(self, group: str) -> torch.optim.Optimizer: ...


@dataclass
class Problem:
    """What :meth:`GANModel.validate` reports: the dotted recipe path of the offending key (printed with its file
    and line), what is wrong, and optionally how to fix it."""

    path: str
    message: str
    hint: str | None = None


class GANModel(nn.Module):
    """A training scheme: declares what it needs and owns its training step.

    Subclasses declare, as class attributes:

    - ``component_slots``: slot name -> component kind, e.g. ``{"generator": "generator"}``. The recipe's
      ``components:`` section fills each slot; the built module arrives as the constructor argument of the
      same name.
    - ``loss_slots``: slot name -> loss role class (:mod:`ganzoo.losses`), filled from ``losses:``.
    - ``batch_keys``: the keys ``train_step`` reads from a batch; the dataset must provide them.
    - ``optimizer_groups``: group name -> slots whose parameters it optimizes; the recipe's ``optim:``
      section must name exactly these groups.

    The constructor's keyword-only parameters are the recipe's ``model:`` options. The engine moves the
    model to its device, wraps ``train_step`` in autocast, and never looks inside.

    Optional capabilities, used by the CLI when present: ``translate`` (with ``directions``),
    ``generate``, ``evaluation_pairs``, ``generated_images`` (with ``fidelity_sets``: FID/KID), ``warnings``
    and ``batch_roles``.
    """

    component_slots: ClassVar[Mapping[str, str]] = {}
    loss_slots: ClassVar[Mapping[str, type[Loss]]] = {}
    batch_keys: ClassVar[tuple[str, ...]] = ()
    optimizer_groups: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: translation directions this model supports (``ganzoo translate --direction``); empty if none.
    directions: ClassVar[tuple[str, ...]] = ()
    #: class-conditional: ``generate(n, labels=...)``, ``num_classes``; batches carry labels under ``label_key``
    conditional: ClassVar[bool] = False
    label_key: ClassVar[str] = "label"
    #: optimizer groups this model may leave unstepped in some steps (the engine requires the others every step)
    intermittent_groups: ClassVar[tuple[str, ...]] = ()
    #: what its loss slots can drive beyond one-sided terms: ``("pairwise",)`` when ``train_step`` passes real
    #: scores to ``adversarial.generator_term`` (relativistic losses need it; see ``ganzoo.losses.AdversarialLoss``)
    loss_capabilities: ClassVar[tuple[str, ...]] = ()
    #: real batches consumed per ``train_step``; the engine concatenates them along dim 0 (e.g. n_critic).
    batches_per_step: int = 1
    #: the recipe option that sets ``batches_per_step``, named in errors (e.g. ``model.n_critic``).
    batches_per_step_option: str = "batches per step"

    def train_step(self, batch: Batch, optimizers: Optimizers, step: int) -> Mapping[str, Tensor | float]:
        """One training step: compute losses, call ``optimizers.step(group, loss)``; return named scalars."""
        raise NotImplementedError

    def sample(self, batch: Batch) -> dict[str, Tensor]:
        """Named tensors for a picture of progress: images (N, C, H, W) in [-1, 1], or points (N, 2)."""
        raise NotImplementedError

    # Optional capabilities -------------------------------------------------------------------------------
    def translate(self, images: Tensor, direction: str) -> Tensor:
        """Map a batch of images in [-1, 1] to the other domain (image-to-image models)."""
        raise NotImplementedError(f"{type(self).__name__} does not translate images")

    def generate(self, n: int, *, labels: Tensor | None = None, **conditions: Any) -> Tensor:
        """``n`` samples. Unconditional models implement ``generate(self, n)``. Class-conditional models declare
        ``conditional = True``, set ``self.num_classes`` (and optionally ``self.class_names``) and take
        ``labels``, a (n,) int64 tensor of class indices (None: classes of the model's choosing, e.g. uniform);
        other conditions arrive as keyword arguments. ``ganzoo sample --label/--labels/--per-class`` uses it."""
        raise NotImplementedError(f"{type(self).__name__} does not generate samples")

    def evaluation_pairs(self, batch: Batch) -> dict[str, tuple[Tensor, Tensor]]:
        """Named (output, target) pairs on a test batch, scored by ``ganzoo eval``."""
        raise NotImplementedError(f"{type(self).__name__} has no evaluation pairs")

    def generated_images(self, batch: Batch) -> dict[str, Tensor]:
        """Named sets of generated images in [-1, 1] on an evaluation batch, scored as distributions (FID, KID)
        against the real images that ``fidelity_sets()`` names. Unconditional models generate ``len(batch)``
        samples (conditional ones may use the batch's labels); translation models translate the batch's inputs."""
        raise NotImplementedError(f"{type(self).__name__} has no generated image sets")

    def fidelity_sets(self) -> dict[str, str]:
        """For each set of ``generated_images``: the batch key holding the real images it is compared with
        (e.g. ``{"AtoB": "B"}``: translations to domain B against the split's real B images)."""
        return {}

    @classmethod
    def validate(cls, recipe: Any) -> list[Problem]:
        """Cross-component checks at resolve time, before anything is built (so ``--dry-run`` and the run report
        them as recipe errors with the file:line of the key). ``recipe`` is the resolved recipe
        (:class:`ganzoo.resolve.Resolved`): ``recipe.model.params``, ``recipe.components[slot].params``,
        ``recipe.losses[slot].params``, ``recipe.data.params``, ``recipe.train`` and ``recipe.dataset_info``
        (the dataset's declared ``keys``, ``num_classes``, ``class_names``). Return a :class:`Problem` per
        mismatch, e.g. ``Problem("components.generator.num_classes", "the generator makes 10 classes but the
        dataset has 3")``."""
        return []

    def warnings(self) -> list[str]:
        """Configuration warnings shown by ``--dry-run`` and the run log (e.g. batch norm with a penalty)."""
        return []

    def batch_roles(self) -> dict[str, str]:
        """Which batch key plays which role, e.g. ``{"input": "B", "target": "A"}``: the run header and the dry
        run print it (with the dataset's ``key_descriptions``), and sample columns named after a role say it."""
        return {}

    # Helpers for subclasses and the engine ------------------------------------------------------------------
    @classmethod
    def supports(cls, capability: str) -> bool:
        """Whether the subclass implements an optional capability (``translate``, ``generate``, ...)."""
        return getattr(cls, capability) is not getattr(GANModel, capability)

    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        return torch.device("cpu")

    def group_parameters(self, group: str) -> list[nn.Parameter]:
        """Trainable parameters of the slots in an optimizer group (each parameter once)."""
        seen: dict[int, nn.Parameter] = {}
        for slot in self.optimizer_groups[group]:
            for p in getattr(self, slot).parameters():
                if p.requires_grad:
                    seen.setdefault(id(p), p)
        return list(seen.values())
