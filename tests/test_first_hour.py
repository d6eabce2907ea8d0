"""What a new user meets in the first hour (issue 14): the run log, resume commands, speed hints, messages."""

from __future__ import annotations

import json
import pickle
import subprocess
from pathlib import Path

import pytest
import torch

from ganzoo.engine import Trainer
from ganzoo.recipe import load_recipe
from ganzoo.resolve import resolve

from conftest import ROOT, run_ganzoo


def make_trainer(registry, recipe_path, out, *overrides, resume=None, log=None):
    recipe = load_recipe(recipe_path, overrides)
    return Trainer(resolve(recipe, registry), registry, out=out, resume=resume, progress=False,
                   log=log if log is not None else (lambda m: None))


# The run log -------------------------------------------------------------------------------------------------
def test_no_progress_logs_one_line_per_log_every_steps(toy_registry, toy_recipe, tmp_path):
    lines: list[str] = []
    make_trainer(toy_registry, toy_recipe, tmp_path / "run", log=lines.append).fit()
    steps = [l for l in lines if l.startswith("step ")]
    assert [l.split()[1] for l in steps] == ["2/8", "4/8", "6/8", "8/8"]
    assert "( 25%)" in steps[0] and "D/loss " in steps[0] and "G/rec " in steps[0] and " s/step" in steps[0]
    assert "ETA " in steps[0] and "ETA" not in steps[-1]
    assert "lr/" not in steps[0]


def test_progress_bar_becomes_lines_when_stderr_is_not_a_terminal(toy_installed, toy_recipe, tmp_path):
    proc = run_ganzoo("run", toy_recipe, "--out", tmp_path / "run")  # no --no-progress; stderr is a pipe
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr
    assert "step 8/8 (100%)" in proc.stderr and "step 4/8 ( 50%)" in proc.stderr


def test_progress_line_format():
    from ganzoo.progress import ProgressLines, duration

    clock = iter([0.0, 10.0, 30.0]).__next__
    lines = ProgressLines(total=150, clock=clock)
    first = lines.line(10, {"step": 10, "D/real": 0.51234, "lr/G": 2e-4, "quality/modes": 3, "time": 9.0})
    assert first == "step  10/150 (  6%)  D/real 0.5123  1 s/step  ETA 2m20s"
    assert lines.line(150, {"G/l1": 0.3}) == "step 150/150 (100%)  G/l1 0.3  0.143 s/step"
    assert [duration(s) for s in (42, 185, 7620)] == ["42s", "3m05s", "2h07m"]


def test_losses_png_draws_markers_for_short_series(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from ganzoo.report import plot_losses

    figures = []
    save = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: figures.append(self) or save(self, *a, **k))
    plot_losses([{"step": 8, "D/loss": 0.7, "G/adv": 1.2, "lr/G": 2e-4}], tmp_path / "losses.png")
    lines = [line for ax in figures[0].axes for line in ax.get_lines()]
    assert len(lines) == 3 and all(line.get_marker() not in (None, "None", "") for line in lines)
    figures.clear()
    plot_losses([{"step": s, "D/loss": 0.7} for s in range(1, 100)], tmp_path / "long.png")
    assert all(line.get_marker() in (None, "None", "") for line in figures[0].axes[0].get_lines())


# Ctrl-C, resume, run directories ----------------------------------------------------------------------------
def test_manifest_keeps_the_history_of_resumes(toy_registry, toy_recipe, tmp_path):
    run = tmp_path / "run"
    make_trainer(toy_registry, toy_recipe, run, "train.steps=2").fit()
    first = json.loads((run / "manifest.json").read_text())
    assert first["resumes"] == [] and first["status"] == "done" and first["recipe_name"] == "toy"
    for steps in (4, 6):
        make_trainer(toy_registry, toy_recipe, None, f"train.steps={steps}", resume=run).fit()
    manifest = json.loads((run / "manifest.json").read_text())
    assert [r["step"] for r in manifest["resumes"]] == [2, 4]
    assert manifest["started"] == first["started"] and manifest["command"] == first["command"]
    assert manifest["resumed_at"] == 4 and manifest["total_steps"] == 6
    assert all({"started", "command", "device"} <= set(r) for r in manifest["resumes"])


