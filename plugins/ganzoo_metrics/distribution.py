"""Distribution metrics on Inception features: FID, KID, Inception Score, precision/recall.

Each compares a set of generated images with real ones through features ganzoo extracts (TF Inception-v3
2015-12-05, see :mod:`ganzoo.features`); the maths is torch-fidelity's, the field's maintained implementation.
A metric declares ``features`` ("pool": 2048-d pool3, or "logits"), ``outputs`` (name -> higher is better) and
``min_samples``; it warns (``warnings.warn``) where a result is valid but biased, and raises ``ValueError``
where it cannot be computed.
"""

from __future__ import annotations

import warnings

import numpy as np
from torch import Tensor

#: below this many samples FID's 2048x2048 covariance is rank-deficient and the estimate strongly biased
FID_FULL_RANK = 2048


def _check_count(name: str, minimum: int, **sets: Tensor | None) -> None:
    for side, feats in sets.items():
        if feats is not None and len(feats) < minimum:
            raise ValueError(f"{name} needs at least {minimum} {side} samples, got {len(feats)}")


class FID:
    """Frechet Inception Distance (Heusel et al. 2017) between generated and real images (lower is better).

    Biased upward at small sample counts: compare FIDs only at equal counts (papers use 10k or 50k).
    """

    features = "pool"
    outputs = {"fid": False}
    min_samples = 10

    def __call__(self, generated: Tensor, real: Tensor) -> dict[str, float]:
        from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

        _check_count("FID", self.min_samples, generated=generated, real=real)
        if min(len(generated), len(real)) < FID_FULL_RANK:
            warnings.warn(f"FID on {min(len(generated), len(real))} < {FID_FULL_RANK} samples is biased upward: "
                          "compare only with FIDs at the same count; KID is unbiased", stacklevel=2)
        stats = [fid_features_to_statistics(f.double()) for f in (generated, real)]
        return {"fid": float(fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID])}


class KID:
    """Kernel Inception Distance (Binkowski et al. 2018): unbiased MMD^2, cubic polynomial kernel, averaged over
    random subsets (lower is better; unbiased at any sample count, so it can be slightly negative)."""

    features = "pool"
    outputs = {"kid": False, "kid_std": None}
    min_samples = 2

    def __init__(self, *, subsets: int = 100, subset_size: int = 1000, degree: int = 3, seed: int = 2020):
        if subsets < 1 or subset_size < 2:
            raise ValueError("subsets must be >= 1 and subset_size >= 2")
        self.subsets, self.subset_size, self.degree, self.seed = subsets, subset_size, degree, seed

    def __call__(self, generated: Tensor, real: Tensor) -> dict[str, float]:
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, KEY_METRIC_KID_STD, kid_features_to_metric

        _check_count("KID", self.min_samples, generated=generated, real=real)
        size = min(self.subset_size, len(generated), len(real))
        if size < self.subset_size:
            warnings.warn(f"KID subsets of {size} samples instead of {self.subset_size} (only {size} available)",
                          stacklevel=2)
        out = kid_features_to_metric(generated.double(), real.double(), kid_subsets=self.subsets,
                                     kid_subset_size=size, kid_kernel_poly_degree=self.degree, rng_seed=self.seed,
                                     verbose=False)
        return {"kid": float(out[KEY_METRIC_KID_MEAN]), "kid_std": float(out[KEY_METRIC_KID_STD])}


class PrecisionRecall:
    """Improved precision and recall (Kynkaanniemi et al. 2019): the share of generated samples inside the real
    manifold (precision: fidelity) and of real samples inside the generated one (recall: diversity); each
    manifold is the union of k-nearest-neighbour balls in Inception space (higher is better)."""

    features = "pool"
    outputs = {"precision": True, "recall": True}

    def __init__(self, *, k: int = 3):
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k

    @property
    def min_samples(self) -> int:
        return self.k + 1

    def __call__(self, generated: Tensor, real: Tensor) -> dict[str, float]:
        from torch_fidelity.metric_prc import KEY_METRIC_PRECISION, KEY_METRIC_RECALL, prc_features_to_metric

        _check_count("precision/recall", self.min_samples, generated=generated, real=real)
        out = prc_features_to_metric(generated.float(), real.float(), prc_neighborhood=self.k, verbose=False)
        return {"precision": float(out[KEY_METRIC_PRECISION]), "recall": float(out[KEY_METRIC_RECALL])}


class InceptionScore:
    """Inception Score (Salimans et al. 2016): exp of the mean KL between Inception's class posterior of each
    generated image and their marginal, over ``splits`` splits (higher is better; needs Inception's classifier,
    i.e. torch-fidelity's standard weights). Generated images only."""

    features = "logits"
    outputs = {"inception_score": True, "inception_score_std": None}
    needs_real = False

    def __init__(self, *, splits: int = 10, seed: int = 2020):
        if splits < 1:
            raise ValueError(f"splits must be >= 1, got {splits}")
        self.splits, self.seed = splits, seed

    @property
    def min_samples(self) -> int:
        return 2 * self.splits

    def __call__(self, generated: Tensor, real: Tensor | None = None) -> dict[str, float]:
        from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, KEY_METRIC_ISC_STD, isc_features_to_metric

        _check_count("the Inception Score", self.min_samples, generated=generated)
        out = isc_features_to_metric(generated, splits=self.splits, shuffle=True, rng_seed=self.seed)
        return {"inception_score": float(out[KEY_METRIC_ISC_MEAN]),
                "inception_score_std": float(out[KEY_METRIC_ISC_STD])}


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """The Frechet distance of two Gaussians, by the symmetric form ``tr sqrt(S1^1/2 S2 S1^1/2)`` (a check for
    torch-fidelity's eigenvalue form; used by tests and benchmarks)."""
    w, v = np.linalg.eigh(sigma1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(np.clip(inner, 0, None)).sum())

