"""Domain errors. The CLI is the only place that turns them into ``Error: ...`` and a non-zero exit."""

from __future__ import annotations


class GanzooError(Exception):
    """An error the user can fix: bad input, a missing file, an inconsistent recipe.

    ``where`` locates it (recipe file, dotted path, line), ``hint`` says what to do next.
    """

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class RecipeError(GanzooError):
    """The recipe (or an override) is malformed or does not fit the registered components."""


class PluginError(GanzooError):
    """A plugin failed to load, or a component name is unknown or ambiguous."""


class ContractError(GanzooError):
    """A plugin breaks ganzoo's plugin contract: a hook, a factory's signature, a dataset's items, a model's step."""


class DataError(GanzooError):
    """A dataset cannot be read: missing folder, wrong layout, corrupt files."""


class UnreadableImage(DataError):
    """An image file that cannot be decoded (corrupt, truncated, not an image)."""

    def __init__(self, path, reason: str):
        super().__init__(f"cannot read image {path}: {reason}", hint="remove it, or set data.strict: false to skip")
        self.path = path


class SplitNotFound(DataError):
    """A dataset has no such split (e.g. no ``test`` split); callers may treat it as optional."""


class CheckpointError(GanzooError):
    """A checkpoint cannot be read, written, or does not match the recipe."""


class TrainingError(GanzooError):
    """Training cannot go on (non-finite loss, device unavailable, ...)."""


class NonFinite(TrainingError):
    """Training produced NaN or infinite values; ``step`` is where they were found."""

    def __init__(self, step: int, message: str, hint: str):
        super().__init__(message, hint=hint)
        self.step = step


class NonFiniteLoss(NonFinite):
    """A loss became NaN or infinite."""

    def __init__(self, step: int, name: str, value: float):
        super().__init__(step, f"loss {name!r} is {value} at step {step}",
                         hint="lower the learning rate, try precision: fp32, or set train.on_nan: skip")
        self.name = name


class NonFiniteWeights(NonFinite):
    """Weights or optimizer state became NaN or infinite (an update with finite losses can do that)."""

    def __init__(self, step: int, names: list[str]):
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        super().__init__(step, f"weights are not finite at step {step} ({shown}); no checkpoint was written for it",
                         hint="lower the learning rate or clip gradients; train.on_nan: skip refuses such updates")
        self.names = names


class TooManySkips(NonFinite):
    """``on_nan: skip`` skipped more updates than ``train.max_skips``."""

    def __init__(self, step: int, skipped: int, limit: int):
        super().__init__(step, f"{skipped} updates skipped for non-finite losses or gradients by step {step}, "
                         f"more than train.max_skips={limit}",
                         hint="the run diverged: lower the learning rate, or raise train.max_skips")
        self.skipped = skipped
