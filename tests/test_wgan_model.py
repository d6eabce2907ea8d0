"""The wgan_gp and dcgan training schemes: n_critic schedule, logs, sampling, warnings."""

import pytest
import torch

from ganzoo.optim import OptimizerSet
from ganzoo_losses.adversarial import Vanilla, Wasserstein
from ganzoo_losses.penalties import GradientPenalty
from ganzoo_wgan.mlp import MLPDiscriminator, MLPGenerator
from ganzoo_wgan.models import DCGAN, WGANGP
from ganzoo_wgan.networks import Critic, DCGANGenerator


def _optimizers(model):
    opts = {g: torch.optim.Adam(model.group_parameters(g), lr=1e-3) for g in model.optimizer_groups}
    return OptimizerSet(model, opts, torch.device("cpu"))


def _steps(optimizer):
    return {int(s["step"]) for s in optimizer.state.values()}


def _toy_wgan(n_critic=3):
    return WGANGP(MLPGenerator(z_dim=3, hidden=[8]), MLPDiscriminator(hidden=[8]), Wasserstein(),
                  GradientPenalty(weight=0.1), n_critic=n_critic)


def test_n_critic_schedule_each_critic_step_on_its_own_real_batch():
    torch.manual_seed(0)
    model = _toy_wgan(n_critic=3)
    assert model.batches_per_step == 3 and model.z_dim == 3
    opt = _optimizers(model)
    seen = []
    model.critic.register_forward_hook(lambda m, inputs, out: seen.append(inputs[0].detach().clone()))
    batch = {"x": torch.randn(3 * 4, 2)}
    values = model.train_step(batch, opt, 0)
    assert _steps(opt["D"]) == {3} and _steps(opt["G"]) == {1}
    # critic calls per critic step: real and fake in one batch (the MLP critic has no batch norm), then the
    # penalty's interpolates; finally one on the generator's fakes
    assert len(seen) == 3 * 2 + 1
    for i, chunk in enumerate(batch["x"].chunk(3)):
        assert torch.equal(seen[i * 2][: len(chunk)], chunk)
    model.train_step({"x": torch.randn(12, 2)}, opt, 1)
    assert _steps(opt["D"]) == {6} and _steps(opt["G"]) == {2}
    assert set(values) == {"D/loss", "D/wasserstein", "D/gp", "G/loss"}
    assert all(torch.isfinite(v) and not v.requires_grad for v in values.values())


def test_logged_wasserstein_estimate_and_critic_total():
    torch.manual_seed(0)
    model = _toy_wgan(n_critic=1)
    model.critic.forward = lambda x: x[:, 0]  # D(x) = x_0: known scores, gradient norm exactly 1
    opt = _optimizers(model)
    opt.step = lambda group, loss: None  # observe values only
    real = torch.full((4, 2), 2.0)
    torch.manual_seed(1)
    fake = model.generator(torch.randn(4, 3))
    torch.manual_seed(1)
    values = model.train_step({"x": real}, opt, 0)
    assert values["D/wasserstein"].item() == pytest.approx(2.0 - fake[:, 0].mean().item(), rel=1e-5)
    # no penalty, so the critic total is -W
    assert values["D/gp"].item() == pytest.approx(0.0, abs=1e-6)
    assert values["D/loss"].item() == pytest.approx(-values["D/wasserstein"].item(), rel=1e-5)


def test_dcgan_one_discriminator_step_per_generator_step():
    torch.manual_seed(0)
    model = DCGAN(MLPGenerator(z_dim=2, hidden=[8]), MLPDiscriminator(hidden=[8]), Vanilla())
    assert model.batches_per_step == 1
    opt = _optimizers(model)
    values = model.train_step({"x": torch.randn(6, 2)}, opt, 0)
    assert _steps(opt["D"]) == {1} and _steps(opt["G"]) == {1}
    assert set(values) == {"D/real", "D/fake", "G/loss"}


def test_generator_needs_z_dim():
    with pytest.raises(ValueError, match="z_dim"):
        WGANGP(torch.nn.Linear(2, 2), MLPDiscriminator(hidden=[4]), Wasserstein(), GradientPenalty())
    with pytest.raises(ValueError, match="n_critic"):
        _toy_wgan(n_critic=0)


