"""Identity tests of the DMD-family losses (float64) and golden values of the pure math."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from ddmd_bench.registry import UnknownNameError
from ddmd_bench.training import functional as F
from ddmd_bench.training.losses import DMDLoss, DMDLossConfig
from ddmd_bench.training.schedules import RENOISING_SCHEDULES
from tests.factories import tiny_flow_bundle

GUIDANCE = 2.5


@pytest.fixture(scope="module")
def setup():
    teacher = tiny_flow_bundle(torch.float64)
    fake = copy.deepcopy(teacher.net)
    with torch.no_grad():  # a fake model that differs from the teacher, so DM is non-zero
        for p in fake.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel()), dtype=p.dtype))
    prompts = ["a red circle", "a blue square", "a green triangle", "a big object"]
    cond, uncond = teacher.encode(prompts), teacher.encode([""] * 4)
    x = torch.randn(4, 3, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    sigma = torch.tensor([1.0, 0.75, 0.5, 0.25])
    return teacher, fake, cond, uncond, x, sigma


def _ours(setup, **kw):
    teacher, fake, cond, uncond, x, sigma = setup
    x = x.clone().requires_grad_(True)
    loss, stats = DMDLoss(DMDLossConfig(guidance=GUIDANCE, **kw), teacher)(
        x, sigma, cond, uncond, fake, torch.Generator().manual_seed(11))
    loss.backward()
    return loss.detach(), x.grad, stats


def _draws(n, shape, schedule="coupled", clip=(0.02, 0.98), sigma=None):
    """The loss's documented draw order: levels, then CA noise, then DM noise (if not shared)."""
    gen = torch.Generator().manual_seed(11)
    levels = RENOISING_SCHEDULES.get(schedule).sample(sigma, gen, 1.0, clip)
    noise_ca = torch.randn((n, *shape), generator=gen)
    noise_dm = noise_ca if levels.shared else torch.randn((n, *shape), generator=gen)
    return levels, noise_ca.double(), noise_dm.double()


def test_coupled_shared_cfg_equals_dmd2_in_value_and_gradient(setup):
    teacher, fake, cond, uncond, x, sigma = setup
    loss, grad, _ = _ours(setup, schedule="coupled", normalization="shared_cfg")
    levels, noise, _ = _draws(4, (3, 8, 8), sigma=sigma)
    s = levels.sigma_ca.double()
    xr = x.clone().requires_grad_(True)
    x_t = teacher.parameterization.add_noise(xr.detach(), noise, s)
    real = F.cfg_x0(teacher.x0(teacher.net, x_t, s, cond), teacher.x0(teacher.net, x_t, s, uncond), GUIDANCE)
    ref = F.dmd2_loss(xr, real, teacher.x0(fake, x_t, s, cond))
    ref.backward()
    assert loss.item() > 0
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, xr.grad, rtol=1e-10, atol=1e-18)


def test_guidance_one_makes_ca_exactly_zero(setup):
    teacher, fake, cond, uncond, x, sigma = setup
    cfg = dict(schedule="decoupled-hybrid", normalization="per_branch")
    x1 = x.clone().requires_grad_(True)
    loss, stats = DMDLoss(DMDLossConfig(guidance=1.0, **cfg), teacher)(
        x1, sigma, cond, uncond, fake, torch.Generator().manual_seed(11))
    assert stats["ca_mag"] == 0.0 and stats["dm_mag"] > 0
    x2 = x.clone().requires_grad_(True)
    dm_only, _ = DMDLoss(DMDLossConfig(guidance=1.0, terms="dm", **cfg), teacher)(
        x2, sigma, cond, uncond, fake, torch.Generator().manual_seed(11))
    assert loss.item() == dm_only.item()
    assert torch.equal(F.ca_direction(x, x.flip(0), 1.0), torch.zeros_like(x))


