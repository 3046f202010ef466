"""The DMD-family generator loss and the fake model's loss (`training/losses.py`) with an analytic teacher whose
output is a closed-form function of (x, sigma, conditioning): every option combination is replayed step by step
(the documented draw order, the teacher's x0, the directions, the normalisers, the surrogate) and compared in
value, gradient and diagnostics. Cheap: no network, float64."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch

from ddmd_bench.training import functional as F
from ddmd_bench.training.bundle import TeacherBundle
from ddmd_bench.training.losses import DMDLoss, DMDLossConfig, fake_loss
from ddmd_bench.training.parameterization import PARAMETERIZATIONS
from ddmd_bench.training.schedules import RENOISING_SCHEDULES

SHAPE = (2, 2, 2)


class Affine(torch.nn.Module):
    """Output a * x * (1 + sigma) + b * cond: a different `a` makes a fake model that disagrees with the teacher."""

    def __init__(self, a: float, b: float = 0.5) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(a, dtype=torch.float64), requires_grad=False)
        self.b = b


def _call(net, x, sigma, cond):
    return net.a * x * (1 + sigma.reshape(-1, 1, 1, 1)) + net.b * cond[0].to(x.dtype).reshape(-1, 1, 1, 1)


def _teacher(shift: float | None = None, name: str = "affine") -> TeacherBundle:
    scheduler = None if shift is None else (lambda steps: SimpleNamespace(config={"shift": shift}))
    return TeacherBundle(name, Affine(0.3), lambda prompts: None, _call, PARAMETERIZATIONS.get("flow")(), SHAPE,
                         scheduler)


COND = (torch.tensor([[1.0], [-0.5], [2.0], [0.25]], dtype=torch.float64),)
UNCOND = (torch.zeros(4, 1, dtype=torch.float64),)
SIGMA = torch.tensor([1.0, 0.75, 0.5, 0.25])
FAKE = Affine(0.45, 0.2)


def _x(dtype=torch.float64):
    return torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(3)).to(dtype).requires_grad_(True)


def _reference(c: DMDLossConfig, teacher, x, cond=COND, uncond=UNCOND, fake=FAKE, seed=11, rows=None, shift=1.0):
    """The loss written out from its documentation."""
    gen = torch.Generator().manual_seed(seed)
    n = SIGMA.shape[0]
    levels = RENOISING_SCHEDULES.get(c.schedule).sample(SIGMA, gen, shift, c.clip)
    noise_ca = torch.randn((n, *SHAPE), generator=gen)
    noise_dm = noise_ca if levels.shared else torch.randn((n, *SHAPE), generator=gen)
    rows = rows or slice(0, n)
    s_ca, s_dm = levels.sigma_ca[rows].to(x.dtype), levels.sigma_dm[rows].to(x.dtype)
    e_ca, e_dm = noise_ca[rows].to(x.dtype), noise_dm[rows].to(x.dtype)
    p = teacher.parameterization
    xd = x.detach()
    x_ca, x_dm = p.add_noise(xd, e_ca, s_ca), p.add_noise(xd, e_dm, s_dm)

    def x0(net, xt, s, cc):
        return p.to_x0(_call(net, xt, s, cc), xt, s)

    pred = {"cond_ca": x0(teacher.net, x_ca, s_ca, cond), "uncond_ca": x0(teacher.net, x_ca, s_ca, uncond),
            "cond_dm": x0(teacher.net, x_dm, s_dm, cond), "fake_dm": x0(fake, x_dm, s_dm, cond)}
    zeros = torch.zeros_like(xd)
    ca = F.ca_direction(pred["cond_ca"], pred["uncond_ca"], c.guidance) \
        if c.terms != "dm" and c.guidance != 1.0 else zeros
    dm = F.dm_direction(pred["cond_dm"], pred["fake_dm"]) if c.terms != "ca" else zeros
    if c.normalization == "per_branch":
        ca, dm = F.normalise(ca, xd, pred["cond_ca"], c.eps), F.normalise(dm, xd, pred["cond_dm"], c.eps)
    elif c.normalization == "shared_cfg":
        ref = F.cfg_x0(pred["cond_ca"], pred["uncond_ca"], c.guidance)
        ca, dm = F.normalise(ca, xd, ref, c.eps), F.normalise(dm, xd, ref, c.eps)
    delta = {"both": ca + dm, "ca": ca, "dm": dm}[c.terms]
    used = {"cond_ca": True, "uncond_ca": c.needs_uncond, "cond_dm": c.needs_fake, "fake_dm": c.needs_fake}
    nonfinite = sum(int((~torch.isfinite(v)).sum()) for k, v in pred.items() if used[k])
    stats = {"nonfinite": float(nonfinite), "ca_mag": ca.abs().mean().item(), "dm_mag": dm.abs().mean().item(),
             "cos_ca_dm": F.cosine(ca, dm).mean().item(), "sigma_ca": s_ca.mean().item(),
             "sigma_dm": s_dm.mean().item()}
    return F.surrogate_loss(x, delta), stats


def _rows(cond, rows):
    return cond if rows is None else tuple(t[rows] for t in cond)


def _check(config: DMDLossConfig, teacher=None, dtype=torch.float64, rows=None, shift=1.0):
    teacher = teacher or _teacher()
    x1, x2 = _x(dtype), _x(dtype)
    if rows is not None:
        x1, x2 = x1.detach()[rows].requires_grad_(True), x2.detach()[rows].requires_grad_(True)
    cond, uncond = _rows(COND, rows), _rows(UNCOND, rows)
    loss, stats = DMDLoss(config, teacher)(x1, SIGMA, cond, uncond, FAKE, torch.Generator().manual_seed(11), rows)
    ref, ref_stats = _reference(config, teacher, x2, cond=cond, uncond=uncond, rows=rows, shift=shift)
    loss.backward()
    ref.backward()
    assert loss.dtype == dtype
    torch.testing.assert_close(loss, ref, rtol=1e-12, atol=0.0)
    torch.testing.assert_close(x1.grad, x2.grad, rtol=1e-12, atol=1e-15)
    assert stats.keys() == ref_stats.keys()
    for k, v in ref_stats.items():
        assert stats[k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
    return loss, stats


@pytest.mark.parametrize("normalization", ["per_branch", "shared_cfg", "none"])
@pytest.mark.parametrize("terms", ["both", "ca", "dm"])
@pytest.mark.parametrize("schedule", ["coupled", "decoupled-hybrid"])
def test_loss_value_gradient_and_diagnostics_match_the_written_out_loss(schedule, terms, normalization):
    loss, stats = _check(DMDLossConfig(schedule=schedule, terms=terms, normalization=normalization, guidance=2.5))
    assert float(loss) != 0.0
    if terms == "ca":
        assert stats["dm_mag"] == 0.0
    if terms == "dm":
        assert stats["ca_mag"] == 0.0


@pytest.mark.parametrize("schedule", RENOISING_SCHEDULES.names())
def test_every_schedule_replays(schedule):
    _check(DMDLossConfig(schedule=schedule, guidance=2.0, eps=0.01))


def test_guidance_one_has_no_ca_term_and_no_unconditional_pass():
    calls = []

    def counting(net, x, sigma, cond):
        calls.append(len(x))
        return _call(net, x, sigma, cond)

    teacher = TeacherBundle("t", Affine(0.3), lambda p: None, counting, PARAMETERIZATIONS.get("flow")(), SHAPE)
    c = DMDLossConfig(schedule="decoupled-hybrid", guidance=1.0)
    assert not c.needs_uncond
    _, stats = DMDLoss(c, teacher)(_x(), SIGMA, COND, UNCOND, FAKE, torch.Generator().manual_seed(1))
    assert stats["ca_mag"] == 0.0 and stats["dm_mag"] > 0
    assert calls == [8, 4]  # one teacher pass over cond_ca and cond_dm, one fake pass


def test_one_batched_teacher_pass_per_call():
    calls = []

    def counting(net, x, sigma, cond):
        calls.append((net.a.item(), len(x)))
        return _call(net, x, sigma, cond)

    teacher = TeacherBundle("t", Affine(0.3), lambda p: None, counting, PARAMETERIZATIONS.get("flow")(), SHAPE)
    DMDLoss(DMDLossConfig(schedule="coupled", guidance=2.0), teacher)(
        _x(), SIGMA, COND, UNCOND, FAKE, torch.Generator().manual_seed(1))
    assert calls == [(pytest.approx(0.3), 8), (pytest.approx(0.45), 4)]  # shared levels: no separate cond_dm
    calls.clear()
    DMDLoss(DMDLossConfig(schedule="decoupled-hybrid", terms="ca", guidance=2.0), teacher)(
        _x(), SIGMA, COND, UNCOND, None, torch.Generator().manual_seed(1))
    assert calls == [(pytest.approx(0.3), 8)]  # CA only: no fake model, no DM pass


def test_rows_slice_the_global_draws():
    _check(DMDLossConfig(schedule="decoupled-hybrid", guidance=2.0), rows=slice(1, 3))
    _check(DMDLossConfig(schedule="coupled", normalization="shared_cfg", guidance=2.0), rows=slice(2, 4))


def test_float32_students_get_float32_losses():
    _check(DMDLossConfig(schedule="decoupled-hybrid", guidance=2.0), dtype=torch.float32)


def test_non_finite_teacher_predictions_are_counted():
    cond = (COND[0].clone(),)
    cond[0][1] = float("nan")
    c = DMDLossConfig(schedule="decoupled-hybrid", normalization="none", guidance=2.0)
    _, stats = DMDLoss(c, _teacher())(_x(), SIGMA, cond, UNCOND, FAKE, torch.Generator().manual_seed(11))
    # row 1 of cond_ca, cond_dm and fake_dm: 3 x 8 values
    assert stats["nonfinite"] == 24.0
    c = DMDLossConfig(schedule="coupled", normalization="none", guidance=2.0)
    _, stats = DMDLoss(c, _teacher())(_x(), SIGMA, cond, UNCOND, FAKE, torch.Generator().manual_seed(11))
    assert stats["nonfinite"] == 24.0  # shared draws: cond_dm is cond_ca, counted as its own entry
    _, stats = DMDLoss(c, _teacher())(_x(), SIGMA, COND, UNCOND, FAKE, torch.Generator().manual_seed(11))
    assert stats["nonfinite"] == 0.0


def test_shift_comes_from_the_teacher_unless_set(caplog):
    teacher = _teacher(shift=3.0, name="sd3ish")
    assert DMDLoss(DMDLossConfig(), teacher).shift == 3.0
    with caplog.at_level(logging.WARNING, logger="ddmd_bench.training.losses"):
        loss = DMDLoss(DMDLossConfig(shift=2), teacher)
    assert loss.shift == 2.0 and isinstance(loss.shift, float)
    assert caplog.messages == ["loss.shift=2 differs from teacher sd3ish's time shift 3: re-noising draws follow 2 "
                               "(bounds still map to the student's levels)"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ddmd_bench.training.losses"):
        DMDLoss(DMDLossConfig(shift=3.0), teacher)
        DMDLoss(DMDLossConfig(), _teacher())
    assert caplog.messages == []
    assert DMDLoss(DMDLossConfig(), _teacher()).shift == 1.0
    _check(DMDLossConfig(schedule="decoupled-hybrid", guidance=2.0), teacher=teacher, shift=3.0)


def test_config_validation_messages():
    with pytest.raises(ValueError) as err:
        DMDLossConfig(shift=0.0).validate()
    assert str(err.value) == "loss.shift must be a positive number (or unset to take the teacher's), got 0.0"
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="loss.shift must be a positive number"):
            DMDLossConfig(shift=bad).validate()
    DMDLossConfig(shift=0.5).validate()
    with pytest.raises(ValueError) as err:
        DMDLossConfig(terms="ca", guidance=1.0).validate()
    assert str(err.value) == "CA-only training with guidance 1 has no loss at all (the CA term is (alpha-1)(...))"
    DMDLossConfig(terms="ca", guidance=1.5).validate()
    DMDLossConfig(terms="dm", guidance=1.0).validate()
    with pytest.raises(ValueError):
        DMDLoss(DMDLossConfig(shift=-2.0), _teacher())


@pytest.mark.parametrize("terms, guidance, normalization, fake, uncond", [
    ("both", 3.0, "per_branch", True, True),
    ("both", 1.0, "per_branch", True, False),
    ("both", 1.0, "shared_cfg", True, True),
    ("ca", 3.0, "none", False, True),
    ("dm", 3.0, "per_branch", True, False),
    ("dm", 3.0, "shared_cfg", True, True),
    ("dm", 1.0, "none", True, False),
])
def test_which_models_a_config_needs(terms, guidance, normalization, fake, uncond):
    c = DMDLossConfig(terms=terms, guidance=guidance, normalization=normalization)
    assert (c.needs_fake, c.needs_uncond) == (fake, uncond)


def _fake_reference(x, cond, seed, clip, rows=None, n_global=None, shift=1.0):
    teacher = _teacher()
    p = teacher.parameterization
    n = n_global or x.shape[0]
    rows = rows or slice(0, n)
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    eps = torch.randn((n, *x.shape[1:]), generator=gen)[rows].to(x.dtype)
    sigma = F.time_shift(clip[0] + (clip[1] - clip[0]) * u, shift)[rows].to(x.dtype)
    pred = _call(FAKE, p.add_noise(x, eps, sigma), sigma, cond)
    return ((pred - p.target(x, eps, sigma)) ** 2).mean().float()


def test_fake_loss_replays_its_draws():
    x = _x().detach()
    got = fake_loss(_teacher(), FAKE, x, COND, torch.Generator().manual_seed(5), (0.1, 0.9))
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, _fake_reference(x, COND, 5, (0.1, 0.9)), rtol=1e-6, atol=0.0)
    shifted = fake_loss(_teacher(), FAKE, x, COND, torch.Generator().manual_seed(5), (0.1, 0.9), shift=3.0)
    torch.testing.assert_close(shifted, _fake_reference(x, COND, 5, (0.1, 0.9), shift=3.0), rtol=1e-6, atol=0.0)
    assert not torch.allclose(shifted, got)


def test_fake_loss_rows_of_a_global_batch():
    x = _x().detach()
    part = fake_loss(_teacher(), FAKE, x[1:3], _rows(COND, slice(1, 3)), torch.Generator().manual_seed(6),
                     (0.02, 0.98), rows=slice(1, 3), n_global=4)
    ref = _fake_reference(x[1:3], _rows(COND, slice(1, 3)), 6, (0.02, 0.98), rows=slice(1, 3), n_global=4)
    torch.testing.assert_close(part, ref, rtol=1e-6, atol=0.0)


def test_fake_loss_does_not_reach_the_student():
    x = _x()
    fake = Affine(0.45, 0.2)
    fake.a.requires_grad_(True)
    fake_loss(_teacher(), fake, x, COND, torch.Generator().manual_seed(5), (0.1, 0.9)).backward()
    assert x.grad is None and fake.a.grad is not None


def test_fake_loss_noise_follows_a_low_precision_student():
    x = _x().detach().to(torch.bfloat16)
    cond = (COND[0].to(torch.bfloat16),)
    got = fake_loss(_teacher(), FAKE, x, cond, torch.Generator().manual_seed(5), (0.1, 0.9))
    teacher, gen = _teacher(), torch.Generator().manual_seed(5)
    p = teacher.parameterization
    u = torch.rand(4, generator=gen, dtype=torch.float64)
    eps = torch.randn((4, *SHAPE), generator=gen).to(torch.bfloat16)
    sigma = F.time_shift(0.1 + 0.8 * u, 1.0).to(torch.bfloat16)
    pred = _call(FAKE, p.add_noise(x, eps, sigma), sigma, cond)
    assert pred.dtype == torch.bfloat16
    assert got == (pred.float() - p.target(x, eps, sigma).float()).square().mean()
