"""The reference pix2pix/CycleGAN implementation's checkpoints: import, export, errors, and pix2pix's paper test mode.

Tiny networks test the tables and the rules; ``../shared/fixtures/junyanz`` (checkpoints and outputs made with
the reference code itself) tests exact reproduction, and is skipped when absent.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from torch import nn

from ganzoo import checkpoint
from ganzoo.cli import cli as ganzoo_cli
from ganzoo.images import from_tensor
from ganzoo.keymap import Mismatch, to_ours, to_theirs
from ganzoo.recipe import load_recipe
from ganzoo.registry import build_registry
from ganzoo.resolve import resolve
from ganzoo_cyclegan.networks import ResnetGenerator
from ganzoo_pix2pix.patchgan import PatchGAN, PixelGAN
from ganzoo_pix2pix.test_mode import paper_forward
from ganzoo_pix2pix.unet import UNet

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT.parent / "shared" / "fixtures" / "junyanz"
P2P, CG = "pix2pix_unet128_ngf32", "cyclegan_resnet6_128"
needs_fixtures = pytest.mark.skipif(not (FIXTURES / "fixtures_summary.json").is_file(),
                                    reason="../shared/fixtures/junyanz is absent")


def invoke(*args):
    return CliRunner().invoke(ganzoo_cli, [str(a) for a in args], catch_exceptions=False)


def randomised(net: nn.Module) -> nn.Module:
    """Random weights and batch-norm statistics, with the biases the reference lacks at zero (as in its files)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for t in net.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.rand_like(t) + 0.5)
        for row in net.junyanz_table():
            bias = getattr(net.get_submodule(row.ours), "bias", None)
            if not row.their_bias and bias is not None:
                bias.zero_()
    return net


def reference_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return to_theirs(randomised(net).state_dict(), net.junyanz_table())


# Tables and rules, on tiny networks ------------------------------------------------------------------------------
NETWORKS = [
    lambda norm: UNet(ngf=2, num_downs=7, norm=norm),
    lambda norm: UNet(ngf=2, num_downs=8, norm=norm, dropout=0.0),
    lambda norm: ResnetGenerator(ngf=2, n_blocks=2, norm=norm),
    lambda norm: ResnetGenerator(ngf=2, n_blocks=1, norm=norm, dropout=0.5),
    lambda norm: PatchGAN(ndf=2, n_layers=3, norm=norm),
    lambda norm: PatchGAN(ndf=2, n_layers=2, norm=norm),
    lambda norm: PixelGAN(ndf=2, norm=norm),
]


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize("make", NETWORKS)
def test_round_trip_is_exact_and_the_table_covers_every_tensor(make, norm):
    net = make(norm)
    theirs = reference_state(net)
    imported = to_ours(theirs, make(norm), net.junyanz_table())
    assert imported.state.keys() == net.state_dict().keys()
    assert all(torch.equal(imported.state[k], v) for k, v in net.state_dict().items())
    assert to_theirs(imported.state, net.junyanz_table()).keys() == theirs.keys()


