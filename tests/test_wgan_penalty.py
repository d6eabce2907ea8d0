"""The gradient penalty (plugins/ganzoo_losses) as WGAN-GP uses it: hand-computed values, fp32, per-sample."""

import pytest
import torch

from ganzoo_losses.penalties import R1, GradientPenalty
from ganzoo_wgan.networks import Critic


def test_gradient_penalty_on_a_linear_critic_matches_hand_computation():
    # D(x) = <w, x> + b has gradient w everywhere: the penalty is (||w|| - 1)^2 whatever the interpolates.
    w = torch.tensor([[[0.5, -1.0], [2.0, 0.0]]])  # (C, H, W) = (1, 2, 2), ||w|| = sqrt(5.25)
    critic = lambda x: (x * w).sum(dim=(1, 2, 3)) + 3.0  # noqa: E731
    real, fake = torch.randn(6, 1, 2, 2), torch.randn(6, 1, 2, 2)
    expected = (5.25 ** 0.5 - 1.0) ** 2
    assert GradientPenalty()(critic, real, fake).item() == pytest.approx(expected, rel=1e-6)


def test_gradient_penalty_uses_one_alpha_per_sample():
    # D(x) = ||x||^2 / 2 has gradient x: the penalty is mean_i (||x_hat_i|| - 1)^2 with
    # x_hat_i = alpha_i real_i + (1 - alpha_i) fake_i, alpha drawn as (N, 1, 1, 1) from torch's RNG.
    critic = lambda x: 0.5 * x.square().sum(dim=(1, 2, 3))  # noqa: E731
    real, fake = torch.randn(5, 2, 3, 3), torch.randn(5, 2, 3, 3)
    torch.manual_seed(7)
    alpha = torch.rand(5, 1, 1, 1)
    x_hat = alpha * real + (1 - alpha) * fake
    expected = (x_hat.flatten(1).norm(dim=1) - 1).square().mean()
    torch.manual_seed(7)
    assert GradientPenalty()(critic, real, fake).item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_penalty_is_fp32_under_bf16_autocast_and_differentiable():
    critic = Critic(im_chan=1, hidden_dim=2, image_size=8, norm="layer")
    real, fake = torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        gp = GradientPenalty()(critic, real.bfloat16(), fake.bfloat16())
    assert gp.dtype == torch.float32
    gp.backward()
    # (the last bias does not change input gradients, so it gets none)
    weights = [p for name, p in critic.named_parameters() if name.endswith("weight")]
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in weights)


@pytest.mark.parametrize("norm,independent", [("layer", True), ("none", True), ("batch", False)])
def test_per_sample_penalty_independence(norm, independent):
    # The gradient at sample 0's interpolate must not depend on the other samples of the batch.
    torch.manual_seed(0)
    critic = Critic(im_chan=1, hidden_dim=4, image_size=16, norm=norm).train()
    x = torch.randn(4, 1, 16, 16)
    y = x.clone()
    y[1:] = torch.randn(3, 1, 16, 16) * 3 + 1

    def grad0(batch):
        batch = batch.clone().requires_grad_(True)
        return torch.autograd.grad(critic(batch).sum(), batch)[0][0]

    same = torch.allclose(grad0(x), grad0(y), atol=1e-6)
    assert same is independent


def _conv_dtypes(critic):
    """Records the dtype of every convolution's output while the critic runs."""
    seen = []
    for m in critic.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(lambda mod, args, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize("penalty_cls", [GradientPenalty, R1])
def test_penalty_precision_autocast_runs_the_critic_in_bf16_and_returns_fp32(penalty_cls):
    """precision: autocast (opt-in) runs the critic and the double backward in bf16, the norm in fp32; the value
    stays within bf16 rounding of the fp32 penalty. The default keeps the critic in fp32 under autocast."""
    torch.manual_seed(0)
    critic = Critic(im_chan=1, hidden_dim=4, image_size=16, norm="layer")
    real, fake = torch.randn(8, 1, 16, 16), torch.randn(8, 1, 16, 16)
    values = {}
    for precision in ("fp32", "autocast"):
        seen = _conv_dtypes(critic)
        torch.manual_seed(1)  # the same interpolation coefficients
        with torch.autocast("cpu", dtype=torch.bfloat16):
            gp = penalty_cls(precision=precision)(critic, real, fake)
        assert gp.dtype == torch.float32
        assert set(seen) == {torch.bfloat16 if precision == "autocast" else torch.float32}
        critic.zero_grad()
        gp.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in critic.parameters() if p.grad is not None)
        values[precision] = gp.item()
        for m in critic.modules():
            m._forward_hooks.clear()
    assert values["autocast"] == pytest.approx(values["fp32"], rel=3e-2)
    assert values["autocast"] != values["fp32"]  # it did run in bf16


def test_penalty_precision_autocast_without_autocast_is_exactly_fp32():
    critic = Critic(im_chan=1, hidden_dim=4, image_size=16, norm="layer")
    real, fake = torch.randn(4, 1, 16, 16), torch.randn(4, 1, 16, 16)
    torch.manual_seed(3)
    a = GradientPenalty(precision="autocast")(critic, real, fake)
    torch.manual_seed(3)
    b = GradientPenalty()(critic, real, fake)
    assert torch.equal(a, b)


def test_penalty_precision_is_checked():
    with pytest.raises(ValueError, match="precision must be one of fp32, autocast"):
        GradientPenalty(precision="bf16")