def test_a_runs_own_recipe_is_named_after_the_original(tmp_path):
    from ganzoo.rundir import recipe_name

    run = tmp_path / "runs" / "pix2pix" / "20261201-101500"
    run.mkdir(parents=True)
    assert recipe_name(run / "recipe.yaml") == "pix2pix"  # default layout, manifest without recipe_name
    (run / "manifest.json").write_text(json.dumps({"recipe_name": "facades"}))
    assert recipe_name(run / "recipe.yaml") == "facades"
    assert recipe_name(tmp_path / "recipes" / "cyclegan.yaml") == "cyclegan"


def test_resume_auto_with_out_continues_that_directory(toy_installed, toy_recipe, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs/ here: --resume auto must not need one
    run = tmp_path / "mine"
    assert cli("run", toy_recipe, "--out", run, "--no-progress", "--set", "train.steps=2").exit_code == 0
    result = cli("run", toy_recipe, "--out", run, "--resume", "auto", "--no-progress", "--set", "train.steps=4")
    assert result.exit_code == 0, result.output
    assert f"resumed from {run}/checkpoints/last.pt at step 2" in result.output
    assert torch.load(run / "checkpoints/last.pt", weights_only=True)["step"] == 4
    empty = cli("run", toy_recipe, "--out", tmp_path / "new", "--resume", "auto")
    assert empty.exit_code == 1 and f"no checkpoint in {tmp_path / 'new'}" in empty.output
    assert not (tmp_path / "runs").exists()


def test_a_failed_run_without_checkpoint_removes_its_directory(toy_registry, toy_recipe, tmp_path):
    out = tmp_path / "a" / "b"
    trainer = make_trainer(toy_registry, toy_recipe, out, "model.fail_on_rank=0")
    with pytest.raises(RuntimeError, match="simulated failure"):
        trainer.fit()
    assert not (tmp_path / "a").exists()  # the run made a/ and a/b/: both go


def test_a_failed_run_keeps_a_directory_it_did_not_create_or_that_holds_results(toy_registry, toy_recipe, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(RuntimeError):
        make_trainer(toy_registry, toy_recipe, mine, "model.fail_on_rank=0").fit()
    assert (mine / "notes.txt").read_text() == "keep me"
    manifest = json.loads((mine / "manifest.json").read_text())
    assert manifest["status"].startswith("failed in step 2: simulated failure")

    from ganzoo.errors import NonFiniteLoss

    with pytest.raises(NonFiniteLoss):
        make_trainer(toy_registry, toy_recipe, tmp_path / "nan", "model.nan_at=5", "train.checkpoint_every=2").fit()
    status = json.loads((tmp_path / "nan/manifest.json").read_text())["status"]
    assert status.startswith("failed in step 5: loss 'G")


# Speed hints and the header ---------------------------------------------------------------------------------
def test_thread_hint_when_the_load_leaves_fewer_free_cores_than_threads():
    from ganzoo.hints import thread_hint

    hint = thread_hint(2, load=1.9, cores=2)
    assert "1-minute load 1.9 on 2 cores" in hint and "uses 2 threads" in hint and "train.threads=1" in hint
    assert thread_hint(2, load=0.2, cores=2) is None  # an idle machine
    assert thread_hint(1, load=5.0, cores=2) is None  # nothing to lower
    assert "train.threads=4" in thread_hint(8, load=4.0, cores=8)
    assert "per process" in thread_hint(2, processes=2, load=3.0, cores=4)


def test_bf16_hint_only_where_auto_leaves_native_bf16_unused():
    from ganzoo.hints import precision_hint

    cpu = torch.device("cpu")
    assert "--set train.precision=bf16" in precision_hint("auto", cpu, native_bf16=True)
    assert precision_hint("auto", cpu, native_bf16=False) is None
    assert precision_hint("fp32", cpu, native_bf16=True) is None  # an explicit choice is respected
    assert precision_hint("auto", torch.device("cuda"), native_bf16=True) is None


def test_header_names_precision_as_recipes_do_and_counts_threads(toy_registry, toy_recipe, tmp_path):
    header = make_trainer(toy_registry, toy_recipe, tmp_path / "run", "train.precision=bf16",
                          "train.threads=1").describe()
    assert ", bf16;" in header and "(1 thread)" in header and "bfloat16" not in header


# Messages ---------------------------------------------------------------------------------------------------
def test_batch_larger_than_the_dataset_names_the_product(tmp_path):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    result = CliRunner().invoke(cli, ["run", str(ROOT / "recipes/wgan_gp.yaml"), "--set", "data.size=128",
                                      "--set", "train.batch_size=32", "--set", "data.image_size=16",
                                      "--set", "components.generator.image_size=16",
                                      "--set", "components.critic.image_size=16", "--set", "train.workers=0",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert ("the dataset has 128 samples, fewer than one batch of batch_size 32 × model.n_critic 5 = 160 per step"
            in result.output)
    assert "model.n_critic" in result.output.split("Hint:")[1]


def test_list_an_unknown_component_is_an_error_with_did_you_mean(toy_installed, cli):
    result = cli("list", "generator", "toy_genn")
    assert result.exit_code == 1
    assert result.output.startswith("Error: unknown generator 'toy_genn' (did you mean 'toy_gen'?)")
    glob = cli("list", "generator", "zz*")
    assert glob.exit_code == 1 and "no generators match 'zz*'" in glob.output
    assert cli("list", "loss", "l*").exit_code == 0


def test_a_file_that_is_not_a_checkpoint_gets_no_advice_to_run_its_code(tmp_path):
    from ganzoo.checkpoint import load
    from ganzoo.errors import CheckpointError

    (tmp_path / "pickled.pt").write_bytes(pickle.dumps({"a": Path("x")}))
    with pytest.raises(CheckpointError) as err:
        load(tmp_path / "pickled.pt")
    text = f"{err.value} {err.value.hint}"
    assert "not a ganzoo checkpoint" in text and "weights_only=False" not in text and "Re-running" not in text
    (tmp_path / "notes.pt").write_text("hello world\n" * 10)  # torch raises a bare KeyError for this one
    with pytest.raises(CheckpointError, match="corrupt, truncated or not a ganzoo checkpoint"):
        load(tmp_path / "notes.pt")


@pytest.mark.parametrize("args, message", [
    (["--set", "train.steps", "50"], "did you mean --set train.steps=50?"),
    (["--set", "data={name:", "toy_pairs,", "size:", "8}"], "did you mean --set data='{name: toy_pairs, size: 8}'?"),
    (["--set", "steps=50"], "unknown section 'steps' (did you mean train.steps?)"),
    (["--set", "lr=1e-3"], "unknown section 'lr' (did you mean optim.G.lr or optim.D.lr?)"),
    (["--set", "train.size=8"], "unknown parameter 'size' for train (did you mean data.size?)"),
    (["--set", "data.log_every=8"], "(did you mean train.log_every?)"),
])
def test_override_mistakes_say_what_was_meant(toy_installed, toy_recipe, cli, args, message):
    result = cli("run", toy_recipe, *args, "--dry-run")
    assert result.exit_code == 1
    assert message in result.output, result.output
    assert len([l for l in result.output.splitlines() if l.startswith("Error:")]) == 1


def test_a_value_with_spaces_hints_at_quoting(toy_installed, toy_recipe, cli):
    result = cli("run", toy_recipe, "--set", "train.steps")
    assert result.exit_code == 1 and "quote values with spaces" in result.output


def test_dry_run_marks_values_given_inside_a_set_mapping(toy_installed, toy_recipe, cli):
    result = cli("run", toy_recipe, "--dry-run", "--set", "data={name: toy_pairs, size: 12}",
                 "--set", "train.ema={decay: 0.9}")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "  name: toy_pairs  # *" in out and "  size: 12  # *" in out and "  image_size: 8\n" in out
    assert "    decay: 0.9  # *" in out and "    start: 0\n" in out


# Housekeeping -----------------------------------------------------------------------------------------------
def test_build_folders_are_ignored_everywhere():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run(["git", "check-ignore", "-q", "examples/ganzoo-example-plugin/build/lib/x.py"], cwd=ROOT)
    assert proc.returncode == 0