def test_batch_norm_critic_with_penalty_warns():
    gen = DCGANGenerator(z_dim=4, hidden_dim=2, image_size=16)
    for norm, warned in [("batch", True), ("layer", False), ("none", False)]:
        model = WGANGP(gen, Critic(hidden_dim=2, image_size=16, norm=norm), Wasserstein(), GradientPenalty())
        assert bool(model.warnings()) is warned
        assert not warned or "batch norm" in model.warnings()[0]
    model = WGANGP(gen, Critic(hidden_dim=2, image_size=16, norm="batch"), Wasserstein(), GradientPenalty(weight=0))
    assert model.warnings() == []


def test_sample_images_uses_fixed_noise():
    model = WGANGP(DCGANGenerator(z_dim=4, hidden_dim=2, image_size=8), Critic(hidden_dim=2, image_size=8),
                   Wasserstein(), GradientPenalty()).eval()
    real = torch.rand(5, 3, 8, 8) * 2 - 1
    with torch.no_grad():
        a, b = model.sample({"x": real}), model.sample({"x": real})
        assert model.generate(7).shape == (7, 3, 8, 8)
    assert set(a) == {"real", "fake"} and a["fake"].shape == real.shape
    assert torch.equal(a["fake"], b["fake"]) and torch.equal(a["real"], real)


def test_sample_points_draws_a_scatter_of_1000():
    model = _toy_wgan().eval()
    with torch.no_grad():
        out = model.sample({"x": torch.randn(8, 2)})
    assert out["fake"].shape == (1000, 2) and out["real"].shape == (8, 2)


def test_forwards_after_an_update_see_the_new_weights_under_autocast():
    """The engine runs train_step in one autocast region, whose cast cache would otherwise keep serving the
    critic's pre-update bf16 weights to the later critic steps and to the generator step."""
    torch.manual_seed(0)
    model = WGANGP(DCGANGenerator(z_dim=4, hidden_dim=4, im_chan=1, image_size=32),
                   Critic(im_chan=1, hidden_dim=4, image_size=32), Wasserstein(), GradientPenalty(weight=10.0))
    opt = _optimizers(model)
    x = torch.randn(2, 1, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        before = model.critic(x)
        opt.step("D", before.float().mean())
        after = model.critic(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fresh = model.critic(x)
    assert not torch.equal(before, after)
    assert torch.equal(after, fresh)


def test_lazy_penalty_every_k_critic_updates_with_k_times_the_weight():
    """penalty_every (off by default): the penalty on every k-th critic update, counted across steps, weight x k."""
    calls = []

    class Counting(GradientPenalty):
        def forward(self, critic, real, fake):
            calls.append(len(calls))
            return torch.tensor(0.5)

    def run(penalty_every, steps=2):
        torch.manual_seed(0)
        model = WGANGP(MLPGenerator(z_dim=3, hidden=[8]), MLPDiscriminator(hidden=[8]), Wasserstein(),
                       Counting(weight=0.1), n_critic=3, penalty_every=penalty_every)
        opt = _optimizers(model)
        losses = []
        opt.step = lambda group, loss: losses.append((group, float(loss.detach())))
        values = [model.train_step({"x": torch.randn(12, 2)}, opt, s) for s in range(steps)]
        return losses, values

    calls.clear()
    every, values_every = run(1)
    assert len(calls) == 6 and all("D/gp" in v for v in values_every)
    calls.clear()
    lazy, values = run(4)
    assert len(calls) == 2  # critic updates 0 and 4 of 0..5
    critic = [loss for group, loss in lazy if group == "D"]
    plain = [loss for group, loss in every if group == "D"]
    for i, (a, b) in enumerate(zip(critic, plain)):  # same adversarial part; the penalty 0.1 x 0.5 -> 4 x 0.05
        expected = b - 0.05 + (0.2 if i % 4 == 0 else 0.0)
        assert a == pytest.approx(expected, abs=1e-6)
    assert [("D/gp" in v) for v in values] == [True, True] and values[0]["D/gp"] == 0.5
    calls.clear()
    _, values = run(7)
    assert [("D/gp" in v) for v in values] == [True, False] and list(values[1]) == ["D/loss", "D/wasserstein",
                                                                                   "G/loss"]
    with pytest.raises(ValueError, match="penalty_every must be >= 1"):
        WGANGP(MLPGenerator(z_dim=3), MLPDiscriminator(), Wasserstein(), GradientPenalty(), penalty_every=0)
