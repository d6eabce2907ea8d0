"""The gradient penalty (plugins/ganzoo_losses) as WGAN-GP uses it: hand-computed values, fp32, per-sample."""

import pytest
import torch

from ganzoo_losses.penalties import GradientPenalty
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
