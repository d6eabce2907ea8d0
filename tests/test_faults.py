"""ganzoo's fault suite: each case is a way a run could lose data or go silently wrong, and what ganzoo does instead.

Every class of fault has at least one case in the default suite; the slower ones (real torchrun) are marked slow.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganzoo.engine import Trainer
from ganzoo.errors import TrainingError
from ganzoo.recipe import load_recipe
from ganzoo.resolve import resolve

from conftest import run_ganzoo


def make_trainer(registry, recipe_path, out, *overrides, **kwargs):
    recipe = load_recipe(recipe_path, overrides)
    return Trainer(resolve(recipe, registry), registry, out=out, progress=False, log=lambda m: None, **kwargs)


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def wait_for(predicate, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and not predicate():
        time.sleep(0.1)
    assert predicate(), "timed out"


def long_run(recipe: Path, run: Path, *extra: str) -> subprocess.Popen:
    """A run that goes on until interrupted, in its own process group (as a terminal would start it)."""
    args = [sys.executable, "-m", "ganzoo", "run", str(recipe), "--out", str(run), "--no-progress",
            "--set", "train.steps=100000", "--set", "train.log_every=1", "--set", "train.sample_every=100000",
            "--set", "train.eval_at_end=false", *extra]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def started(run: Path) -> bool:
    return (run / "metrics.jsonl").exists() and (run / "metrics.jsonl").stat().st_size > 0


# 1. A new run into a directory that holds a run --------------------------------------------------------------
def test_existing_run_directory_is_refused_and_left_intact(toy_registry, toy_recipe, tmp_path, cli, toy_installed):
    run = tmp_path / "run"
    make_trainer(toy_registry, toy_recipe, run).fit()
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    with pytest.raises(TrainingError, match="already holds a run"):
        make_trainer(toy_registry, toy_recipe, run, "train.steps=2")
    result = cli("run", toy_recipe, "--out", run, "--no-progress", "--set", "train.steps=2")
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"Error: {run} already holds a run"
    assert f"--resume {run}" in result.output and "--overwrite" in result.output
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_overwrite_starts_clean(toy_registry, toy_recipe, tmp_path, cli, toy_installed):
    run = tmp_path / "run"
    make_trainer(toy_registry, toy_recipe, run).fit()  # 8 steps: checkpoints 4 and 8, rows 2..8
    (run / "notes.txt").write_text("mine")
    result = cli("run", toy_recipe, "--out", run, "--overwrite", "--no-progress", "--set", "train.steps=2",
                 "--set", "train.eval_at_end=false")
    assert result.exit_code == 0, result.output
    assert [r["step"] for r in rows(run)] == [2]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt", "step_0000002.pt"]
    assert not (run / "eval.json").exists() and sorted(p.name for p in (run / "samples").iterdir()) == [
        "step_0000002.png"]
    assert (run / "notes.txt").read_text() == "mine"  # not a run file: left alone
    assert load_recipe(run / "recipe.yaml").data["train"]["steps"] == 2
    resumed = cli("run", toy_recipe, "--resume", run, "--overwrite", "--no-progress")
    assert resumed.exit_code == 1 and "--overwrite would delete the run that --resume continues" in resumed.output


def test_an_empty_or_unrelated_directory_is_a_fine_out(toy_registry, toy_recipe, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "readme.txt").write_text("x")
    make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.steps=1").fit()
    assert (tmp_path / "run/checkpoints/last.pt").exists()


# 2. Two runs in one directory at the same time ---------------------------------------------------------------
def test_second_concurrent_run_is_refused_naming_the_owner(toy_installed, toy_recipe, tmp_path, cli):
    run = tmp_path / "run"
    first = long_run(toy_recipe, run)
    try:
        wait_for(lambda: started(run))
        owner = json.loads((run / ".ganzoo.lock").read_text())
        assert owner["pid"] == first.pid
        second = run_ganzoo("run", toy_recipe, "--out", run, "--no-progress", "--set", "train.steps=2")
        assert second.returncode == 1
        error = [line for line in second.stderr.splitlines() if line.startswith("Error:")]
        assert error == [f"Error: {run} is in use by another run (pid {first.pid} on {socket.gethostname()} "
                         f"since {owner['started']})"], second.stderr
        assert f"Hint: that run: ganzoo run {toy_recipe} --out {run} --no-progress" in second.stderr
        for extra in (["--resume", run], ["--overwrite"]):  # neither may take a directory in use
            result = cli("run", toy_recipe, "--out", run, "--no-progress", "--set", "train.steps=2", *extra)
            assert result.exit_code == 1 and "is in use by another run" in result.output.splitlines()[0]
    finally:
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    assert first.returncode == 130, err
    assert not (run / ".ganzoo.lock").exists()  # released on exit
    steps = [r["step"] for r in rows(run)]
    assert steps == sorted(set(steps))  # one run's rows only


def _lock(run: Path, **fields) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / ".ganzoo.lock").write_text(json.dumps({"host": socket.gethostname(), "started": "then",
                                                  "command": "ganzoo run x.yaml", **fields}))


def test_stale_lock_of_a_dead_process_is_taken_over(toy_registry, toy_recipe, tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    _lock(tmp_path / "run", pid=gone.pid)
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.steps=1")
    assert trainer.owner.took_over["pid"] == gone.pid
    assert json.loads((tmp_path / "run/.ganzoo.lock").read_text())["pid"] == os.getpid()
    trainer.fit()
    assert not (tmp_path / "run/.ganzoo.lock").exists()


def test_lock_of_a_live_process_or_another_host_is_respected(toy_registry, toy_recipe, tmp_path):
    from ganzoo.ownership import _process_start

    live = subprocess.Popen(["sleep", "30"])
    try:
        _lock(tmp_path / "a", pid=live.pid, proc_start=_process_start(live.pid))
        with pytest.raises(TrainingError, match=rf"in use by another run \(pid {live.pid} on "):
            make_trainer(toy_registry, toy_recipe, tmp_path / "a", "train.steps=1")
        # the same pid, but a process started at another time: the pid was reused, the lock is stale
        _lock(tmp_path / "b", pid=live.pid, proc_start="1")
        make_trainer(toy_registry, toy_recipe, tmp_path / "b", "train.steps=1").fit()
    finally:
        live.kill()
        live.wait()
    _lock(tmp_path / "c", pid=1, host="elsewhere.example")
    with pytest.raises(TrainingError, match="pid 1 on elsewhere.example") as err:
        make_trainer(toy_registry, toy_recipe, tmp_path / "c", "train.steps=1")
    assert "delete" in err.value.hint and ".ganzoo.lock" in err.value.hint


def test_an_empty_lock_is_waited_for_then_refused(toy_registry, toy_recipe, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run/.ganzoo.lock").write_text("")
    with pytest.raises(TrainingError, match=r"in use by another run \(pid \? on \?\)"):
        make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.steps=1")


# 4. Ctrl-C under torchrun: a burst of signals is one request --------------------------------------------------
def test_a_burst_of_signals_is_one_request_and_a_later_one_aborts():
    from ganzoo.engine import _signals_caught

    # Python's own Ctrl-C handler to start from: a shell's background job inherits SIGINT ignored.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with _signals_caught(burst=0.5) as caught:
            signal.raise_signal(signal.SIGINT)  # the terminal's Ctrl-C
            signal.raise_signal(signal.SIGINT)  # torchrun's agent forwarding it
            signal.raise_signal(signal.SIGTERM)
            assert caught["signum"] == signal.SIGINT
            time.sleep(0.6)
            with pytest.raises(KeyboardInterrupt):  # a deliberate second Ctrl-C after the burst
                signal.raise_signal(signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler from before, back
    finally:
        signal.signal(signal.SIGINT, previous)


def torchrun_popen(*args: str, env: dict) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ganzoo",
           *map(str, args)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, "GANZOO_DIST_TIMEOUT": "60", "OMP_NUM_THREADS": "1", **env})


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
def test_ctrl_c_under_torchrun_writes_a_checkpoint_that_resumes(tmp_path):
    from conftest import TESTS, TOY_RECIPE
    from ganzoo.testing import fake_distribution

    site = fake_distribution(tmp_path / "site", "ganzoo-toy", {"toy": "toy_plugin"})
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(TESTS), os.environ.get("PYTHONPATH", "")])}
    recipe, run = tmp_path / "toy.yaml", tmp_path / "run"
    recipe.write_text(TOY_RECIPE)
    common = ["--no-progress", "--set", "train.workers=1", "--set", "train.eval_at_end=false",
              "--set", "train.sample_every=100000", "--set", "train.log_every=1"]
    job = torchrun_popen("run", recipe, "--out", run, "--set", "train.steps=100000", *common, env=env)
    try:
        wait_for(lambda: started(run), timeout=120)
        ranks = children(job.pid)
        assert len(ranks) == 2
    finally:
        # Ctrl-C where every process of the job is in the terminal's process group (srun, mpirun, an older
        # torchrun, `pkill -INT`): the agent and each rank (with its DataLoader workers) get SIGINT at once,
        # and the agent forwards another copy to each rank.
        for pid in [job.pid, *ranks]:
            os.killpg(pid, signal.SIGINT)
        _, err = job.communicate(timeout=120)
    assert err.count("Error: interrupted at step") == 2, err[-3000:]  # both ranks, no "Error: aborted"
    assert "Error: aborted" not in err
    state = torch.load(run / "checkpoints/last.pt", weights_only=True)
    assert state["step"] > 0 and len(state["rng_ranks"]) == 2
    assert f"checkpoint written to {run}/checkpoints/last.pt" in err
    job = torchrun_popen("run", recipe, "--resume", run, "--set", f"train.steps={state['step'] + 2}", *common,
                         env=env)
    _, err = job.communicate(timeout=180)
    assert job.returncode == 0, err[-3000:]
    assert f"resumed from {run}/checkpoints/last.pt at step {state['step']}" in err
    assert torch.load(run / "checkpoints/last.pt", weights_only=True)["step"] == state["step"] + 2


# 5. "Good" checkpoints hold finite weights -----------------------------------------------------------------------
def assert_finite_checkpoint(path: Path) -> dict:
    state = torch.load(path, weights_only=True)
    tensors = list(state["model"].values())
    tensors += [v for opt in state["optimizers"].values() for s in opt["state"].values() for v in s.values()]
    assert all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())
    return state


def test_nan_weights_after_a_finite_loss_are_never_checkpointed(toy_registry, toy_recipe, tmp_path):
    from ganzoo.errors import NonFiniteWeights

    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "model.nan_grad_at=6",
                           "train.checkpoint_every=2")
    with pytest.raises(NonFiniteWeights) as err:
        trainer.fit()
    assert err.value.step == 6 and "weights are not finite at step 6 (generator.net.0.weight" in err.value.message
    assert f"last good checkpoint: {tmp_path / 'run/checkpoints/last.pt'}" in err.value.hint
    assert assert_finite_checkpoint(tmp_path / "run/checkpoints/last.pt")["step"] == 4
    assert not (tmp_path / "run/checkpoints/step_0000006.pt").exists()
    assert not list((tmp_path / "run/checkpoints").glob(".*tmp*"))


def test_nonfinite_screen_is_exact():
    from ganzoo.finite import nonfinite

    big = torch.full((4,), 1e30)  # finite, but its 2-norm overflows float32: the screen fires, the check clears it
    named = [("a", torch.ones(3)), ("big", big), ("nan", torch.tensor([0.0, float("nan")])),
             ("inf", torch.tensor([float("-inf")], dtype=torch.bfloat16)), ("int", torch.tensor([1])),
             ("empty", torch.zeros(0))]
    assert nonfinite(named) == ["nan", "inf"]
    assert nonfinite(named[:2]) == []


# 6. on_nan: skip refuses updates that would make the weights non-finite, and gives up after max_skips ------------
def test_skip_refuses_an_update_with_nan_gradients(toy_registry, toy_recipe, tmp_path):
    trainer = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "model.nan_grad_at=3", "train.on_nan=skip")
    trainer.fit()
    assert trainer.opt.skipped == 1 and rows(tmp_path / "run")[-1]["skipped"] == 1
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert assert_finite_checkpoint(tmp_path / "run/checkpoints/last.pt")["skipped"] == 1


def test_skip_fails_the_run_after_max_skips(toy_registry, toy_recipe, tmp_path, cli, toy_installed):
    result = cli("run", toy_recipe, "--out", tmp_path / "run", "--no-progress", "--set", "model.nan_from=3",
                 "--set", "train.on_nan=skip", "--set", "train.max_skips=3", "--set", "train.checkpoint_every=1")
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert error == ["Error: 4 updates skipped for non-finite losses or gradients by step 6, more than "
                     "train.max_skips=3"]
    assert assert_finite_checkpoint(tmp_path / "run/checkpoints/last.pt")["step"] == 5


# 8. Hostile recipes: alias bombs, recursive aliases, absurd nesting ---------------------------------------------
def alias_bomb(levels: int = 6) -> str:  # 10^6 values: a real bomb has 9+ levels
    lines = ["model: {name: toy_gan}", "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("text, message", [
    (alias_bomb(), "the recipe expands to more than 100,000 values through YAML aliases (an alias bomb?)"),
    ("model: &m {name: toy_gan, more: [*m]}\n", "an alias refers to the mapping or list that contains it"),
    ("model: " + "[" * 100 + "]" * 100 + "\n", "the recipe nests deeper than 64 levels"),
    ("model: " + "[" * 5000 + "]" * 5000 + "\n", "the recipe nests deeper than 64 levels"),
    ("base: &b {name: x, y: 1}\n" + "".join(f"m{i}: &m{i} {{<<: [*{'b' if i == 0 else f'm{i - 1}'}], k{i}: 1}}\n"
                                            for i in range(3)), None),
])
def test_hostile_recipe_is_one_line_error(tmp_path, cli, text, message):
    from ganzoo.errors import RecipeError

    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    if message is None:  # merges and a few aliases stay fine
        assert load_recipe(path).data["m2"] == {"name": "x", "y": 1, "k0": 1, "k1": 1, "k2": 1}
        return
    start = time.perf_counter()
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert time.perf_counter() - start < 5
    assert message in err.value.message and str(err.value).startswith(f"{path}")
    result = cli("run", path, "--dry-run")
    assert result.exit_code == 1 and result.output.splitlines()[0].startswith(f"Error: {path}")


# 9. A half-written last line of metrics.jsonl ----------------------------------------------------------------------
def test_torn_last_metrics_line_is_dropped_on_resume(toy_registry, toy_recipe, tmp_path, cli, toy_installed):
    run = tmp_path / "run"
    make_trainer(toy_registry, toy_recipe, run, "train.steps=4").fit()
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 6, "D/loss": 0.69')  # killed mid-append
    result = cli("run", toy_recipe, "--resume", run, "--no-progress", "--set", "train.eval_at_end=false")
    assert result.exit_code == 0, result.output
    assert f"dropped a half-written last line of {run / 'metrics.jsonl'}" in result.output
    assert [r["step"] for r in rows(run)] == [2, 4, 6, 8]
    from ganzoo.report import MetricsLog

    (run / "metrics.jsonl").write_text('{"step": 2}\nnot json\n[1]\n{"step": 4}\n')
    log = MetricsLog(run / "metrics.jsonl")
    assert [r["step"] for r in log.rows()] == [2, 4]
    assert log.truncate_after(4) == f"dropped 2 unreadable line(s) (line 2, 3) of {run / 'metrics.jsonl'}"
    assert (run / "metrics.jsonl").read_text() == '{"step": 2}\n{"step": 4}\n'


# 10. Disk full while writing a checkpoint ------------------------------------------------------------------------
class FillsUp:
    """A file that reports ENOSPC after ``room`` bytes, as a full disk does (writing the bytes that fit)."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, data) -> int:
        if len(data) > self.room:
            self.f.write(bytes(data[: self.room]))
            self.room = 0
            raise OSError(28, "No space left on device")
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_disk_full_while_checkpointing_stops_cleanly(toy_registry, toy_recipe, tmp_path, cli, toy_installed,
                                                    monkeypatch):
    import builtins

    from ganzoo import checkpoint

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        f = builtins.open(path, mode, *args, **kwargs)
        return FillsUp(f, 3000) if "step_0000004" in str(path) else f

    monkeypatch.setattr(checkpoint, "open", open_on_a_full_disk, raising=False)
    run = tmp_path / "run"
    result = cli("run", toy_recipe, "--out", run, "--no-progress", "--set", "train.checkpoint_every=2")
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and error[0].startswith(f"Error: disk full at {run / 'checkpoints'}: step_0000004.pt "
                                                   "needs 0.0 MB, ")
    assert f"training failed at step 4; last good checkpoint: {run / 'checkpoints/last.pt'}" in result.output
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.pt", "step_0000002.pt"]  # no temp file
    assert assert_finite_checkpoint(run / "checkpoints/last.pt")["step"] == 2
    assert [r["step"] for r in rows(run)] == [2, 4]  # the metrics up to the failure are kept