@pytest.mark.parametrize("terms", ["ca", "dm"])
def test_single_term_ablations_reduce_to_that_term(setup, terms):
    teacher, fake, cond, uncond, x, sigma = setup
    loss, grad, stats = _ours(setup, schedule="decoupled-hybrid", normalization="per_branch", terms=terms)
    levels, n_ca, n_dm = _draws(4, (3, 8, 8), "decoupled-hybrid", sigma=sigma)
    s_ca, s_dm = levels.sigma_ca.double(), levels.sigma_dm.double()
    p = teacher.parameterization
    if terms == "ca":
        x_t = p.add_noise(x, n_ca, s_ca)
        c, u = teacher.x0(teacher.net, x_t, s_ca, cond), teacher.x0(teacher.net, x_t, s_ca, uncond)
        delta = F.normalise(F.ca_direction(c, u, GUIDANCE), x, c)
    else:
        x_t = p.add_noise(x, n_dm, s_dm)
        c, f = teacher.x0(teacher.net, x_t, s_dm, cond), teacher.x0(fake, x_t, s_dm, cond)
        delta = F.normalise(F.dm_direction(c, f), x, c)
    torch.testing.assert_close(loss, 0.5 * delta.square().mean(), rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, -delta / delta.numel(), rtol=1e-10, atol=1e-18)


def test_decoupled_gradient_is_sum_of_term_gradients(setup):
    _, g_both, stats = _ours(setup, schedule="decoupled-full")
    _, g_ca, _ = _ours(setup, schedule="decoupled-full", terms="ca")
    _, g_dm, _ = _ours(setup, schedule="decoupled-full", terms="dm")
    torch.testing.assert_close(g_both, g_ca + g_dm, rtol=1e-12, atol=1e-18)
    assert stats["ca_mag"] > 0 and stats["dm_mag"] > 0


def test_none_normalisation_leaves_the_directions_raw(setup):
    teacher, fake, cond, uncond, x, sigma = setup
    loss, grad, stats = _ours(setup, schedule="decoupled-hybrid", normalization="none")
    levels, n_ca, n_dm = _draws(4, (3, 8, 8), "decoupled-hybrid", sigma=sigma)
    s_ca, s_dm = levels.sigma_ca.double(), levels.sigma_dm.double()
    p = teacher.parameterization
    x_ca, x_dm = p.add_noise(x, n_ca, s_ca), p.add_noise(x, n_dm, s_dm)
    ca = F.ca_direction(teacher.x0(teacher.net, x_ca, s_ca, cond), teacher.x0(teacher.net, x_ca, s_ca, uncond),
                        GUIDANCE)
    dm = F.dm_direction(teacher.x0(teacher.net, x_dm, s_dm, cond), teacher.x0(fake, x_dm, s_dm, cond))
    delta = ca + dm
    torch.testing.assert_close(loss, 0.5 * delta.square().mean(), rtol=1e-12, atol=0)
    torch.testing.assert_close(grad, -delta / delta.numel(), rtol=1e-10, atol=1e-18)
    assert stats["ca_mag"] == pytest.approx(ca.abs().mean().item(), rel=1e-12)
    # the raw directions are not what per-branch normalisation gives
    _, g_norm, _ = _ours(setup, schedule="decoupled-hybrid", normalization="per_branch")
    assert not torch.allclose(grad, g_norm)


