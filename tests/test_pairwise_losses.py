"""Pairwise (relativistic average) adversarial losses: the maths, the models that drive them, and the resolve-time
refusal for a model that cannot."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import ROOT, TOY_RECIPE
from ganzoo.errors import RecipeError
from ganzoo.losses import real_scores
from ganzoo.recipe import parse_recipe
from ganzoo.resolve import resolve
from ganzoo.testing import check_model
from ganzoo_losses.adversarial import Hinge, LSGAN, RaHinge, RaLSGAN, RaVanilla, Vanilla


@pytest.mark.parametrize("cls,pos,neg", [
    (RaVanilla, lambda x: F.softplus(-x), lambda x: F.softplus(x)),
    (RaLSGAN, lambda x: (x - 1) ** 2, lambda x: (x + 1) ** 2),
    (RaHinge, lambda x: F.relu(1 - x), lambda x: F.relu(1 + x)),
])
def test_relativistic_average_terms_match_the_paper(cls, pos, neg):
    torch.manual_seed(0)
    real, fake = torch.randn(6, 1, 3, 3), torch.randn(6, 1, 3, 3)
    loss = cls()
    d_real, d_fake = loss.discriminator_terms(real, fake)
    assert torch.allclose(d_real, pos(real - fake.mean()).mean())
    assert torch.allclose(d_fake, neg(fake - real.mean()).mean())
    g = loss.generator_term(fake, real)
    assert torch.allclose(g, 0.5 * (pos(fake - real.mean()).mean() + neg(real - fake.mean()).mean()))
    with pytest.raises(ValueError, match="needs real scores"):
        loss.generator_term(fake)
    with pytest.raises(NotImplementedError, match="pairwise"):
        loss.real(real)


def test_the_generator_learns_from_real_scores_too():
    """RaGAN's second G term, neg(D(real) - mean D(fake)), has a gradient through mean D(fake)."""
    fake = torch.zeros(4, requires_grad=True)
    real = torch.full((4,), 3.0)
    RaVanilla().generator_term(fake, real).backward()
    one_sided = fake.grad.clone()
    fake.grad = None
    (0.5 * F.softplus(-(fake - real.mean())).mean()).backward()
    assert not torch.allclose(one_sided, fake.grad)


@pytest.mark.parametrize("cls", [Vanilla, LSGAN, Hinge])
def test_one_sided_losses_keep_their_terms_in_the_pairwise_form(cls):
    real, fake = torch.randn(5), torch.randn(5)
    loss = cls()
    assert not loss.pairwise and real_scores(loss, lambda: 1 / 0) is None  # no extra forward pass
    d_real, d_fake = loss.discriminator_terms(real, fake)
    assert torch.equal(d_real, loss.real(real)) and torch.equal(d_fake, loss.fake(fake))
    assert torch.equal(loss.generator_term(fake, real), loss.generator(fake))


def test_a_model_without_pairwise_support_refuses_a_relativistic_loss(toy_registry):
    recipe = parse_recipe(TOY_RECIPE.replace("adversarial: {name: vanilla}", "adversarial: {name: ra_lsgan}"),
                          "toy.yaml")
    with pytest.raises(RecipeError) as err:
        resolve(recipe, toy_registry)
    assert str(err.value).startswith("toy.yaml:6 (losses.adversarial.name): 'ra_lsgan' is a pairwise loss")
    assert "loss_capabilities = ('pairwise',)" in err.value.hint


TINY_DCGAN = ["data.image_size=16", "data.size=8", "train.batch_size=2", "train.sample_count=2",
              "components.generator={name: dcgan, z_dim: 8, hidden_dim: 4, image_size: 16}",
              "components.critic.hidden_dim=4", "components.critic.image_size=16"]


@pytest.mark.parametrize("recipe,overrides", [
    ("dcgan", [*TINY_DCGAN, "losses.adversarial.name=ra_vanilla"]),
    ("pix2pix", ["components.generator={name: unet, num_downs: 4, ngf: 4}", "components.discriminator.ndf=4",
                 "components.discriminator.n_layers=1", "data.image_size=16", "data.load_size=18",
                 "data.crop_size=16", "train.sample_count=2", "losses.adversarial.name=ra_hinge"]),
    ("cyclegan", ["data.image_size=16", "data.size=4", "train.sample_count=2", "losses.adversarial.name=ra_lsgan",
                  *(f"components.{g}.{k}" for g in ("G_AB", "G_BA") for k in ("ngf=4", "n_blocks=1")),
                  *(f"components.{d}.{k}" for d in ("D_A", "D_B") for k in ("ndf=4", "n_layers=1"))]),
])
def test_relativistic_losses_train_in_the_builtin_models(recipe, overrides, tmp_path):
    """Two steps, sampling, checkpoint round trip and an exact resume, each with a relativistic loss."""
    assert check_model(ROOT / "recipes" / f"{recipe}.yaml", *overrides, workdir=tmp_path)["steps"] == 2