def test_reference_keys_of_the_discriminators():
    """The reference's key sets, written out from its NLayerDiscriminator / PixelDiscriminator under batch norm."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    patch = {"model.0.weight", "model.0.bias", "model.11.weight", "model.11.bias"}
    patch |= {f"model.{i}.weight" for i in (2, 5, 8)} | {f"model.{i}.{t}" for i in (3, 6, 9) for t in bn}
    assert set(reference_state(PatchGAN(ndf=2, norm="batch"))) == patch
    pixel = {"net.0.weight", "net.0.bias", "net.2.weight", "net.5.weight"} | {f"net.3.{t}" for t in bn}
    assert set(reference_state(PixelGAN(ndf=2, norm="batch"))) == pixel  # its last conv has no bias there


def test_unet_and_resnet_reference_names():
    unet = set(reference_state(UNet(ngf=2, num_downs=7, norm="batch")))
    assert {"model.model.0.weight", "model.model.3.weight", "model.model.3.bias", "model.model.1.model.2.running_var",
            "model.model.1.model.3.model.3.model.3.model.3.model.3.model.1.weight"} <= unet
    assert "model.model.0.bias" not in unet  # batch norm: no bias on the outermost down conv there
    resnet = set(reference_state(ResnetGenerator(ngf=2, n_blocks=6, norm="instance")))
    assert len(resnet) == 36 and {"model.10.conv_block.5.bias", "model.16.weight", "model.23.bias"} <= resnet


def test_missing_biases_are_zero_filled_and_stale_instance_norm_buffers_dropped():
    net = ResnetGenerator(ngf=2, n_blocks=1, norm="instance")
    theirs = reference_state(net)
    theirs |= {"model.2.running_mean": torch.zeros(2), "model.2.running_var": torch.ones(2),
               "model.2.num_batches_tracked": torch.tensor(3)}  # an InstanceNorm of old torch
    imported = to_ours(theirs, ResnetGenerator(ngf=2, n_blocks=1, norm="instance"), net.junyanz_table())
    assert sorted(imported.dropped) == ["model.2.num_batches_tracked", "model.2.running_mean", "model.2.running_var"]
    unet = UNet(ngf=2, num_downs=7, norm="batch")
    imported = to_ours(reference_state(unet), UNet(ngf=2, num_downs=7, norm="batch"), unet.junyanz_table())
    assert imported.zero_filled == ["model.down.0.bias", "model.inner.inner.inner.inner.inner.inner.down.0.bias"]


def test_export_refuses_a_nonzero_bias_the_reference_lacks():
    net = randomised(PixelGAN(ndf=2, norm="batch"))
    with torch.no_grad():
        net.net[5].bias.fill_(0.1)
    with pytest.raises(Mismatch) as info:
        to_theirs(net.state_dict(), net.junyanz_table())
    assert info.value.kind == "nonzero_bias" and info.value.key == "net.5.bias"


def test_unknown_keys_and_shapes_are_mismatches():
    net = PatchGAN(ndf=2, norm="batch")
    theirs = reference_state(net)
    with pytest.raises(Mismatch) as info:
        to_ours(theirs | {"model.12.weight": torch.zeros(1)}, PatchGAN(ndf=2, norm="batch"), net.junyanz_table())
    assert (info.value.kind, info.value.key) == ("unknown", "model.12.weight")
    with pytest.raises(Mismatch) as info:
        to_ours(theirs, PatchGAN(ndf=4, norm="batch"), PatchGAN(ndf=4, norm="batch").junyanz_table())
    assert info.value.kind == "shape" and info.value.expected == (4, 6, 4, 4) and info.value.found == (2, 6, 4, 4)


def test_dropout_layouts():
    def levels(net):  # depth of each U-Net level holding dropout
        found, block, depth = [], net.model, 0
        while not isinstance(block, nn.Identity):
            if any(isinstance(m, nn.Dropout) for m in block.up):
                found.append(depth)
            block, depth = block.inner, depth + 1
        return found

    assert levels(UNet(ngf=1, num_downs=7)) == [4, 5, 6]
    assert levels(UNet(ngf=1, num_downs=7, dropout_layout="reference")) == [4, 5]  # 2 dropout layers there
    assert levels(UNet(ngf=1, num_downs=8, dropout_layout="reference")) == [4, 5, 6]
    assert levels(UNet(ngf=1, num_downs=8)) == [5, 6, 7]


# The paper's test mode ------------------------------------------------------------------------------------------
def test_paper_mode_uses_each_images_statistics_and_changes_no_buffer():
    net = randomised(UNet(ngf=2, num_downs=5, norm="batch")).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    torch.manual_seed(0)
    batch = paper_forward(net, x)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # running stats, counters
    assert not net.training and all(not m.training for m in net.modules())
    # each image alone, in the reference's way (train mode on a copy) draws the same dropout: identical outputs
    reference = copy.deepcopy(net).train()
    torch.manual_seed(0)
    alone = torch.cat([reference(x[i:i + 1]) for i in range(3)])
    assert torch.equal(batch, alone)
    torch.manual_seed(0)
    assert torch.equal(paper_forward(net, x), batch)  # seeded: reproducible
    with torch.no_grad():
        assert not torch.allclose(net(x), batch, atol=1e-3)  # eval mode differs


def test_the_pix2pix_recipe_tests_the_papers_way():
    resolved = resolve(load_recipe(ROOT / "recipes" / "pix2pix.yaml"), build_registry())
    assert resolved.model.as_dict()["test_mode"] == "paper"


def test_cyclegan_warns_when_the_identity_weight_loses_its_ratio():
    registry = build_registry()
    recipe = ROOT / "recipes" / "cyclegan.yaml"
    from ganzoo.build import build_model

    small = [f"components.{slot}={{name: resnet, n_blocks: 0, ngf: 2}}" for slot in ("G_AB", "G_BA")]
    model = build_model(resolve(load_recipe(recipe, small + ["losses.cycle.weight=20"]), registry))
    assert any("0.5 x the cycle weight" in w and "identity.weight: 10" in w for w in model.warnings())
    model = build_model(resolve(load_recipe(recipe, small), registry))
    assert model.warnings() == []


# The command line, on tiny reference files ------------------------------------------------------------------------
@pytest.fixture
def tiny_reference(tmp_path) -> Path:
    """A reference checkpoint directory: unet_128 with ngf 4, its D, and train_opt.txt."""
    folder = tmp_path / "reference"
    folder.mkdir()
    torch.save(reference_state(UNet(ngf=4, num_downs=7, norm="batch", dropout_layout="reference")),
               folder / "latest_net_G.pth")
    torch.save(reference_state(PatchGAN(in_channels=6, ndf=4, norm="batch")), folder / "latest_net_D.pth")
    (folder / "train_opt.txt").write_text(
        "----------------- Options ---------------\n"
        "                    model: pix2pix                       \t[default: cycle_gan]\n"
        "                     netG: unet_128                      \t[default: unet_256]\n"
        "                      ngf: 4                             \t[default: 64]\n"
        "                      ndf: 4                             \t[default: 64]\n"
        "                crop_size: 128                           \t[default: 256]\n"
        "                direction: BtoA                          \n"
        "----------------- End -------------------\n")
    return folder


def test_import_a_directory_then_export_round_trips(tiny_reference, tmp_path):
    out = tmp_path / "p2p.pt"
    result = invoke("import", tiny_reference, "--out", out)
    assert result.exit_code == 0, result.output
    state = checkpoint.load(out)
    recipe = state["recipe"]
    generator = recipe["components"]["generator"]
    assert {k: generator[k] for k in ("name", "ngf", "dropout_layout")} == {
        "name": "unet_128", "ngf": 4, "dropout_layout": "reference"}
    assert recipe["model"] == {"name": "pix2pix", "direction": "BtoA", "test_mode": "paper"}
    assert recipe["train"]["precision"] == "fp32"
    assert state["sample_shapes"] == {"B": [3, 128, 128], "A": [3, 128, 128]}
    assert invoke("import", tiny_reference, "--out", out).exit_code == 1  # never over an existing file
    back = tmp_path / "back"
    result = invoke("export", out, "--format", "junyanz", "--out", back)
    assert result.exit_code == 0, result.output
    for name in ("latest_net_G.pth", "latest_net_D.pth"):
        original = torch.load(tiny_reference / name, weights_only=True)
        exported = torch.load(back / name, weights_only=True)
        assert exported.keys() == original.keys() and all(torch.equal(exported[k], original[k]) for k in original)
    assert "netG: unet_128" in (back / "train_opt.txt").read_text()
    assert invoke("export", out, "--format", "junyanz", "--out", back).exit_code == 1  # files exist: refused


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    return errors[0]


def test_bad_inputs_give_one_error_line(tiny_reference, tmp_path):
    g, d = tiny_reference / "latest_net_G.pth", tiny_reference / "latest_net_D.pth"
    line = one_error_line(invoke("import", g, "--netG", "unet_128", "--ngf", "8", "--out", tmp_path / "a.pt"))
    assert "model.model.0.weight has shape (4, 3, 4, 4)" in line and "(8, 3, 4, 4)" in line and "--ngf 4?" in line
    line = one_error_line(invoke("import", g, "--netG", "unet_256", "--ngf", "4", "--out", tmp_path / "a.pt"))
    assert "--netG unet_128?" in line
    line = one_error_line(invoke("import", g, "--netG", "unet_128", "--ngf", "4", "--norm", "instance",
                                 "--out", tmp_path / "a.pt"))
    assert "--norm batch?" in line
    given_as_g = tmp_path / "latest_net_G.pth"
    given_as_g.write_bytes(d.read_bytes())
    line = one_error_line(invoke("import", given_as_g, "--netG", "unet_128", "--out", tmp_path / "a.pt"))
    assert "a discriminator file" in line
    truncated = tmp_path / "trunc_net_G.pth"
    truncated.write_bytes(g.read_bytes()[: 4000])
    assert "truncated" in one_error_line(invoke("import", truncated, "--out", tmp_path / "a.pt"))
    text = tmp_path / "notes_net_G.pth"
    text.write_text("not a checkpoint")
    assert "cannot read" in one_error_line(invoke("import", text, "--out", tmp_path / "a.pt"))
    assert not (tmp_path / "a.pt").exists()


def test_fine_tuning_starts_from_imported_weights_and_resume_refuses_them(tiny_reference, tmp_path):
    ckpt = tmp_path / "p2p.pt"
    assert invoke("import", tiny_reference, "--out", ckpt).exit_code == 0
    imported = checkpoint.load(ckpt)["model"]
    run = tmp_path / "run"
    sets = ["components.generator={name: unet_128, ngf: 4, dropout_layout: reference}",
            "components.discriminator.ndf=4", "data.image_size=128", "data.load_size=128", "data.crop_size=128",
            "train.steps=1", "train.workers=0", "train.precision=fp32", "train.eval_at_end=false",
            "optim.G.lr=0", "optim.D.lr=0", f"train.init_from={ckpt}"]
    result = invoke("run", ROOT / "recipes" / "pix2pix.yaml", *[a for s in sets for a in ("--set", s)],
                    "--out", run, "--no-progress")
    assert result.exit_code == 0, result.output
    trained = checkpoint.load(run / "checkpoints" / "last.pt")["model"]
    weights = [k for k in imported if k.endswith("weight")]
    assert weights and all(torch.equal(trained[k], imported[k]) for k in weights)  # lr 0: still the import's
    result = invoke("run", ROOT / "recipes" / "pix2pix.yaml", "--resume", ckpt, "--out", tmp_path / "r")
    assert "was imported" in one_error_line(result) and f"--set train.init_from={ckpt}" in result.output


# The reference's own files (../shared/fixtures) --------------------------------------------------------------------
def fixture_import(tmp_path: Path, name: str, *flags: str) -> Path:
    weights = next(FIXTURES.glob(f"{name}_latest_net_G*.pth"))
    out = tmp_path / f"{name}.pt"
    result = invoke("import", weights, "--train-opt", FIXTURES / f"{name}_train_opt.txt", *flags, "--out", out)
    assert result.exit_code == 0, result.output
    return out


@needs_fixtures
@pytest.mark.parametrize("name,slot,flags", [(P2P, "generator", ("--eval",)), (CG, "G_AB", ())])
def test_fixtures_reproduce_the_reference_outputs_exactly(tmp_path, name, slot, flags):
    from ganzoo.trained import load_trained

    trained = load_trained(fixture_import(tmp_path, name, *flags), build_registry(), torch.device("cpu"))
    io = torch.load(FIXTURES / f"{name}.io.pt", weights_only=True)
    with torch.no_grad():
        for case in ("random", "image"):
            output = trained.model.translate(io[f"input_{case}"], "AtoB")
            assert (output - io[f"output_{case}"]).abs().max().item() == 0.0
    # import -> export -> the reference's file again, tensor for tensor
    back = tmp_path / "back"
    assert invoke("export", trained.path, "--format", "junyanz", "--out", back).exit_code == 0
    original = torch.load(next(FIXTURES.glob(f"{name}_latest_net_G*.pth")), weights_only=True)
    letter = "G" if name == P2P else "G_A"
    exported = torch.load(back / f"latest_net_{letter}.pth", weights_only=True)
    assert exported.keys() == original.keys() and all(torch.equal(exported[k], original[k]) for k in original)


@needs_fixtures
def test_fixture_translated_from_the_command_line_is_bit_exact(tmp_path):
    ckpt = fixture_import(tmp_path, P2P, "--eval")
    io = torch.load(FIXTURES / f"{P2P}.io.pt", weights_only=True)
    inputs = tmp_path / "in"
    inputs.mkdir()
    from_tensor(io["input_image"][0]).save(inputs / "0000.png")  # an 8-bit image: the same tensor read back
    result = invoke("translate", ckpt, inputs, "--out", tmp_path / "out", "--no-progress")
    assert result.exit_code == 0, result.output
    from PIL import Image

    expected = from_tensor(io["output_image"][0])
    assert Image.open(tmp_path / "out" / "0000.png").tobytes() == expected.tobytes()


@needs_fixtures
def test_fixture_in_the_papers_test_mode(tmp_path):
    from ganzoo.trained import load_trained

    trained = load_trained(fixture_import(tmp_path, P2P), build_registry(), torch.device("cpu"))
    assert trained.resolved.model.as_dict()["test_mode"] == "paper"
    io = torch.load(FIXTURES / f"{P2P}.io.pt", weights_only=True)
    x = torch.cat([io["input_image"], io["input_random"]])
    generator = trained.model.generator
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    torch.manual_seed(0)
    with torch.no_grad():
        paper = trained.model.translate(x, "AtoB")
    assert all(torch.equal(before[k], v) for k, v in generator.state_dict().items())
    reference = copy.deepcopy(generator).train()  # the reference's test run: train mode, one image at a time
    torch.manual_seed(0)
    with torch.no_grad():
        alone = torch.cat([reference(x[:1]), reference(x[1:])])
    assert torch.equal(paper, alone)
    difference = (paper[:1] - io["output_image"]).abs()
    assert difference.mean() > 0.01  # the paper's mode is not eval mode (issue: mean 0.054 on this image)


def test_init_from_names_the_first_key_that_does_not_fit(tmp_path):
    """train.init_from (ganzoo.warmstart): missing, reshaped and unknown keys are one CheckpointError each."""
    from ganzoo.errors import CheckpointError
    from ganzoo.warmstart import init_from

    def saved(model_state: dict) -> Path:
        path = tmp_path / f"c{len(list(tmp_path.iterdir()))}.pt"
        checkpoint.save({"format": checkpoint.FORMAT_VERSION, "model": model_state, "step": 3}, path)
        return path

    model = nn.Sequential(nn.Linear(3, 5))
    ours = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"no weights for 0\.bias \(5\)"):
        init_from(model, saved({"0.weight": ours["0.weight"]}))
    with pytest.raises(CheckpointError, match=r"0\.weight has shape \(4, 3\), this recipe's \(5, 3\)"):
        init_from(model, saved({**ours, "0.weight": torch.zeros(4, 3)}))
    with pytest.raises(CheckpointError, match=r"1\.bias \(2\) is not in this recipe's model \(and 1 more\)"):
        init_from(model, saved({**ours, "1.bias": torch.zeros(2), "1.weight": torch.zeros(2, 5)}))
    new = {k: torch.full_like(v, 0.5) for k, v in ours.items()}
    assert "(step 3)" in init_from(model, saved(new))
    assert all(torch.equal(model.state_dict()[k], new[k]) for k in new)
