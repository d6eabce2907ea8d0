"""FID, KID, precision/recall, Inception Score: the maths against closed forms and an independent implementation,
the preprocessing, the real-feature cache, and bad input. No Inception network here (see test_inception.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch
from ganzoo_metrics.distribution import FID, KID, InceptionScore, PrecisionRecall, frechet_distance

from ganzoo.errors import GanzooError
from ganzoo.features import FeatureCache, FeatureExtractor, to_uint8
from ganzoo.fidelity import Fidelity, directions, is_distribution_metric, select_metrics


def gaussian(n: int, mean, std, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, len(mean), generator=g, dtype=torch.float64) * torch.tensor(std) + torch.tensor(mean)


# FID ----------------------------------------------------------------------------------------------------------------
def test_fid_of_a_set_against_itself_is_zero():
    x = gaussian(300, [0.0] * 6, [1.0] * 6, 0)
    with pytest.warns(UserWarning, match="biased upward"):
        assert FID()(x, x)["fid"] == pytest.approx(0.0, abs=1e-6)


def test_fid_matches_the_closed_form_of_two_gaussians():
    """Diagonal Gaussians: FD = |mu1 - mu2|^2 + sum (s1 - s2)^2; sampled sets approach it."""
    mu1, mu2, s1, s2 = [0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [1.0, 2.0, 0.5], [2.0, 1.0, 0.5]
    closed = sum((a - b) ** 2 for a, b in zip(mu1, mu2)) + sum((a - b) ** 2 for a, b in zip(s1, s2))
    fid = FID()(gaussian(20000, mu1, s1, 1), gaussian(20000, mu2, s2, 2))["fid"]
    assert fid == pytest.approx(closed, rel=0.03)


def test_fid_agrees_with_an_independent_implementation():
    """torch-fidelity's eigenvalue form vs the symmetric sqrt form, on correlated features."""
    g = torch.Generator().manual_seed(3)
    a = torch.randn(500, 16, generator=g, dtype=torch.float64) @ torch.randn(16, 16, generator=g, dtype=torch.float64)
    b = torch.randn(400, 16, generator=g, dtype=torch.float64) * 1.5 + 0.3
    with pytest.warns(UserWarning):
        ours = FID()(a, b)["fid"]
    stats = [(x.numpy().mean(0), np.cov(x.numpy(), rowvar=False)) for x in (a, b)]
    assert ours == pytest.approx(frechet_distance(*stats[0], *stats[1]), rel=1e-8)


def test_fid_names_its_minimum_sample_count():
    x = gaussian(5, [0.0] * 4, [1.0] * 4, 0)
    with pytest.raises(ValueError, match="at least 10 generated samples, got 5"):
        FID()(x, gaussian(50, [0.0] * 4, [1.0] * 4, 1))


