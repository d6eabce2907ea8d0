"""The image history pool (Shrivastava et al. 2017): the discriminator also sees older fakes, which damps oscillation."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class ImagePool(nn.Module):
    """Up to ``size`` past generated images.

    ``query(images)`` returns a batch of the same size: while the pool fills, each new image is stored and
    returned; once full, each position returns, with probability 0.5, a random stored image (which the new
    one replaces) and otherwise the new image itself. ``size`` 0 disables the pool.

    The images are module state (``get_extra_state``), so they travel with the model's checkpoint and a
    resumed run continues with exactly the same history.
    """

    def __init__(self, size: int = 50):
        super().__init__()
        if size < 0:
            raise ValueError(f"pool_size must be >= 0, got {size}")
        self.size = size
        self.images: list[Tensor] = []

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, images: Tensor) -> Tensor:
        if self.size == 0:
            return images.detach()
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif bool(torch.rand(()) < 0.5):
                i = int(torch.randint(0, len(self.images), ()))
                old, self.images[i] = self.images[i], image.clone()
                # an image of another shape (a resumed run with a new crop size) cannot join this batch
                out.append(old.to(image.device, image.dtype) if old.shape == image.shape else image)
            else:
                out.append(image)
        return torch.stack(out)

    # Checkpointed state: a list, since stored images need not share a shape or dtype.
    def get_extra_state(self) -> dict[str, Any]:
        return {"size": self.size, "images": list(self.images)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.images = [t.clone() for t in state["images"]][: self.size]

    def extra_repr(self) -> str:
        return f"size={self.size}"
