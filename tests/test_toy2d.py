"""2-D toy data and the mode-coverage metric."""

import math

import pytest
import torch

from ganzoo.errors import SplitNotFound
from ganzoo_wgan.coverage import EVAL_SAMPLES, mode_coverage
from ganzoo_wgan.toy2d import Toy2D


def test_modes_of_the_published_protocol():
    ring, grid = Toy2D(distribution="ring", size=10), Toy2D(distribution="grid", size=10)
    assert ring.modes.shape == (8, 2) and ring.std == 0.01
    assert torch.allclose(ring.modes.norm(dim=1), torch.ones(8))
    assert len({tuple(m) for m in ring.modes.mul(1000).round().tolist()}) == 8  # 8 distinct means
    assert grid.modes.shape == (25, 2) and grid.std == 0.05
    assert sorted(set(grid.modes[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]


@pytest.mark.parametrize("distribution,modes", [("grid", 25), ("ring", 8)])
def test_mode_coverage_of_exact_samples(distribution, modes):
    data = Toy2D(distribution=distribution, size=EVAL_SAMPLES, seed=3)
    scores = data.evaluate_samples(lambda n: data.points[:n])
    assert scores["modes"] == modes
    assert 98.0 <= scores["hq_percent"] <= 99.7  # P(chi2_2 <= 9) = 98.9%
    assert 0.0 <= scores["reverse_kl"] < 0.02


def test_mode_coverage_of_collapsed_and_off_mode_samples():
    modes = Toy2D(distribution="grid", size=1).modes
    collapsed = mode_coverage(modes[7].expand(100, 2), modes, std=0.05)
    assert collapsed == {"modes": 1.0, "hq_percent": 100.0, "reverse_kl": pytest.approx(math.log(25))}
    between = mode_coverage(torch.full((50, 2), 1.0), modes, std=0.05)  # equidistant from 4 modes, none HQ
    assert between["modes"] == 0 and between["hq_percent"] == 0 and between["reverse_kl"] == math.inf
    half = mode_coverage(torch.cat([modes[:2], torch.full((2, 2), 1.0)]), modes, std=0.05)
    assert half["modes"] == 2 and half["hq_percent"] == 50.0


def test_points_are_precomputed_from_the_seed():
    a, b, c = (Toy2D(distribution="ring", size=100, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.points, b.points) and not torch.equal(a.points, c.points)
    assert a[5]["x"].shape == (2,) and Toy2D.keys == ("x",)


def test_swissroll_has_no_modes():
    data = Toy2D(distribution="swissroll", size=500)
    assert data.modes is None and data.points.shape == (500, 2)
    assert data.evaluate_samples(lambda n: pytest.fail("no samples are needed")) == {}
    assert data.points.abs().max() < 3


def test_toy2d_has_only_a_train_split():
    with pytest.raises(SplitNotFound):
        Toy2D(split="test")
