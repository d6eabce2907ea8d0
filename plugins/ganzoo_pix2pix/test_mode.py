"""The paper's test-time behaviour (pix2pix §3.3, and the reference implementation's default test run): the
generator runs as in training, so batch norm normalises with the statistics of the image itself and dropout stays
on (the paper's source of stochasticity), while nothing the network learnt is modified."""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


@contextlib.contextmanager
def own_statistics(net: nn.Module) -> Iterator[None]:
    """Within the block, batch norms use the statistics of the batch they see and dropout is active.

    Batch norms stay in eval mode with their running buffers detached for the block: torch then normalises with
    batch statistics and updates nothing (not even ``num_batches_tracked``); the buffers come back unchanged.
    """
    norms = [m for m in net.modules() if isinstance(m, _BatchNorm) and m.running_mean is not None]
    drops = [m for m in net.modules() if isinstance(m, nn.modules.dropout._DropoutNd) and not m.training]
    saved = [(m.running_mean, m.running_var) for m in norms]
    try:
        for m in norms:
            m.running_mean = m.running_var = None
        for m in drops:
            m.train()
        yield
    finally:
        for m, (mean, var) in zip(norms, saved):
            m.running_mean, m.running_var = mean, var
        for m in drops:
            m.eval()


def paper_forward(net: nn.Module, x: Tensor) -> Tensor:
    """``net(x)`` the paper's way, each image alone (batch norm over one image, whatever the batch size)."""
    with own_statistics(net):
        return torch.cat([net(image) for image in x.split(1)])