def test_schedules_respect_the_students_step():
    sigma = torch.full((4000,), 0.4)
    gen = torch.Generator().manual_seed(0)
    hybrid = RENOISING_SCHEDULES.get("decoupled-hybrid").sample(sigma, gen, 1.0, (0.0, 1.0))
    assert hybrid.sigma_ca.max() <= 0.4 and hybrid.sigma_dm.max() > 0.9 and not hybrid.shared
    constrained = RENOISING_SCHEDULES.get("decoupled-constrained").sample(sigma, gen, 1.0, (0.0, 1.0))
    for levels in (constrained.sigma_ca, constrained.sigma_dm):  # both branches bounded, and the bound reached
        assert 0.39 < levels.max() <= 0.4
    assert not constrained.shared
    full = RENOISING_SCHEDULES.get("decoupled-full").sample(sigma, gen, 1.0, (0.0, 1.0))
    assert full.sigma_ca.max() > 0.9 and full.sigma_dm.max() > 0.9
    coupled = RENOISING_SCHEDULES.get("coupled").sample(sigma, gen, 1.0, (0.02, 0.98))
    assert coupled.shared and torch.equal(coupled.sigma_ca, coupled.sigma_dm)
    assert coupled.sigma_ca.min() >= 0.02 and coupled.sigma_ca.max() <= 0.98
    shifted = RENOISING_SCHEDULES.get("decoupled-full").sample(sigma, torch.Generator().manual_seed(1), 3.0, (0.0, 1.0))
    assert shifted.sigma_ca.mean() > 0.6  # shift 3 pushes uniform draws (mean 0.5) towards noise


def test_bad_names_get_did_you_mean():
    with pytest.raises(UnknownNameError, match="decoupled-hybrid"):
        DMDLossConfig(schedule="decoupled-hybird").validate()
    with pytest.raises(UnknownNameError, match="per_branch"):
        DMDLossConfig(normalization="per-branch").validate()
    with pytest.raises(ValueError, match="CA-only"):
        DMDLossConfig(terms="ca", guidance=1.0).validate()


# ---- golden values of the pure functions --------------------------------------------------------------------
def test_time_shift_golden():
    s = torch.tensor([0.0, 0.5, 1.0, 0.25], dtype=torch.float64)
    torch.testing.assert_close(F.time_shift(s, 3.0), torch.tensor([0.0, 0.75, 1.0, 0.5], dtype=torch.float64))
    torch.testing.assert_close(F.inverse_time_shift(F.time_shift(s, 3.0), 3.0), s)


def test_dmd2_loss_golden():
    x = torch.tensor([[[[1.0, -1.0]]]], dtype=torch.float64)
    real = torch.tensor([[[[0.0, 0.0]]]], dtype=torch.float64)
    fake = torch.tensor([[[[0.5, 0.5]]]], dtype=torch.float64)
    # g = (fake - real) / mean|x - real| = [0.5, 0.5] / 1 ; loss = 0.5 * mean(g^2) = 0.125
    assert F.dmd2_loss(x, real, fake).item() == pytest.approx(0.125, abs=1e-15)
    zero = torch.zeros_like(x)
    assert F.dmd2_loss(zero, zero, zero).item() == 0.0  # 0/0 -> nan_to_num -> 0, as in DMD2


def test_mean_variance_kl_golden():
    x = torch.tensor([[[[1.0, -1.0, 1.0, -1.0]]]], dtype=torch.float64)  # mean 0, var 1
    assert F.mean_variance_kl(x, 0.0, 1.0).item() == pytest.approx(0.0, abs=1e-15)
    # KL(N(0,1) || N(1, 4)) = 0.5 (ln 4 + (1 + 1) / 4 - 1)
    assert F.mean_variance_kl(x, 1.0, 4.0).item() == pytest.approx(0.5 * (math.log(4) + 0.5 - 1), abs=1e-12)


def test_cosine_and_surrogate_golden():
    a = torch.tensor([[1.0, 0.0]]).view(1, 2, 1, 1)
    b = torch.tensor([[1.0, 1.0]]).view(1, 2, 1, 1)
    assert F.cosine(a, b).item() == pytest.approx(1 / math.sqrt(2))
    assert F.cosine(a, torch.zeros_like(a)).item() == 0.0
    x = torch.zeros(1, 2, 1, 1, requires_grad=True)
    F.surrogate_loss(x, b).backward()
    torch.testing.assert_close(x.grad, -b / 2)