def test_disk_full_is_recognised_when_torch_hides_the_errno(tmp_path, monkeypatch):
    import shutil as shutil_module

    from ganzoo import checkpoint
    from ganzoo.errors import CheckpointError

    def zip_writer_fails(state, f):
        f.write(b"PK" * 1000)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(checkpoint.torch, "save", zip_writer_fails)
    state = {"model": {"w": torch.zeros(3 * 2**20)}}  # 12 MB
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: shutil_module._ntuple_diskusage(10, 9, 2**20))
    with pytest.raises(CheckpointError, match=r"^disk full at .*: a.pt needs 12 MB, 1.0 MB free$"):
        checkpoint.save(state, tmp_path / "a.pt")
    monkeypatch.setattr(checkpoint.shutil, "disk_usage", lambda p: shutil_module._ntuple_diskusage(10, 0, 2**40))
    with pytest.raises(CheckpointError, match="cannot write checkpoint .*a.pt: .enforce fail"):
        checkpoint.save(state, tmp_path / "a.pt")
    assert list(tmp_path.iterdir()) == []


# 11. Pictures and TensorBoard never stop training ------------------------------------------------------------------
def test_observation_output_failing_never_stops_training(toy_registry, toy_recipe, tmp_path, monkeypatch):
    import matplotlib.figure
    from PIL import Image

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", disk_full)
    logged: list[str] = []
    recipe = load_recipe(toy_recipe, ["train.sample_every=2", "train.checkpoint_every=2"])
    trainer = Trainer(resolve(recipe, toy_registry), toy_registry, out=tmp_path / "run", progress=False,
                      log=logged.append)

    class BrokenBoard:
        def add_scalar(self, *args):
            raise OSError(28, "No space left on device")

        def close(self):
            pass

    trainer.tb = BrokenBoard()
    assert trainer.fit().step == 8
    warnings = [m for m in logged if m.startswith("warning:")]
    assert warnings == [f"warning: cannot write {what} (No space left on device); training goes on"
                        for what in ("TensorBoard logs", "sample grids", "loss curves")]
    assert trainer.tb is None and logged[-1] == f"done: {tmp_path / 'run'}"
    assert assert_finite_checkpoint(tmp_path / "run/checkpoints/last.pt")["step"] == 8
    assert list((tmp_path / "run/samples").iterdir()) == [] and not (tmp_path / "run/losses.png").exists()