# KID ----------------------------------------------------------------------------------------------------------------
def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 estimator with k(a, b) = (a.b / d + 1)^3, written out independently."""
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()


def test_kid_with_one_full_subset_is_the_unbiased_estimator():
    x, y = gaussian(200, [0.0] * 5, [1.0] * 5, 0), gaussian(200, [0.5] * 5, [1.0] * 5, 1)
    out = KID(subsets=1, subset_size=200)(x, y)
    assert out["kid"] == pytest.approx(unbiased_mmd2(x.numpy(), y.numpy()), rel=1e-9)


def test_kid_is_unbiased_for_equal_distributions():
    """Two samples of one distribution: the mean over subsets is ~0 (may be negative), unlike a biased MMD."""
    x, y = gaussian(400, [0.0] * 8, [1.0] * 8, 0), gaussian(400, [0.0] * 8, [1.0] * 8, 1)
    out = KID(subsets=50, subset_size=100)(x, y)
    shifted = KID(subsets=50, subset_size=100)(x, gaussian(400, [1.0] * 8, [1.0] * 8, 2))
    assert abs(out["kid"]) < 0.02 < shifted["kid"]


def test_kid_warns_when_it_must_use_smaller_subsets():
    x = gaussian(50, [0.0] * 4, [1.0] * 4, 0)
    with pytest.warns(UserWarning, match="subsets of 50 samples instead of 1000"):
        KID()(x, x)


# Precision / recall ---------------------------------------------------------------------------------------------------
def test_precision_recall_of_identical_sets_is_one_and_of_disjoint_clusters_zero():
    a = gaussian(100, [0.0] * 4, [1.0] * 4, 0)
    assert PrecisionRecall()(a, a) == {"precision": 1.0, "recall": 1.0}
    far = gaussian(100, [100.0] * 4, [1.0] * 4, 1)
    assert PrecisionRecall()(a, far) == {"precision": 0.0, "recall": 0.0}


def test_precision_without_recall_for_a_collapsed_generator():
    real = gaussian(200, [0.0] * 2, [1.0] * 2, 0)
    collapsed = gaussian(200, [0.0] * 2, [0.05] * 2, 1)  # all samples in the middle of the real data
    out = PrecisionRecall()(collapsed, real)
    assert out["precision"] > 0.9 and out["recall"] < 0.3


# Inception Score ------------------------------------------------------------------------------------------------------
def test_inception_score_of_a_confident_uniform_class_network_is_the_class_count():
    classes = 10
    logits = torch.full((1000, 1008), -40.0, dtype=torch.float64)
    logits[torch.arange(1000), torch.arange(1000) % classes] = 0.0  # one sure class each, classes uniform
    assert InceptionScore(splits=1)(logits)["inception_score"] == pytest.approx(classes, rel=1e-6)
    assert InceptionScore()(logits)["inception_score"] == pytest.approx(classes, rel=0.1)  # 10 shuffled splits
    assert InceptionScore()(torch.zeros(100, 1008))["inception_score"] == pytest.approx(1.0)  # no information


# Registry and selection -----------------------------------------------------------------------------------------------
def test_distribution_metrics_are_registered_beside_the_paired_ones(toy_registry):
    paired, dist = select_metrics(toy_registry, ["l1", "fid", "kid", "precision_recall", "inception_score"])
    assert list(paired) == ["l1"] and list(dist) == ["fid", "kid", "precision_recall", "inception_score"]
    assert all(is_distribution_metric(m) for m in dist.values())
    assert directions(dist) == {"fid": False, "kid": False, "precision": True, "recall": True,
                                "inception_score": True}
    with pytest.raises(GanzooError, match="unknown metric 'precision_recal'.*did you mean 'precision_recall'"):
        select_metrics(toy_registry, ["precision_recal"])


# Preprocessing --------------------------------------------------------------------------------------------------------
def test_quantisation_round_trips_real_images_and_replicates_gray():
    u = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    x = u.float() / 127.5 - 1  # how datasets hand images to the model
    q = to_uint8(x)
    assert q.shape == (1, 3, 16, 16) and q.dtype == torch.uint8
    assert torch.equal(q[:, 0], u[:, 0]) and torch.equal(q[:, 2], u[:, 0])
    assert torch.equal(to_uint8(torch.tensor([-2.0, -1.0, 1.0, 5.0]).view(1, 1, 2, 2)).flatten()[:4],
                       torch.tensor([0, 0, 255, 255], dtype=torch.uint8))


@pytest.mark.parametrize("shape,message", [((10, 2), "2-D point data"), ((2, 4, 8, 8), "1- or 3-channel")])
def test_points_and_odd_channel_counts_have_no_inception_features(shape, message):
    with pytest.raises(GanzooError) as info:
        to_uint8(torch.zeros(shape))
    assert message in str(info.value) + (info.value.hint or "")


# The real-feature cache -----------------------------------------------------------------------------------------------
class PixelFeatures(FeatureExtractor):
    """A stand-in feature network (a few pixels as features) that counts the images it sees."""

    def __init__(self):
        self.outputs, self.batch_size, self.seen = ["2048"], 4, 0

    def identity(self):
        return {"network": "pixels", "weights": "none", "sha256": "0" * 64, "path": "", "preprocess": "test"}

    def __call__(self, images):
        self.seen += len(images)
        return {"pool": to_uint8(images).float().flatten(1)[:, :12]}


class Tiny(torch.utils.data.Dataset):
    def __init__(self, n: int = 24, offset: float = 0.0):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": torch.full((1, 4, 4), (i / self.n) - 0.5 + self.offset)}


def test_real_features_are_cached_and_a_changed_dataset_parameter_invalidates_them(tmp_path):
    extractor = PixelFeatures()
    fid = Fidelity(extractor, {"fid": FID()}, FeatureCache(tmp_path / "cache"))
    first, cached = fid.real_from_dataset(Tiny(), "x", {"name": "tiny", "offset": 0}, seed=0, batch_size=8,
                                          limit=None, progress=False)
    assert not cached and extractor.seen == 24 and first["pool"].shape == (24, 12)

    again = Fidelity(extractor, {"fid": FID()}, FeatureCache(tmp_path / "cache"))  # a new process, same cache
    second, cached = again.real_from_dataset(Tiny(), "x", {"name": "tiny", "offset": 0}, seed=0, batch_size=8,
                                             limit=None, progress=False)
    assert cached and extractor.seen == 24 and torch.equal(first["pool"], second["pool"])

    changed, cached = again.real_from_dataset(Tiny(offset=0.25), "x", {"name": "tiny", "offset": 0.25}, seed=0,
                                              batch_size=8, limit=None, progress=False)
    assert not cached and extractor.seen == 48 and not torch.equal(changed["pool"], first["pool"])
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2


class TinyFixed(Tiny):
    random_items = False  # its items draw nothing from the RNG


@pytest.mark.parametrize("dataset,shared", [(Tiny(), False), (TinyFixed(), True)])
def test_real_features_are_shared_across_seeds_only_for_datasets_without_random_items(tmp_path, dataset, shared):
    extractor = PixelFeatures()
    fid = Fidelity(extractor, {"fid": FID()}, FeatureCache(tmp_path))
    for seed in (0, 1):
        _, cached = fid.real_from_dataset(dataset, "x", {"name": "tiny"}, seed=seed, batch_size=8, limit=None,
                                          progress=False)
    assert cached is shared and extractor.seen == (24 if shared else 48)


def test_a_corrupt_cache_entry_is_recomputed(tmp_path):
    extractor = PixelFeatures()
    fid = Fidelity(extractor, {"fid": FID()}, FeatureCache(tmp_path))
    fid.real_from_dataset(Tiny(), "x", {"name": "tiny"}, seed=0, batch_size=8, limit=None, progress=False)
    for f in tmp_path.glob("*.pt"):
        f.write_bytes(b"garbage")
    fresh = Fidelity(extractor, {"fid": FID()}, FeatureCache(tmp_path))
    _, cached = fresh.real_from_dataset(Tiny(), "x", {"name": "tiny"}, seed=0, batch_size=8, limit=None,
                                        progress=False)
    assert not cached and extractor.seen == 48


def test_a_real_folder_without_images_is_one_clear_error(tmp_path):
    fid = Fidelity(PixelFeatures(), {"fid": FID()}, FeatureCache(tmp_path / "cache"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(GanzooError, match="no images in"):
        fid.real_from_folder(tmp_path / "empty", progress=False)


def test_scores_carry_notes_and_counts(tmp_path):
    fid = Fidelity(PixelFeatures(), {"fid": FID(), "kid": KID()}, FeatureCache(tmp_path))
    feats = {"pool": gaussian(40, [0.0] * 12, [1.0] * 12, 0).float()}
    report = fid.score({"samples": feats}, {"samples": feats})
    assert report.results["samples"]["fid"] == pytest.approx(0.0, abs=1e-4)
    assert report.counts == {"samples": {"generated": 40, "real": 40}}
    assert any("biased upward" in n for n in report.notes) and any("subsets of 40" in n for n in report.notes)
    json.dumps(report.as_dict())  # what eval.json stores


def test_too_few_samples_is_an_error_naming_the_minimum(tmp_path):
    fid = Fidelity(PixelFeatures(), {"fid": FID()}, FeatureCache(tmp_path))
    few = {"pool": torch.randn(4, 12)}
    with pytest.raises(GanzooError, match="at least 10"):
        fid.score({"samples": few}, {"samples": few})


def test_a_real_folder_is_read_at_each_image_size_and_cached(tmp_path):
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, size in enumerate([(8, 8), (8, 8), (12, 6), (8, 8), (5, 7)]):
        Image.new("RGB", size, (10 * i, 100, 200)).save(folder / f"{i}.png")
    Image.new("L", (8, 8), 77).save(folder / "gray.png")  # grayscale files become RGB
    (folder / "notes.txt").write_text("not an image")
    extractor = PixelFeatures()
    fid = Fidelity(extractor, {"fid": FID()}, FeatureCache(tmp_path / "cache"))
    features, cached = fid.real_from_folder(folder, progress=False)
    assert not cached and features["pool"].shape == (6, 12) and extractor.seen == 6
    _, cached = fid.real_from_folder(folder, progress=False)
    assert cached and extractor.seen == 6
    Image.new("RGB", (8, 8), (1, 2, 3)).save(folder / "0.png")  # a changed file: recomputed
    os.utime(folder / "0.png", ns=(1, 1))
    _, cached = fid.real_from_folder(folder, progress=False)
    assert not cached
