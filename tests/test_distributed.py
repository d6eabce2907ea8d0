"""Data parallelism through torchrun on CPU (gloo, 2 processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import TESTS, TOY_RECIPE, run_ganzoo
from ganzoo.testing import fake_distribution

EXACT = ["--set", "components.generator.dropout=0", "--set", "train.workers=0", "--set", "train.eval_at_end=false",
         "--set", "optim.G={name: SGD, lr: 0.5}", "--set", "optim.D={name: SGD, lr: 0.5}"]


def torchrun(*args, nproc=2, timeout=240, env=None, cwd=None):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "ganzoo", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, "GANZOO_DIST_TIMEOUT": "60", "OMP_NUM_THREADS": "1", **(env or {})})


def weights(run):
    return torch.load(run / "checkpoints/last.pt", weights_only=True)


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    """One 2-process run of the toy recipe (1 step, batch 2 per process), shared by the tests below."""
    root = tmp_path_factory.mktemp("ddp")
    site = fake_distribution(root / "site", "ganzoo-toy", {"toy": "toy_plugin"})
    recipe = root / "toy.yaml"
    recipe.write_text(TOY_RECIPE)
    out = root / "ddp"
    proc = torchrun("run", recipe, "--out", out, "--no-progress", "--set", "train.steps=1",
                    "--set", "train.batch_size=2", *EXACT,
                    env={"PYTHONPATH": os.pathsep.join([str(site), str(TESTS), os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def test_two_processes_write_one_run_directory(two_rank_run):
    out, proc = two_rank_run
    assert sorted(p.name for p in out.parent.iterdir() if p.is_dir()) == ["ddp", "site"]
    assert (out / "checkpoints/last.pt").exists() and (out / "samples/step_0000001.png").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["world_size"] == 2 and manifest["batch_size_per_process"] == 2
    assert "batch 2 per process x 2 processes" in proc.stderr
    state = weights(out)
    assert state["world_size"] == 2 and len(state["rng_ranks"]) == 2
    assert not any(k.startswith(("module.", "_orig_mod.")) for k in state["model"])


def test_gradients_match_a_single_process_with_the_global_batch(two_rank_run, toy_installed, toy_recipe, tmp_path):
    out, _ = two_rank_run
    single = tmp_path / "single"
    proc = run_ganzoo("run", toy_recipe, "--out", single, "--no-progress", "--set", "train.steps=1",
                      "--set", "train.batch_size=4", *EXACT)
    assert proc.returncode == 0, proc.stderr
    a, b = weights(out)["model"], weights(single)["model"]
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6, msg=key)


def test_two_rank_checkpoint_resumes_in_one_process(two_rank_run, toy_installed, toy_recipe, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(two_rank_run[0], out)  # resume a copy: the shared run stays as the other tests expect
    proc = run_ganzoo("run", toy_recipe, "--resume", out, "--no-progress", "--set", "train.steps=3",
                      "--set", "train.batch_size=2", *EXACT)
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint written by 2 process(es), resumed on 1" in proc.stderr
    state = weights(out)
    assert state["step"] == 3 and state["world_size"] == 1


def test_world_larger_than_dataset_is_a_clear_error(toy_installed, toy_recipe, tmp_path):
    proc = torchrun("run", toy_recipe, "--no-progress", "--set", "data.size=3", "--set", "train.batch_size=2",
                    "--set", "train.workers=0", cwd=tmp_path)  # a default run directory lands in tmp_path
    assert proc.returncode != 0
    assert "Error: the dataset has 3 samples, fewer than one batch of 2 per process (2 processes)" in proc.stderr


def test_a_failing_rank_stops_the_others(toy_installed, toy_recipe, tmp_path):
    proc = torchrun("run", toy_recipe, "--no-progress", "--set", "model.fail_on_rank=1", "--set", "train.steps=50",
                    "--set", "train.workers=0", timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    assert "simulated failure on rank 1" in proc.stderr


def test_cuda_rank_without_gpu_is_a_clear_error(monkeypatch):
    from ganzoo.distributed import DistEnv, device_for
    from ganzoo.errors import TrainingError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TrainingError, match="rank 1 asks for CUDA but has no GPU"):
        device_for(DistEnv(rank=1, local_rank=1, world_size=2), "cuda")
    assert device_for(DistEnv(rank=1, local_rank=1, world_size=2), "auto") == "auto"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(TrainingError, match=r"local rank 1\) has no GPU: only 1 visible"):
        device_for(DistEnv(rank=1, local_rank=1, world_size=2), "auto")
    assert device_for(DistEnv(rank=0, local_rank=0, world_size=2), "auto") == "cuda:0"