# 12, 13. Truncated images: strict stops before training with one line; non-strict skips and replaces -------------
ROOT = Path(__file__).resolve().parent.parent


def image_dir(tmp_path: Path, count: int = 6, truncate: tuple[int, ...] = (2,)) -> Path:
    from PIL import Image

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(count):
        Image.new("RGB", (20, 20), (40 * i, 255 - 40 * i, 90)).save(folder / f"{i}.png")
    for i in truncate:
        data = (folder / f"{i}.png").read_bytes()
        (folder / f"{i}.png").write_bytes(data[: len(data) * 2 // 3])  # the header reads, the pixels do not
    return folder


def dcgan_on(folder: Path, *extra: str) -> list[str]:
    return [ROOT / "recipes/dcgan.yaml", "--no-progress", "--set", f"data={{name: image_folder, root: {folder}, "
            "image_size: 16}", "--set", "components.generator={name: dcgan, z_dim: 4, hidden_dim: 4, image_size: 16}",
            "--set", "components.critic.hidden_dim=4", "--set", "components.critic.image_size=16",
            "--set", "train.batch_size=2", "--set", "train.sample_count=2", "--set", "train.steps=4",
            "--set", "train.workers=0", *extra]


def test_strict_finds_a_truncated_image_before_training(tmp_path, cli):
    folder = image_dir(tmp_path)
    for args in (["--dry-run"], ["--out", tmp_path / "run"]):
        result = cli("run", *dcgan_on(folder, "--set", "data.strict=true"), *args)
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: cannot read image {folder / '2.png'}: image file is truncated")
        assert "Traceback" not in result.output and len(result.output.splitlines()) == 2  # Error + Hint
    assert not (tmp_path / "run").exists()


def test_data_error_in_a_dataloader_worker_is_one_line(tmp_path):
    from ganzoo.data import Batches
    from ganzoo.errors import UnreadableImage
    from ganzoo_wgan.folder import ImageFolder

    folder = image_dir(tmp_path, truncate=())
    dataset = ImageFolder(root=str(folder), image_size=8, strict=True)
    data = (folder / "2.png").read_bytes()
    (folder / "2.png").write_bytes(data[: len(data) // 2])  # broken after the screening (e.g. a network disk)
    batches = Batches(dataset, 6, seed=0, device=torch.device("cpu"), workers=1)
    with pytest.raises(UnreadableImage) as err:
        next(batches)
    assert str(err.value).startswith(f"cannot read image {folder / '2.png'}: ") and "\n" not in str(err.value)
    assert "Traceback" not in str(err.value) and err.value.hint == "remove it, or set data.strict: false to skip"


def test_image_folder_replaces_a_truncated_image_and_trains_on(tmp_path, cli):
    from ganzoo_wgan.folder import ImageFolder

    folder = image_dir(tmp_path)
    dataset = ImageFolder(root=str(folder), image_size=8)
    assert len(dataset) == 6  # the header reads: only decoding finds it
    with pytest.warns(RuntimeWarning, match=r"2.png: image file is truncated.*using the next image instead \(1 "):
        item = dataset[2]
    assert torch.equal(item["x"], dataset[3]["x"]) and [p.name for p, _ in dataset.skipped] == ["2.png"]
    with pytest.warns(RuntimeWarning, match="2.png"):
        result = cli("run", *dcgan_on(folder, "--set", "train.steps=3", "--set", "train.batch_size=6"),
                     "--out", tmp_path / "run")
    assert result.exit_code == 0, result.output
    assert torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)["step"] == 3


# 7. Any bit depth and colour model decodes to the right 8-bit values ------------------------------------------------
def decoded(path: Path, mode: str = "RGB") -> list:
    from ganzoo.images import open_image

    import numpy as np

    img = open_image(path, mode)
    assert img.mode == mode
    values = np.asarray(img)
    return [tuple(p) for p in values.reshape(-1, 3).tolist()] if mode == "RGB" else values.ravel().tolist()


def test_16_and_32_bit_images_are_scaled_not_clipped(tmp_path):
    import numpy as np
    from PIL import Image

    ramp16 = (np.arange(64, dtype=np.uint16) * 1040).reshape(4, 16)  # 0 .. 65520
    expected = [round(v / 257) for v in ramp16.ravel().tolist()]
    Image.fromarray(ramp16).save(tmp_path / "ramp16.png")
    Image.fromarray(ramp16).save(tmp_path / "ramp16.tif")
    assert Image.open(tmp_path / "ramp16.png").mode == "I;16"
    for name in ("ramp16.png", "ramp16.tif"):
        assert decoded(tmp_path / name, "L") == expected  # Pillow's convert: 255 for all but the first few
        assert decoded(tmp_path / name) == [(v, v, v) for v in expected]
    ramp32 = (np.arange(64, dtype=np.int64) * (2**31 - 1) // 63).astype(np.int32).reshape(4, 16)
    Image.fromarray(ramp32).save(tmp_path / "ramp32.tif")
    assert decoded(tmp_path / "ramp32.tif", "L") == [round(v / (2**31 - 1) * 255) for v in ramp32.ravel().tolist()]
    floats = np.array([[-0.5, 0.0, 0.25, 0.5, 1.0, 2.0, np.nan, 1 / 255]], dtype=np.float32)
    Image.fromarray(floats).save(tmp_path / "float.tif")
    assert decoded(tmp_path / "float.tif", "L") == [0, 0, 64, 128, 255, 255, 0, 1]


def test_palette_alpha_cmyk_and_1_bit_images(tmp_path):
    from PIL import Image

    Image.new("1", (2, 1), 1).save(tmp_path / "one.png")
    assert decoded(tmp_path / "one.png") == [(255, 255, 255)] * 2
    gray = Image.new("L", (2, 1), 77)
    gray.save(tmp_path / "gray.png")
    assert decoded(tmp_path / "gray.png") == [(77, 77, 77)] * 2 and decoded(tmp_path / "gray.png", "L") == [77, 77]
    palette = Image.new("P", (3, 1))
    palette.putpalette([255, 0, 0, 0, 0, 255, 10, 20, 30])
    palette.putdata([0, 1, 2])
    palette.save(tmp_path / "palette.png")
    assert decoded(tmp_path / "palette.png") == [(255, 0, 0), (0, 0, 255), (10, 20, 30)]
    palette.save(tmp_path / "palette_t.png", transparency=1)  # colour 1 is transparent: white
    assert decoded(tmp_path / "palette_t.png") == [(255, 0, 0), (255, 255, 255), (10, 20, 30)]
    rgba = Image.new("RGBA", (3, 1))
    rgba.putdata([(200, 0, 0, 255), (0, 0, 0, 0), (0, 0, 0, 128)])  # opaque, transparent, half over white
    rgba.save(tmp_path / "rgba.png")
    assert decoded(tmp_path / "rgba.png") == [(200, 0, 0), (255, 255, 255), (127, 127, 127)]
    la = Image.new("LA", (1, 1), (0, 0))
    la.save(tmp_path / "la.png")
    assert decoded(tmp_path / "la.png", "L") == [255]
    cmyk = Image.new("CMYK", (2, 1), (255, 0, 0, 0))  # pure cyan
    cmyk.save(tmp_path / "cmyk.jpg", quality=100)
    cmyk.save(tmp_path / "cmyk.tif")
    assert decoded(tmp_path / "cmyk.tif") == [(0, 255, 255)] * 2
    assert all(r < 8 and g > 247 and b > 247 for r, g, b in decoded(tmp_path / "cmyk.jpg"))


def test_a_16_bit_folder_trains_on_its_real_range(tmp_path):
    import numpy as np
    from PIL import Image

    from ganzoo_wgan.folder import ImageFolder

    (tmp_path / "d").mkdir()
    Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16)).save(tmp_path / "d/mid.png")  # 50% gray
    x = ImageFolder(root=str(tmp_path / "d"), image_size=8)[0]["x"]
    assert x.abs().max() < 0.01  # mid-gray is 0 in [-1, 1], not white (1.0)


# 14. Values that pass the types but not the ranges: --dry-run finds them -----------------------------------------
@pytest.mark.parametrize("override, where, message", [
    ("optim.G.lr=-0.1", "optim.G.lr", "optimizer Adam: Invalid learning rate: -0.1"),
    ("optim.D.betas=[0.5, 1.5]", "optim.D.betas", "optimizer Adam: Invalid beta parameter at index 1: 1.5"),
    ("optim.G.lr=.inf", "optim.G.lr", "optimizer Adam: lr must be finite, got inf"),
    ("optim.G={name: SGD, lr: 0.1, momentum: -1}", "optim.G", "optimizer SGD: Invalid momentum value: -1"),
    ("train.threads=-1", "train.threads", "train.threads must be between 1 and 65536, got -1"),
    ("train.workers=-2", "train.workers", "train.workers must be between 0 and 1024, got -2"),
    ("train.seed=100000000000000000000000", "train.seed", "train.seed must fit in 64 bits"),
    ("train.max_skips=-1", "train.max_skips", "train.max_skips must be >= 0, got -1"),
    ("train.ema={decay: 1.5}", "train.ema", "train.ema.decay must be between 0 and 1, got 1.5"),
    ("components.generator.width=100000000000000000000", "components.generator.width", "does not fit in 64 bits"),
])
def test_out_of_range_values_are_recipe_errors(toy_registry, toy_recipe, override, where, message):
    from ganzoo.errors import RecipeError

    with pytest.raises(RecipeError) as err:
        resolve(load_recipe(toy_recipe, [override]), toy_registry)
    assert str(err.value).startswith(f"--set {where}") and message in err.value.message


@pytest.mark.parametrize("width, message", [
    (-3, "toy_gen cannot be built: Trying to create tensor with negative dimension -3"),
    (10**12, "toy_gen needs 204,891 GiB for its weights alone, more than this machine's 100 GiB of memory"),
])
def test_component_sizes_that_cannot_be_built(toy_registry, toy_recipe, monkeypatch, width, message):
    from ganzoo import build
    from ganzoo.dryrun import dry_run
    from ganzoo.errors import RecipeError

    monkeypatch.setattr(build, "physical_memory", lambda: 100 * 2**30)  # measured on the meta device: no memory
    resolved = resolve(load_recipe(toy_recipe, [f"components.generator.width={width}"]), toy_registry)
    with pytest.raises(RecipeError) as err:
        dry_run(resolved)
    assert str(err.value).startswith(f"{toy_recipe}:3 (components.generator): {message}")
    assert err.value.hint == "check its sizes (channels, layers, image size)"


def test_dry_run_cli_catches_a_negative_learning_rate(toy_recipe, cli, toy_installed):
    result = cli("run", toy_recipe, "--dry-run", "--set", "optim.G.lr=-0.1")
    assert result.exit_code == 1
    assert result.output.splitlines() == ["Error: --set optim.G.lr: optimizer Adam: Invalid learning rate: -0.1"]


# 15. A plugin that exits at import is a recorded load failure, never fatal ----------------------------------------
ARGPARSE_AT_IMPORT = "import argparse\nparser = argparse.ArgumentParser(prog='ganzoo')\nparser.parse_args()\n"


def test_plugin_calling_sys_exit_at_import_is_recorded(plugin_path):
    plugin_path("argparse-plugin", {"cli": "argparse_mod"}, {"argparse_mod": ARGPARSE_AT_IMPORT})
    plugin_path("exit-plugin", {"bye": "exit_mod"}, {"exit_mod": "import sys\nsys.exit(0)\n"})
    listed = run_ganzoo("list", "loss")
    assert listed.returncode == 0, listed.stderr
    assert "l1" in listed.stdout and "unrecognized arguments" not in listed.stderr
    assert "2 plugin(s) reported errors (argparse-plugin, exit-plugin)" in listed.stdout
    plugins = run_ganzoo("plugins", "--json")
    assert plugins.returncode == 0, plugins.stderr
    errors = {row["dist"]: row["errors"] for row in json.loads(plugins.stdout)}
    assert errors["argparse-plugin"][0].startswith("called sys.exit(2) while being imported (at ")
    assert "argparse_mod.py:3); it printed: usage: ganzoo [-h] / ganzoo: error: unrecognized arguments: " \
           "plugins --json" in errors["argparse-plugin"][0]
    assert errors["exit-plugin"][0].startswith("called sys.exit(0) while being imported (at ")
    strict = run_ganzoo("list", env={"GANZOO_STRICT_PLUGINS": "1"})
    assert strict.returncode != 0 and "called sys.exit(2) while being imported" in strict.stderr

