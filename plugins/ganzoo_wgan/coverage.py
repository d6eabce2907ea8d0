"""Mode coverage of samples from a Gaussian mixture (the VEEGAN / PacGAN protocol for 2-D toy data).

A sample is *high quality* when it lies within ``k`` standard deviations of its nearest mode; a mode is
*captured* when at least one high-quality sample falls to it; the *reverse KL* compares the histogram of
high-quality samples over the modes with the uniform distribution: sum_i q_i log(q_i K) over modes with q_i > 0
(0 when every mode gets an equal share; infinite when no sample is high quality).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: generated samples scored per evaluation, as in the published protocol
EVAL_SAMPLES = 2500


def mode_coverage(samples: Tensor, modes: Tensor, std: float, k: float = 3.0) -> dict[str, float]:
    """``{"modes": captured, "hq_percent": %, "reverse_kl": nats}`` for ``samples`` (N, 2) and ``modes`` (K, 2)."""
    samples, modes = samples.detach().float().cpu(), modes.detach().float().cpu()
    dist, nearest = torch.cdist(samples, modes).min(dim=1)
    hq = dist <= k * std
    counts = torch.bincount(nearest[hq], minlength=len(modes)).double()
    total = float(counts.sum())
    if total > 0:
        q = counts[counts > 0] / total
        reverse_kl = float((q * (q * len(modes)).log()).sum())
    else:
        reverse_kl = math.inf
    return {
        "modes": float((counts > 0).sum()),
        "hq_percent": 100.0 * total / max(1, len(samples)),
        "reverse_kl": reverse_kl,
    }
